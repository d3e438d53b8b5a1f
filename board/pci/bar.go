package pci

import "fmt"

// Base address register fields (§6.2.5.1).
const (
	BAR_IO_SPACE     = 0 // bit: 1 for I/O, 0 for memory
	BAR_MEM_TYPE     = 1 // bits 2:1
	BAR_PREFETCHABLE = 3 // bit, memory only

	BAR_MEM_TYPE_32 = 0b00
	BAR_MEM_TYPE_1M = 0b01 // below 1 MiB in PCI 2.x, reserved since 3.0
	BAR_MEM_TYPE_64 = 0b10

	BAR_IO_ADDRESS  = 0xfffffffc
	BAR_MEM_ADDRESS = 0xfffffff0

	// ioSpaceMask: x86 I/O space is 64 KiB, and devices may hardwire the
	// upper half of an I/O BAR to zero.
	ioSpaceMask = 0xffff
)

// BAR is an implemented base address register.
type BAR struct {
	Index    int // 0-5; a 64-bit BAR takes Index and Index+1
	IO       bool
	Addr     uint64
	Size     uint64
	Prefetch bool
	Mem64    bool
}

// String gives "BAR4 io 0xc040 size 0x10" or
// "BAR0 mem64 0x800000000 size 0x4000 prefetch".
func (b BAR) String() string {
	kind := "io"
	switch {
	case b.Mem64:
		kind = "mem64"
	case !b.IO:
		kind = "mem32"
	}
	s := fmt.Sprintf("BAR%d %s %#x size %#x", b.Index, kind, b.Addr, b.Size)
	if b.Prefetch {
		s += " prefetch"
	}
	return s
}

// sizeBARs finds the first n BARs' sizes by the procedure of §6.2.5.1:
//  1. turn I/O and memory decode off in COMMAND, so the all-ones addresses
//     written next decode nothing;
//  2. for each BAR (both dwords of a 64-bit one), save it, write all ones,
//     read back which address bits stick, and restore it; the lowest
//     writable address bit is the size;
//  3. restore COMMAND.
func (f *Function) sizeBARs(c Config, n int) {
	if n == 0 {
		return
	}
	// 1.
	cmd := f.Read16(c, COMMAND)
	f.Write16(c, COMMAND, cmd&^(1<<CMD_IO_SPACE|1<<CMD_MEMORY_SPACE))

	// 2.
	probe := func(off uint8) (orig, mask uint32) {
		orig = f.Read32(c, off)
		f.Write32(c, off, 0xffffffff)
		mask = f.Read32(c, off)
		f.Write32(c, off, orig)
		return orig, mask
	}
	for i := 0; i < n; i++ {
		off := uint8(BAR0 + 4*i)
		orig, mask := probe(off)
		if orig&(1<<BAR_IO_SPACE) != 0 {
			if m := mask & BAR_IO_ADDRESS & ioSpaceMask; m != 0 {
				f.BARs = append(f.BARs, BAR{Index: i, IO: true, Addr: uint64(orig & BAR_IO_ADDRESS), Size: uint64(m & -m)})
			}
			continue
		}
		b := BAR{
			Index:    i,
			Addr:     uint64(orig & BAR_MEM_ADDRESS),
			Prefetch: orig&(1<<BAR_PREFETCHABLE) != 0,
		}
		m := uint64(mask & BAR_MEM_ADDRESS)
		switch orig >> BAR_MEM_TYPE & 0b11 {
		case BAR_MEM_TYPE_64:
			if i+1 >= n {
				f.problem("BAR%d: 64-bit BAR in the last slot", i)
				continue
			}
			i++
			hi, hiMask := probe(off + 4)
			b.Mem64 = true
			b.Addr |= uint64(hi) << 32
			m |= uint64(hiMask) << 32
		case BAR_MEM_TYPE_32, BAR_MEM_TYPE_1M:
		default:
			f.problem("BAR%d: reserved memory type 0b11", i)
			continue
		}
		if m != 0 {
			b.Size = m & -m
			f.BARs = append(f.BARs, b)
		}
	}

	// 3.
	f.Write16(c, COMMAND, cmd)
}
