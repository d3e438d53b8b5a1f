package acpi

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// AML encodings used by the \_S5 scan (ACPI 6.0 §20.2).
const (
	ZeroOp      = 0x00 // §20.2.3
	OneOp       = 0x01 // §20.2.3
	NameOp      = 0x08 // §20.2.5.1
	BytePrefix  = 0x0a // §20.2.3 ByteConst
	WordPrefix  = 0x0b // §20.2.3 WordConst
	DWordPrefix = 0x0c // §20.2.3 DWordConst
	QWordPrefix = 0x0e // §20.2.3 QWordConst
	PackageOp   = 0x12 // §20.2.5.4 DefPackage
	RootChar    = '\\' // §20.2.2
	OnesOp      = 0xff // §20.2.3
)

// SLP_TYP_MAX is the largest SLP_TYPx value: the field is PM1_CNT bits 12:10
// (§4.8.3.2.1).
const SLP_TYP_MAX = 7

// SleepType holds the \_S5 package values for PM1a_CNT.SLP_TYP and
// PM1b_CNT.SLP_TYP (§7.4.2).
type SleepType struct {
	SLPTypA uint8
	SLPTypB uint8
}

func (s SleepType) String() string {
	return fmt.Sprintf(`\_S5 SLP_TYPa %d SLP_TYPb %d`, s.SLPTypA, s.SLPTypB)
}

// findS5 scans the DSDT's AML for Name(\_S5, Package(){a, b, ...}), the
// encoding NameOp ['\'] "_S5_" PackageOp PkgLength NumElements elements,
// and decodes the first two elements. It returns nil when the DSDT has no
// such object. A package with one element packs SLP_TYPa in bits 7:0 and
// SLP_TYPb in bits 15:8, as ACPICA reads it.
func findS5(h Header, b []byte) (*SleepType, error) {
	for off := SDT_HEADER_LENGTH; off < len(b); {
		i := bytes.Index(b[off:], []byte("_S5_"))
		if i < 0 {
			return nil, nil
		}
		i += off
		off = i + 1
		// Only the definition counts, not a reference to _S5_ elsewhere.
		named := b[i-1] == NameOp || (b[i-1] == RootChar && b[i-2] == NameOp)
		if !named || i+4 >= len(b) || b[i+4] != PackageOp {
			continue
		}
		return decodeS5(h, b, i+5)
	}
	return nil, nil
}

// decodeS5 decodes the package whose PkgLength starts at b[p].
func decodeS5(h Header, b []byte, p int) (*SleepType, error) {
	fail := func(format string, args ...any) error {
		return h.errorf(`\_S5 package at offset %d: `+format, append([]any{p - 1}, args...)...)
	}
	length, n, err := pkgLength(b[p:])
	if err != nil {
		return nil, fail("%w", err)
	}
	end := p + length
	if end > len(b) || n >= length {
		return nil, fail("%w: PkgLength %d", ErrTruncated, length)
	}
	count := int(b[p+n])
	q := p + n + 1

	var v [2]uint64
	for k := 0; k < len(v) && k < count; k++ {
		if v[k], q, err = amlInteger(b[:end], q); err != nil {
			return nil, fail("element %d: %w", k, err)
		}
	}
	switch {
	case count == 0:
		return nil, fail("no elements")
	case count == 1:
		v[0], v[1] = v[0]&0xff, v[0]>>8&0xff
	}
	if v[0] > SLP_TYP_MAX || v[1] > SLP_TYP_MAX {
		return nil, fail("values %#x, %#x do not fit SLP_TYP", v[0], v[1])
	}
	return &SleepType{SLPTypA: uint8(v[0]), SLPTypB: uint8(v[1])}, nil
}

// pkgLength decodes a PkgLength (§20.2.4): bits 7:6 of the lead byte count
// the bytes that follow; with none, bits 5:0 are the length, otherwise bits
// 3:0 are its low nibble and each following byte adds 8 more bits. The
// length counts the PkgLength bytes themselves. It returns the length and
// the number of PkgLength bytes.
func pkgLength(b []byte) (length, n int, err error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: no PkgLength", ErrTruncated)
	}
	follow := int(b[0] >> 6)
	if follow == 0 {
		return int(b[0] & 0x3f), 1, nil
	}
	if len(b) < 1+follow {
		return 0, 0, fmt.Errorf("%w: PkgLength needs %d bytes", ErrTruncated, 1+follow)
	}
	length = int(b[0] & 0x0f)
	for k := 1; k <= follow; k++ {
		length |= int(b[k]) << (4 + 8*(k-1))
	}
	return length, 1 + follow, nil
}

// amlInteger decodes the integer constant at b[p] (§20.2.3) and returns it
// with the offset after it.
func amlInteger(b []byte, p int) (uint64, int, error) {
	if p >= len(b) {
		return 0, p, fmt.Errorf("%w: past the package end", ErrTruncated)
	}
	size := 0
	switch b[p] {
	case ZeroOp:
		return 0, p + 1, nil
	case OneOp:
		return 1, p + 1, nil
	case OnesOp:
		return ^uint64(0), p + 1, nil
	case BytePrefix:
		size = 1
	case WordPrefix:
		size = 2
	case DWordPrefix:
		size = 4
	case QWordPrefix:
		size = 8
	default:
		return 0, p, fmt.Errorf("opcode %#02x is not an integer constant", b[p])
	}
	if p+1+size > len(b) {
		return 0, p, fmt.Errorf("%w: %d-byte constant past the package end", ErrTruncated, size)
	}
	var buf [8]byte
	copy(buf[:], b[p+1:p+1+size])
	return binary.LittleEndian.Uint64(buf[:]), p + 1 + size, nil
}
