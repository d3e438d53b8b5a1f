//go:build tamago

package ata

import (
	"errors"
	"unsafe"

	"github.com/usbarmory/tamago/dma"

	"github.com/ataport/firmware/board/ioport"
	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// Firmware defaults of Config.IO and Config.DMA.
var (
	defaultIO  miniport.PortIO = portIO{}
	defaultDMA Allocator       = dmaAllocator{}
)

// portIO is miniport.PortIO on the x86 I/O instructions of board/ioport.
//
// Every access is a safe point for interrupts (kernel.ServicePoint), and a
// string move is one every stringChunk bytes. On hardware the vector of a
// line of higher DIRQL interrupts the miniport between any two
// instructions; here its ISR runs at the next access instead of waiting
// for the miniport's whole section at the lower DIRQL to end (a StartIo's
// dozen register writes, a PIO block of 8 KiB that takes QEMU about 185 us
// under TCG). A safe point runs only vectors above the caller's level, so
// the caller's own line, and every line of its class, still waits.
type portIO struct{}

// stringChunk is how many bytes a string move transfers between two safe
// points: a sector.
const stringChunk = 512

func (portIO) In8(port uint16) uint8       { return serviced(ioport.In8(port)) }
func (portIO) In16(port uint16) uint16     { return serviced(ioport.In16(port)) }
func (portIO) In32(port uint16) uint32     { return serviced(ioport.In32(port)) }
func (portIO) Out8(port uint16, v uint8)   { ioport.Out8(port, v); kernel.ServicePoint() }
func (portIO) Out16(port uint16, v uint16) { ioport.Out16(port, v); kernel.ServicePoint() }
func (portIO) Out32(port uint16, v uint32) { ioport.Out32(port, v); kernel.ServicePoint() }

// serviced passes v, read from a port, on after a safe point.
func serviced[T uint8 | uint16 | uint32](v T) T {
	kernel.ServicePoint()
	return v
}

func (portIO) InsW(port uint16, buf []byte)  { chunked(port, words(buf), ioport.InsW) }
func (portIO) OutsW(port uint16, buf []byte) { chunked(port, words(buf), ioport.OutsW) }
func (portIO) InsL(port uint16, buf []byte)  { chunked(port, dwords(buf), ioport.InsL) }
func (portIO) OutsL(port uint16, buf []byte) { chunked(port, dwords(buf), ioport.OutsL) }

// chunked runs move on s stringChunk bytes at a time, with a safe point
// after each.
func chunked[T uint16 | uint32](port uint16, s []T, move func(uint16, []T)) {
	n := stringChunk / int(unsafe.Sizeof(s[0]))
	for len(s) > n {
		move(port, s[:n])
		kernel.ServicePoint()
		s = s[n:]
	}
	move(port, s)
	kernel.ServicePoint()
}

// words and dwords view buf as the little-endian words the string
// instructions move; x86 needs no alignment for them.
func words(buf []byte) []uint16 {
	if len(buf) < 2 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&buf[0])), len(buf)/2)
}

func dwords(buf []byte) []uint32 {
	if len(buf) < 4 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(&buf[0])), len(buf)/4)
}

// dmaAllocator reserves memory from TamaGo's global DMA region, which the
// board set up (dma.Init); physical addresses equal virtual ones.
type dmaAllocator struct{}

// Reserve implements Allocator; it turns the region's "out of memory"
// panic into an error.
//
// Context: PASSIVE (dma.Reserve takes a mutex); may block.
func (dmaAllocator) Reserve(size, align int) (b miniport.DMABuffer, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("DMA region exhausted")
		}
	}()
	addr, buf := dma.Reserve(size, align)
	if len(buf) != size {
		return b, errors.New("DMA region returned no buffer")
	}
	return miniport.DMABuffer{Addr: uint64(addr), Buf: buf}, nil
}

// defaultPhys is the firmware's Config.Phys: the board identity-maps the
// first 4 GiB (board/pc cpuinit_amd64.s), so the address of a Go heap
// object is its physical address.
func defaultPhys(p []byte) (uint64, bool) {
	if len(p) == 0 {
		return 0, false
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))), true
}
