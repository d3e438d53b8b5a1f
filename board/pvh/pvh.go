// Package pvh reads the start_info structure of the PVH boot protocol, which
// QEMU's -kernel loader and this project's boot loader hand to the firmware:
// the ACPI RSDP address and the physical memory map.
//
// Reference: Xen, docs/misc/pvh.pandoc and
// xen/include/public/arch-x86/hvm/start_info.h (struct hvm_start_info,
// version 1).
package pvh

import (
	"encoding/binary"
	"fmt"
	"io"
)

// StartInfoMagic identifies struct hvm_start_info.
const StartInfoMagic = 0x336ec578

// Offsets in struct hvm_start_info.
const (
	MAGIC          = 0x00
	VERSION        = 0x04
	RSDP_PADDR     = 0x20
	MEMMAP_PADDR   = 0x28
	MEMMAP_ENTRIES = 0x30
	startInfoSize  = 0x38

	memmapEntrySize = 24
	// maxEntries bounds the map so a corrupt count cannot run away.
	maxEntries = 128
)

// E820 memory types used by hvm_memmap_table_entry.type (ACPI 6.4, 15.1).
const (
	TypeRAM      = 1
	TypeReserved = 2
	TypeACPI     = 3
	TypeNVS      = 4
	TypeUnusable = 5
)

// Region is one memory map entry.
type Region struct {
	Addr, Size uint64
	Type       uint32
}

// End returns the first address after the region.
func (r Region) End() uint64 { return r.Addr + r.Size }

// TypeName names an E820 type.
func TypeName(t uint32) string {
	switch t {
	case TypeRAM:
		return "RAM"
	case TypeReserved:
		return "reserved"
	case TypeACPI:
		return "ACPI reclaimable"
	case TypeNVS:
		return "ACPI NVS"
	case TypeUnusable:
		return "unusable"
	}
	return fmt.Sprintf("type %d", t)
}

// StartInfo is what the firmware uses of struct hvm_start_info.
type StartInfo struct {
	Version uint32
	RSDP    uint64
	Memory  []Region
}

// Read decodes the start_info at addr.
func Read(mem io.ReaderAt, addr uint64) (*StartInfo, error) {
	var b [startInfoSize]byte
	if _, err := mem.ReadAt(b[:], int64(addr)); err != nil {
		return nil, fmt.Errorf("pvh: start_info at %#x: %w", addr, err)
	}
	le := binary.LittleEndian
	if m := le.Uint32(b[MAGIC:]); m != StartInfoMagic {
		return nil, fmt.Errorf("pvh: start_info at %#x: bad magic %#x", addr, m)
	}
	si := &StartInfo{Version: le.Uint32(b[VERSION:]), RSDP: le.Uint64(b[RSDP_PADDR:])}
	if si.Version < 1 {
		return si, nil
	}
	n := le.Uint32(b[MEMMAP_ENTRIES:])
	if n > maxEntries {
		return nil, fmt.Errorf("pvh: start_info at %#x: %d memory map entries (at most %d)", addr, n, maxEntries)
	}
	mm := make([]byte, int(n)*memmapEntrySize)
	if _, err := mem.ReadAt(mm, int64(le.Uint64(b[MEMMAP_PADDR:]))); err != nil {
		return nil, fmt.Errorf("pvh: memory map: %w", err)
	}
	for i := 0; i < int(n); i++ {
		e := mm[i*memmapEntrySize:]
		si.Memory = append(si.Memory, Region{Addr: le.Uint64(e), Size: le.Uint64(e[8:]), Type: le.Uint32(e[16:])})
	}
	return si, nil
}
