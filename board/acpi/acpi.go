// Package acpi finds and decodes the ACPI tables a board needs to bring up
// interrupts, timers and power-off on IA-PC machines.
//
// It implements, from the Advanced Configuration and Power Interface (ACPI)
// Specification, Version 6.0 (April 2015), whose table layouts later 6.x
// revisions keep (sections below are 6.0's):
//   - §5.2.3.2 Generic Address Structure
//   - §5.2.5 Root System Description Pointer (RSDP), revisions 0 and 2
//   - §5.2.6 System Description Table Header, with checksums
//   - §5.2.7 RSDT and §5.2.8 XSDT
//   - §5.2.9 Fixed ACPI Description Table (FADT), revisions 1 to 6, for the
//     PM timer (§4.8.3.3), PM1 control (§4.8.3.2.1) and reset (§4.8.3.6)
//     registers
//   - §5.2.12 Multiple APIC Description Table (MADT), entry types 0, 1, 2, 4, 5
//   - §7.4.2.6 \_S5 (soft off) sleep type, found by the minimal scan of the
//     DSDT's AML (§20.2) that boot loaders use, not by an interpreter
//
// Everything is read through a Memory, so the same code runs on physical
// memory in the firmware and on captured bytes in host tests.
package acpi

import (
	"errors"
	"fmt"
	"strings"
)

// Memory reads physical memory, as io.ReaderAt does for a file. A read that
// returns fewer than len(p) bytes means the range is not (fully) readable.
type Memory interface {
	ReadAt(p []byte, physAddr int64) (int, error)
}

// Errors wrapped by the one-line errors of this package, for errors.Is.
var (
	// ErrNotFound: no RSDP in the areas §5.2.5.1 names.
	ErrNotFound = errors.New("not found")
	// ErrChecksum: the bytes of a structure do not sum to zero.
	ErrChecksum = errors.New("bad checksum")
	// ErrTruncated: a structure is shorter than its length or layout needs,
	// or memory could not be read up to its end.
	ErrTruncated = errors.New("truncated")
)

// Tables is what Find walked: the RSDP, a header for every table reached
// (the RSDT or XSDT first, then its entries in order, then the DSDT) and the
// decoded tables the board uses. FADT, MADT and S5 are nil when absent.
type Tables struct {
	RSDP   RSDP
	Tables []Header
	FADT   *FADT
	MADT   *MADT
	S5     *SleepType
}

// Find locates the RSDP as §5.2.5.1 prescribes for IA-PC systems (the first
// KiB of the EBDA, then 0xE0000-0xFFFFF) and decodes every table from it.
//
// Context: PASSIVE, may allocate. Returns an error naming the structure and
// its physical address when a checksum is wrong or a table is truncated.
func Find(mem Memory) (*Tables, error) {
	addr, err := findRSDP(mem)
	if err != nil {
		return nil, err
	}
	return FromRSDP(mem, addr)
}

// FromRSDP decodes the tables from an RSDP at a known physical address, as
// handed over by a boot protocol (for example PVH's rsdp_paddr).
//
// Context: PASSIVE, may allocate.
func FromRSDP(mem Memory, rsdpAddr uint64) (*Tables, error) {
	rsdp, err := readRSDP(mem, rsdpAddr)
	if err != nil {
		return nil, err
	}
	t := &Tables{RSDP: rsdp}

	// §5.2.5.3: an OS uses the XSDT when the RSDP (revision 2 and later)
	// gives one, the RSDT otherwise.
	rootSig, rootAddr, entrySize := RSDTSignature, uint64(rsdp.RSDTAddress), 4
	if rsdp.Revision >= 2 && rsdp.XSDTAddress != 0 {
		rootSig, rootAddr, entrySize = XSDTSignature, rsdp.XSDTAddress, 8
	}
	root, b, err := readTable(mem, rootAddr, rootSig)
	if err != nil {
		return nil, err
	}
	t.Tables = append(t.Tables, root)
	entries, err := rootEntries(root, b, entrySize)
	if err != nil {
		return nil, err
	}

	for _, addr := range entries {
		h, b, err := readTable(mem, addr, "")
		if err != nil {
			return nil, err
		}
		t.Tables = append(t.Tables, h)
		switch {
		case h.Signature == FADTSignature && t.FADT == nil:
			if t.FADT, err = decodeFADT(h, b); err != nil {
				return nil, err
			}
		case h.Signature == MADTSignature && t.MADT == nil:
			if t.MADT, err = decodeMADT(h, b); err != nil {
				return nil, err
			}
		}
	}

	if t.FADT == nil || t.FADT.DSDTAddress() == 0 {
		return t, nil
	}
	h, b, err := readTable(mem, t.FADT.DSDTAddress(), DSDTSignature)
	if err != nil {
		return nil, err
	}
	t.Tables = append(t.Tables, h)
	if t.S5, err = findS5(h, b); err != nil {
		return nil, err
	}
	return t, nil
}

// Lines lists the tables for a shell command, one line each: the RSDP, every
// table header, the FADT summary, the MADT and each of its entries, \_S5.
func (t *Tables) Lines() []string {
	lines := []string{t.RSDP.String()}
	for _, h := range t.Tables {
		lines = append(lines, h.String())
	}
	if t.FADT != nil {
		lines = append(lines, t.FADT.String())
	}
	if t.MADT != nil {
		lines = append(lines, t.MADT.String())
		for _, e := range t.MADT.Entries {
			lines = append(lines, "  "+e.String())
		}
	}
	if t.S5 != nil {
		lines = append(lines, t.S5.String())
	}
	return lines
}

// checksum returns the 8-bit sum of b; every ACPI structure sums to zero.
func checksum(b []byte) uint8 {
	var sum uint8
	for _, c := range b {
		sum += c
	}
	return sum
}

// printable renders an identifier from the tables (signature, OEM ID) so an
// error or listing stays on one line whatever the bytes are.
func printable(b []byte) string {
	return strings.TrimRight(strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, string(b)), " ")
}

// read fills p from physical memory at addr, naming what and where on error.
func read(mem Memory, p []byte, addr uint64, what string) error {
	if addr > 1<<63-1-uint64(len(p)) {
		return fmt.Errorf("acpi: %s at %#x: address beyond physical memory", what, addr)
	}
	n, err := mem.ReadAt(p, int64(addr))
	if n < len(p) {
		if err == nil {
			err = errors.New("short read")
		}
		return fmt.Errorf("acpi: %s at %#x: %w: read %d of %d bytes (%v)", what, addr, ErrTruncated, n, len(p), err)
	}
	return nil
}
