package ata

import (
	"github.com/ataport/firmware/kernel/trace"
	"github.com/ataport/firmware/miniport"
)

// trace records step k of r's life on this channel (package trace, class
// req) with its command, device, LBA, sector count, tag and status; b is
// the step's answer (BuildIo's, StartIo's). It is inlined into the call
// site as the recorder's class test (at the inliner's budget: keep it as
// small as it is).
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) trace(k trace.Kind, r *request, b uint64) {
	if trace.On(trace.ClassReq) {
		ch.traceRequest(k, r, b)
	}
}

// traceRequest records r packed as the request kinds of package trace hold it:
// the LBA and sector count of its task file as issued (48-bit when
// Flag48Bit says so), a count of 0 meaning 256 or 65536 as ATA8-ACS has
// it.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) traceRequest(k trace.Kind, r *request, b uint64) {
	req := &r.irb
	c, p := &req.TaskFile.Current, &req.TaskFile.Previous
	lba := uint64(c.LBALow) | uint64(c.LBAMid)<<8 | uint64(c.LBAHigh)<<16
	count := uint64(c.Count)
	if req.Flags&miniport.Flag48Bit != 0 {
		lba |= uint64(p.LBALow)<<24 | uint64(p.LBAMid)<<32 | uint64(p.LBAHigh)<<40
		count |= uint64(p.Count) << 8
	} else {
		lba |= uint64(c.Device&0x0f) << 24
	}
	dev := uint32(req.Target)
	trace.Record(k, lba|count<<48, b,
		uint32(c.Command)|dev<<8|uint32(req.Tag)<<16|uint32(req.Status)<<24, uint8(ch.number))
}
