//go:build tamago

package pc

import (
	"fmt"
	"unsafe"
)

// pageZeroCopy is where cpuinit copied page zero (cpuinit_amd64.s,
// PAGE0_COPY).
const pageZeroCopy = 0x7000

// PhysMem reads physical memory through the identity mapping set up by
// cpuinit (0-4 GiB). Page zero is not mapped, so that Go's nil checks
// fault; reads of it are served from the copy cpuinit made at entry, which
// holds what the BIOS and boot loader left there (BDA, PVH memory map).
type PhysMem struct{}

// ReadAt implements io.ReaderAt over physical addresses.
func (PhysMem) ReadAt(p []byte, addr int64) (int, error) {
	end := addr + int64(len(p))
	if addr < 0 || end > 1<<32 {
		return 0, fmt.Errorf("physical memory %#x-%#x is not mapped", addr, end)
	}
	n := 0
	if addr < 0x1000 {
		n = copy(p, unsafe.Slice((*byte)(unsafe.Pointer(uintptr(pageZeroCopy+addr))), min(end, 0x1000)-addr))
		addr += int64(n)
	}
	copy(p[n:], unsafe.Slice((*byte)(unsafe.Pointer(uintptr(addr))), len(p)-n))
	return len(p), nil
}
