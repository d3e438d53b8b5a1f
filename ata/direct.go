package ata

import (
	"math"

	"github.com/ataport/firmware/miniport"
)

// Zero-copy transfers. Reads and writes move their data straight between
// the device and the caller's buffer whenever the channel can reach it:
//
//   - by PIO always where the ISR moves each DRQ block through the DATA
//     register with the CPU, into or out of any memory; where the
//     controller's DMA engine moves PIO data too (ChannelInfo.PIOByDMA:
//     AHCI), as for DMA below;
//   - by DMA when the buffer's physical address (Config.Phys) and length
//     meet what the channel's engine needs (miniport.ChannelInfo
//     DMAAlignment and DMALimit: for an SFF-8038i bus master an even
//     address below 4 GiB; the miniport splits the segment at 64 KiB
//     boundaries into its PRD table).
//
// Other DMA transfers go through the request's bounce buffer, with a copy.
//
// Go's collector does not move heap objects, and a slice stored in a heap
// object is never placed on a goroutine stack (which moves as it grows), so
// the caller's buffer stays where the engine was told it is. It stays
// reachable from the request block (irb.Data) until the block goes back to
// the pool, after the request completed: a request that times out completes
// only once HwReset stopped the engine.

// directIO is what a channel needs to hand the caller's memory to its
// miniport.
type directIO struct {
	phys  func([]byte) (uint64, bool) // Config.Phys; nil: DMA only into the bounce buffer
	align uint64                      // ChannelInfo.DMAAlignment; 0: DMA only into the bounce buffer
	limit uint64                      // ChannelInfo.DMALimit; 0: none
	max   int                         // the most bytes of one command into the caller's memory
	pioSG bool                        // ChannelInfo.PIOByDMA: PIO requests need segments too
}

// init takes the channel's DMA constraints from what ChannelInit reported.
// An alignment that is not a power of two up to 512 is not taken (DMA then
// goes through the bounce buffer): up to 512, a command's length, whole
// sectors, always meets it, so only the address needs a look.
//
// Context: PASSIVE (attach).
func (dio *directIO) init(phys func([]byte) (uint64, bool), info miniport.ChannelInfo) {
	dio.phys = phys
	if a := info.DMAAlignment; a > 0 && a <= 512 && a&(a-1) == 0 {
		dio.align = uint64(a)
	}
	dio.limit = info.DMALimit
	dio.pioSG = info.PIOByDMA
	dio.max = info.MaxTransfer
	if dio.max <= 0 {
		dio.max = math.MaxInt32 // the commands' own limit applies (plan.go)
	}
	dio.max &^= 4095
}

// direct reports whether a command may move its data straight to or from
// p, the caller's memory, and for DMA returns p's physical address: p's
// first bytes (a whole number of sectors) become the command's data.
//
// Context: PASSIVE or DISPATCH; does not block or allocate.
func (dio *directIO) direct(p []byte, dma bool) (uint64, bool) {
	if !dma && !dio.pioSG {
		return 0, true
	}
	if dio.phys == nil || dio.align == 0 || len(p) == 0 {
		return 0, false
	}
	a, ok := dio.phys(p)
	if !ok || a%dio.align != 0 {
		return 0, false
	}
	return a, dio.limit == 0 || a < dio.limit && uint64(min(len(p), dio.max)) <= dio.limit-a
}

// setDirect makes p, the caller's memory at physical address phys, the
// request's data; a DMA request, and with pioSG a PIO one, gets it as its
// one segment.
//
// Context: PASSIVE, r owned by the caller (not queued).
func (r *request) setDirect(p []byte, phys uint64, flags miniport.Flags, pioSG bool) {
	r.irb.Data = p
	r.irb.Flags |= flags
	r.sgN = 0
	if flags&miniport.FlagDMA != 0 || pioSG {
		r.sg[0] = miniport.Segment{Addr: phys, Length: len(p)}
		r.sgN = 1
	}
}
