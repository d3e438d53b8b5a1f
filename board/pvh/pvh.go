// Package pvh reads the start_info structure of the PVH boot protocol, which
// QEMU's -kernel loader and this project's boot loader hand to the firmware:
// the ACPI RSDP address and the physical memory map.
//
// Reference: Xen, docs/misc/pvh.pandoc and
// xen/include/public/arch-x86/hvm/start_info.h (struct hvm_start_info,
// version 1).
package pvh

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// StartInfoMagic identifies struct hvm_start_info.
const StartInfoMagic = 0x336ec578

// Offsets in struct hvm_start_info.
const (
	MAGIC          = 0x00
	VERSION        = 0x04
	CMDLINE_PADDR  = 0x18
	RSDP_PADDR     = 0x20
	MEMMAP_PADDR   = 0x28
	MEMMAP_ENTRIES = 0x30
	startInfoSize  = 0x38

	memmapEntrySize = 24
	// maxEntries bounds the map so a corrupt count cannot run away.
	maxEntries = 128
	// maxCmdline bounds the command line, NUL included, and cmdlineChunk
	// is how much of it is read at a time, so that a short line near the
	// end of RAM is not read past by much.
	maxCmdline   = 4096
	cmdlineChunk = 64
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
	// Cmdline is the NUL-terminated ASCII string at cmdline_paddr, empty
	// when the loader passed none.
	Cmdline string
	Memory  []Region
}

// Loader names the boot loader that started the firmware, from the
// "loader=" option that this project's loaders put on the command line
// (boot/README.md, "Boot protocol"): the BIOS stage 2 writes loader=bios,
// the UEFI loader loader=uefi. Other PVH loaders, QEMU's -kernel among
// them, name none.
func (si *StartInfo) Loader() string {
	for _, f := range strings.Fields(si.Cmdline) {
		switch v, ok := strings.CutPrefix(f, "loader="); {
		case !ok:
		case v == "bios":
			return "BIOS stage 2 (MBR, legacy BIOS or CSM)"
		case v == "uefi":
			return `UEFI (\EFI\BOOT\BOOTX64.EFI)`
		default:
			return "unknown loader " + strconv.Quote(v)
		}
	}
	return "PVH entry, no loader named (QEMU -kernel)"
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
	if p := le.Uint64(b[CMDLINE_PADDR:]); p != 0 {
		var err error
		if si.Cmdline, err = readString(mem, p); err != nil {
			return nil, fmt.Errorf("pvh: command line at %#x: %w", p, err)
		}
	}
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

// readString reads a NUL-terminated string of at most maxCmdline bytes at
// addr.
func readString(mem io.ReaderAt, addr uint64) (string, error) {
	var s []byte
	for len(s) < maxCmdline {
		var b [cmdlineChunk]byte
		if _, err := mem.ReadAt(b[:], int64(addr)+int64(len(s))); err != nil {
			return "", err
		}
		if i := bytes.IndexByte(b[:], 0); i >= 0 {
			return string(append(s, b[:i]...)), nil
		}
		s = append(s, b[:]...)
	}
	return "", fmt.Errorf("no NUL within %d bytes", maxCmdline)
}
