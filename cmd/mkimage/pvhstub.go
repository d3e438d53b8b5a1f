package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// The PVH entry stub (boot/pvhentry.S) and where it goes, as
// boot/layout.inc sets them.
const (
	PVHStubAddr  = 0x100000   // PVH_STUB_ADDR: where the stub runs
	PVHStubEntry = 4          // PVH_STUB_ENTRY: the firmware's own PVH entry, a u32 in the stub
	PVHStubMagic = 0x53485650 // PVH_STUB_MAGIC: "PVHS", the u32 after it
	pvhStubMax   = 4096       // the stub fits one page
)

// ELF64 header fields (System V gABI, "ELF Header") that debug/elf does not
// expose, and the size of a program header.
const (
	ehPhoff     = 0x20
	ehShoff     = 0x28
	ehPhentsize = 0x36
	ehPhnum     = 0x38
	ehShentsize = 0x3a
	ehShnum     = 0x3c
	phSize      = 56
)

// AddPVHStub returns the firmware ELF b with the PVH entry stub added: a
// PT_LOAD segment of its own at PVHStubAddr, readable and executable,
// holding stub with the firmware's PVH entry written at PVHStubEntry, and
// the PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) pointing at the stub. The
// program header table grows by one entry into what follows it: the
// section header table, which the Go linker puts there and which moves to
// the end of the file (it is not loaded), then zeros up to the first
// section (the linker pads to a page). The stub is appended at the end of
// the file, page-aligned.
func AddPVHStub(b, stub []byte) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_EXEC {
		return nil, fmt.Errorf("%v %v %v %v, want a little-endian ELF64 x86-64 executable", f.Class, f.Data, f.Machine, f.Type)
	}
	le := binary.LittleEndian
	if len(stub) < PVHStubEntry+8 || len(stub) > pvhStubMax ||
		le.Uint32(stub[PVHStubEntry:]) != 0 || le.Uint32(stub[PVHStubEntry+4:]) != PVHStubMagic {
		return nil, fmt.Errorf("PVH stub of %d bytes without a zero entry and the magic %#x at offset %d: not built from boot/pvhentry.S",
			len(stub), PVHStubMagic, PVHStubEntry)
	}
	entry, note, err := pvhEntry(f)
	if err != nil {
		return nil, err
	}
	if entry == PVHStubAddr {
		return nil, fmt.Errorf("the PVH entry is already the stub's (%#x)", entry)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Paddr < PVHStubAddr+pvhStubMax && PVHStubAddr < p.Paddr+p.Memsz {
			return nil, fmt.Errorf("segment %#x-%#x overlaps the PVH stub's page at %#x", p.Paddr, p.Paddr+p.Memsz, PVHStubAddr)
		}
	}
	phoff, phnum := le.Uint64(b[ehPhoff:]), uint64(le.Uint16(b[ehPhnum:]))
	if le.Uint16(b[ehPhentsize:]) != phSize {
		return nil, fmt.Errorf("program headers of %d bytes, want %d", le.Uint16(b[ehPhentsize:]), phSize)
	}
	slot := phoff + phnum*phSize
	out := append([]byte(nil), b...)
	if shoff, shsize := le.Uint64(b[ehShoff:]), uint64(le.Uint16(b[ehShentsize:]))*uint64(le.Uint16(b[ehShnum:])); shoff != 0 && shoff < slot+phSize && slot < shoff+shsize {
		out = append(out, make([]byte, -len(out)&7)...)
		le.PutUint64(out[ehShoff:], uint64(len(out)))
		out = append(out, b[shoff:shoff+shsize]...)
		clear(out[shoff : shoff+shsize])
	}
	// The first bytes after the table that something else owns: a
	// section, a segment starting past the table, the section headers.
	first := uint64(len(out))
	if sh := le.Uint64(out[ehShoff:]); sh != 0 {
		first = min(first, sh)
	}
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NULL && s.Type != elf.SHT_NOBITS && s.Offset > 0 {
			first = min(first, s.Offset)
		}
	}
	for _, p := range f.Progs {
		if p.Off > phoff && p.Filesz > 0 {
			first = min(first, p.Off)
		}
	}
	if slot+phSize > first || !allZero(out[slot:slot+phSize]) {
		return nil, fmt.Errorf("no room for another program header at %#x (the next data starts at %#x)", slot, first)
	}

	out = append(out, make([]byte, -len(out)&(pvhStubMax-1))...)
	off := uint64(len(out))
	out = append(out, stub...)
	le.PutUint32(out[off+PVHStubEntry:], uint32(entry))

	ph := out[slot : slot+phSize]
	le.PutUint32(ph[0:], uint32(elf.PT_LOAD))
	le.PutUint32(ph[4:], uint32(elf.PF_R|elf.PF_X))
	le.PutUint64(ph[8:], off)
	le.PutUint64(ph[16:], PVHStubAddr) // p_vaddr
	le.PutUint64(ph[24:], PVHStubAddr) // p_paddr
	le.PutUint64(ph[32:], uint64(len(stub)))
	le.PutUint64(ph[40:], uint64(len(stub)))
	le.PutUint64(ph[48:], pvhStubMax)
	le.PutUint16(out[ehPhnum:], uint16(phnum+1))
	for i := range phnum {
		p := out[phoff+i*phSize:]
		if elf.ProgType(le.Uint32(p)) == elf.PT_PHDR {
			le.PutUint64(p[32:], (phnum+1)*phSize)
			le.PutUint64(p[40:], (phnum+1)*phSize)
		}
	}
	desc := out[note.off : note.off+note.size]
	clear(desc)
	le.PutUint32(desc, PVHStubAddr)
	return out, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
