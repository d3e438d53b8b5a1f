//go:build tamago

package ata

import (
	"errors"
	"unsafe"

	"github.com/usbarmory/tamago/dma"

	"github.com/ataport/firmware/board/ioport"
	"github.com/ataport/firmware/miniport"
)

// Firmware defaults of Config.IO and Config.DMA.
var (
	defaultIO  miniport.PortIO = portIO{}
	defaultDMA Allocator       = dmaAllocator{}
)

// portIO is miniport.PortIO on the x86 I/O instructions of board/ioport.
type portIO struct{}

func (portIO) In8(port uint16) uint8         { return ioport.In8(port) }
func (portIO) Out8(port uint16, v uint8)     { ioport.Out8(port, v) }
func (portIO) In16(port uint16) uint16       { return ioport.In16(port) }
func (portIO) Out16(port uint16, v uint16)   { ioport.Out16(port, v) }
func (portIO) In32(port uint16) uint32       { return ioport.In32(port) }
func (portIO) Out32(port uint16, v uint32)   { ioport.Out32(port, v) }
func (portIO) InsW(port uint16, buf []byte)  { ioport.InsW(port, words(buf)) }
func (portIO) OutsW(port uint16, buf []byte) { ioport.OutsW(port, words(buf)) }
func (portIO) InsL(port uint16, buf []byte)  { ioport.InsL(port, dwords(buf)) }
func (portIO) OutsL(port uint16, buf []byte) { ioport.OutsL(port, dwords(buf)) }

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
