package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// XEN_ELFNOTE_PHYS32_ENTRY is the note type of the PVH 32-bit entry point
// (Xen, public/elfnote.h), under the owner name "Xen".
const XEN_ELFNOTE_PHYS32_ENTRY = 18

// Segment is one PT_LOAD segment of the firmware.
type Segment struct {
	Paddr uint32
	Memsz uint32 // Data plus the zeroed tail
	Data  []byte
}

// Firmware is what the loader needs from the firmware ELF.
type Firmware struct {
	Entry    uint32
	Segments []Segment // by address, not overlapping
}

// Size returns the bytes the loader reads from disk.
func (fw *Firmware) Size() uint64 {
	var n uint64
	for _, s := range fw.Segments {
		n += uint64(len(s.Data))
	}
	return n
}

// ReadFirmware extracts the PT_LOAD segments and the PVH entry note of an
// x86 ELF executable and checks them against the loader's limits. The PVH
// entry stub (AddPVHStub) is left out: the loaders check the memory
// themselves and enter the firmware at the entry the stub holds.
func ReadFirmware(b []byte) (*Firmware, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if f.Machine != elf.EM_X86_64 && f.Machine != elf.EM_386 {
		return nil, fmt.Errorf("machine %v, want EM_X86_64 or EM_386", f.Machine)
	}
	if f.Type != elf.ET_EXEC {
		return nil, fmt.Errorf("type %v, want ET_EXEC", f.Type)
	}

	entry, _, err := pvhEntry(f)
	if err != nil {
		return nil, err
	}
	fw := &Firmware{}
	var size uint64
	var loads []*elf.Prog
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Memsz == 0 {
			continue
		}
		if e, ok := stubEntry(p, entry); ok {
			entry = e
			continue
		}
		if p.Filesz > p.Memsz {
			return nil, fmt.Errorf("segment at %#x: file size %#x exceeds memory size %#x", p.Paddr, p.Filesz, p.Memsz)
		}
		if p.Paddr < LoadMin || p.Paddr+p.Memsz > LoadMax || p.Paddr+p.Memsz < p.Paddr {
			return nil, fmt.Errorf("segment %#x-%#x outside the loadable range %#x-%#x", p.Paddr, p.Paddr+p.Memsz, LoadMin, LoadMax)
		}
		size += p.Filesz
		loads = append(loads, p)
	}
	if len(loads) == 0 {
		return nil, fmt.Errorf("no PT_LOAD segment")
	}
	if len(loads) > MaxSegments {
		return nil, fmt.Errorf("%d PT_LOAD segments, the loader takes at most %d", len(loads), MaxSegments)
	}
	// Checked before reading, so that a header claiming more data than
	// the file holds is refused for its size.
	if size > FirmwareMax {
		return nil, fmt.Errorf("firmware too large: %d KiB to load, at most %d KiB", (size+1023)>>10, FirmwareMax>>10)
	}
	sort.Slice(loads, func(i, j int) bool { return loads[i].Paddr < loads[j].Paddr })
	for i, p := range loads {
		if i > 0 && p.Paddr < loads[i-1].Paddr+loads[i-1].Memsz {
			return nil, fmt.Errorf("segments at %#x and %#x overlap", loads[i-1].Paddr, p.Paddr)
		}
		data := make([]byte, p.Filesz)
		if _, err := io.ReadFull(p.Open(), data); err != nil {
			return nil, fmt.Errorf("segment at %#x: %w", p.Paddr, err)
		}
		fw.Segments = append(fw.Segments, Segment{Paddr: uint32(p.Paddr), Memsz: uint32(p.Memsz), Data: data})
	}

	for _, p := range loads {
		if p.Flags&elf.PF_X != 0 && entry >= p.Paddr && entry < p.Paddr+p.Filesz {
			fw.Entry = uint32(entry)
			return fw, nil
		}
	}
	return nil, fmt.Errorf("PVH entry %#x is not in an executable segment", entry)
}

// stubEntry reports whether p is the PVH entry stub (AddPVHStub), the
// segment at the PVH entry that holds the magic, and returns the firmware's
// own entry it holds.
func stubEntry(p *elf.Prog, entry uint64) (uint64, bool) {
	var b [8]byte
	if p.Paddr != entry || p.Filesz < PVHStubEntry+8 {
		return 0, false
	}
	if _, err := p.ReadAt(b[:], PVHStubEntry); err != nil || binary.LittleEndian.Uint32(b[4:]) != PVHStubMagic {
		return 0, false
	}
	return uint64(binary.LittleEndian.Uint32(b[:])), true
}

// noteValue is where a note's value (desc) lies in the ELF file.
type noteValue struct {
	off, size uint64
}

// pvhEntry returns the XEN_ELFNOTE_PHYS32_ENTRY value from the PT_NOTE
// segments (ELF gABI "Note Section": namesz, descsz, type, then name and
// desc, each padded to 4 bytes), and where it lies in the file.
func pvhEntry(f *elf.File) (uint64, noteValue, error) {
	le := binary.LittleEndian
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			return 0, noteValue{}, fmt.Errorf("note segment at %#x: %w", p.Off, err)
		}
		for at := uint64(0); uint64(len(b))-at >= 12; {
			n := b[at:]
			namesz, descsz, typ := le.Uint32(n), le.Uint32(n[4:]), le.Uint32(n[8:])
			name := 12 + (uint64(namesz)+3)&^3
			end := name + (uint64(descsz)+3)&^3
			if end > uint64(len(n)) {
				return 0, noteValue{}, fmt.Errorf("note segment at %#x: truncated note", p.Off)
			}
			if string(n[12:12+namesz]) == "Xen\x00" && typ == XEN_ELFNOTE_PHYS32_ENTRY {
				desc := n[name : name+uint64(descsz)]
				where := noteValue{p.Off + at + name, uint64(descsz)}
				switch len(desc) {
				case 4:
					return uint64(le.Uint32(desc)), where, nil
				case 8:
					if v := le.Uint64(desc); v < 1<<32 {
						return v, where, nil
					}
				}
				return 0, noteValue{}, fmt.Errorf("PVH entry note: %d-byte value %x is not a 32-bit address", len(desc), desc)
			}
			at += end
		}
	}
	return 0, noteValue{}, fmt.Errorf("no PVH entry note (owner Xen, type XEN_ELFNOTE_PHYS32_ENTRY)")
}
