//go:build tamago

package pc

import (
	"fmt"
	"unsafe"
)

// PhysMem reads physical memory through the identity mapping set up by
// cpuinit (0-4 GiB). The zero page is not mapped, so Go's nil checks fault;
// reads that touch it are refused.
type PhysMem struct{}

// ReadAt implements io.ReaderAt over physical addresses.
func (PhysMem) ReadAt(p []byte, addr int64) (int, error) {
	if addr < 0x1000 || addr+int64(len(p)) > 1<<32 {
		return 0, fmt.Errorf("physical memory %#x-%#x is not mapped", addr, addr+int64(len(p)))
	}
	copy(p, unsafe.Slice((*byte)(unsafe.Pointer(uintptr(addr))), len(p)))
	return len(p), nil
}

// ebdaSegment is the BDA word 0x40E, saved by cpuinit before the zero page
// became inaccessible (see cpuinit_amd64.s, EBDA_SAVE).
func ebdaSegment() uint16 {
	return *(*uint16)(unsafe.Pointer(uintptr(0x8ff8)))
}
