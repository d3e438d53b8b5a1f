package acpi

import (
	"errors"
	"strings"
	"testing"
)

// s5 is the AML of Name(_S5_, ...) up to the PackageOp.
var s5 = []byte{NameOp, '_', 'S', '5', '_', PackageOp}

func aml(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func TestFindS5(t *testing.T) {
	for _, tc := range []struct {
		name string
		aml  []byte
		want *SleepType
	}{
		{"QEMU Package(4){0,0,0,0}", aml(s5, []byte{0x06, 0x04, ZeroOp, ZeroOp, ZeroOp, ZeroOp}), &SleepType{0, 0}},
		{"OneOp", aml(s5, []byte{0x04, 0x02, OneOp, OneOp}), &SleepType{1, 1}},
		{"ByteConst", aml(s5, []byte{0x06, 0x02, BytePrefix, 5, BytePrefix, 7}), &SleepType{5, 7}},
		{"ZeroOp and ByteConst", aml(s5, []byte{0x05, 0x02, ZeroOp, BytePrefix, 7}), &SleepType{0, 7}},
		{"WordConst and DWordConst", aml(s5, []byte{0x0a, 0x02, WordPrefix, 3, 0, DWordPrefix, 4, 0, 0, 0}), &SleepType{3, 4}},
		{"root char", aml([]byte{0x10, NameOp, RootChar, '_', 'S', '5', '_', PackageOp, 0x04, 0x02, OneOp, ZeroOp}), &SleepType{1, 0}},
		{"one element packs a and b", aml(s5, []byte{0x05, 0x01, WordPrefix, 0x05, 0x07}), &SleepType{5, 7}},
		{"two-byte PkgLength", aml(s5, []byte{0x41, 0x01, 0x04, BytePrefix, 3, BytePrefix, 4,
			DWordPrefix, 0, 0, 0, 0, DWordPrefix, 0, 0, 0, 0}), &SleepType{3, 4}},
		{"a reference is not the definition", aml([]byte{0x70, '_', 'S', '5', '_', PackageOp, 0x04, 0x02, ZeroOp, ZeroOp},
			s5, []byte{0x04, 0x02, OneOp, OneOp}), &SleepType{1, 1}},
		{"a method named _S5_ is not a package", aml([]byte{NameOp, '_', 'S', '5', '_', 0x14, 0x04, 0x02, OneOp, OneOp}), nil},
		{"absent", aml([]byte{NameOp, '_', 'S', '4', '_', PackageOp, 0x04, 0x02, OneOp, OneOp}), nil},
		{"_S5_ at the very end", aml([]byte{NameOp, '_', 'S', '5', '_'}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, b := decodeAt(t, sdt("DSDT", 2, tc.aml), 0x2000)
			got, err := findS5(h, b)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("findS5() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFindS5Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		aml  []byte
		is   error
		want string
	}{
		{"not an integer", aml(s5, []byte{0x04, 0x02, 0x70, ZeroOp}), nil,
			`DSDT at 0x2000: \_S5 package at offset 41: element 0: opcode 0x70 is not an integer constant`},
		{"PkgLength past the table", aml(s5, []byte{0x3f, 0x02, OneOp, OneOp}), ErrTruncated,
			`DSDT at 0x2000: \_S5 package at offset 41: truncated: PkgLength 63`},
		{"PkgLength bytes past the table", aml(s5, []byte{0xc0, 0x01}), ErrTruncated,
			`\_S5 package at offset 41: truncated: PkgLength needs 4 bytes`},
		{"PackageOp at the end", aml(s5), ErrTruncated, `\_S5 package at offset 41: truncated: no PkgLength`},
		{"element past the package", aml(s5, []byte{0x03, 0x02, OneOp, OneOp}), ErrTruncated,
			`\_S5 package at offset 41: element 1: truncated: past the package end`},
		{"constant past the package", aml(s5, []byte{0x04, 0x02, OneOp, WordPrefix, 1}), ErrTruncated,
			`\_S5 package at offset 41: element 1: truncated: 2-byte constant past the package end`},
		{"no elements", aml(s5, []byte{0x02, 0x00}), nil, `\_S5 package at offset 41: no elements`},
		{"value above SLP_TYP", aml(s5, []byte{0x05, 0x02, BytePrefix, 9, ZeroOp}), nil,
			`\_S5 package at offset 41: values 0x9, 0x0 do not fit SLP_TYP`},
		{"OnesOp", aml(s5, []byte{0x04, 0x02, OnesOp, ZeroOp}), nil, `do not fit SLP_TYP`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, b := decodeAt(t, sdt("DSDT", 2, tc.aml), 0x2000)
			_, err := findS5(h, b)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("error %v, want %q wrapping %v", err, tc.want, tc.is)
			}
		})
	}
}
