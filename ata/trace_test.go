package ata

import (
	"testing"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/kernel/trace"
	"github.com/ataport/firmware/miniport"
)

// A request step is recorded with the task file's 48-bit and 28-bit LBA
// and count, the command, device, tag and status, without allocating.
func TestTraceRequest(t *testing.T) {
	// Goroutines of earlier tests' channels may still record (the trace
	// is global): this channel's number is one no harness uses, and only
	// its events count.
	const number = 200
	ch := &Channel{number: number}
	r48 := &request{irb: miniport.Request{Target: 1, Tag: 3, Flags: miniport.Flag48Bit, Status: miniport.StatusBusy}}
	r48.irb.TaskFile.SetLBA48(0x123456789a, 300)
	r48.irb.TaskFile.Current.Command = byte(miniport.READ_DMA_EXT)
	r28 := &request{irb: miniport.Request{Tag: 0}}
	r28.irb.TaskFile.SetLBA28(0x0abcdef, 8)
	trace.Start(1<<trace.ClassReq, 0, kernel.NumCPU())
	defer trace.Stop()
	old := kernel.Raise(kernel.DISPATCH) // one CPU, so one ring, in order
	ch.trace(trace.ReqStartEnd, r48, 1)
	ch.trace(trace.ReqSubmit, r28, 0)
	kernel.Lower(old)
	if n := testing.AllocsPerRun(100, func() { ch.trace(trace.ReqRetire, r28, 0) }); n != 0 {
		t.Errorf("%v allocations per request event", n)
	}
	trace.Stop()
	var ev []trace.Event // the two pinned ones, in order, without the retires
	for _, e := range trace.Read().Events {
		if e.Kind != trace.ReqRetire && e.Channel() == number {
			ev = append(ev, e)
		}
	}
	if len(ev) != 2 {
		t.Fatalf("%d events", len(ev))
	}
	for i, c := range []struct {
		kind             trace.Kind
		lba              uint64
		count            int
		dev, tag, status uint8
		b                uint64
	}{
		{trace.ReqStartEnd, 0x123456789a, 300, 1, 3, uint8(miniport.StatusBusy), 1},
		{trace.ReqSubmit, 0x0abcdef, 8, 0, 0, 0, 0},
	} {
		e := ev[i]
		if e.Kind != c.kind || e.LBA() != c.lba || e.Count() != c.count || e.Device() != c.dev || e.Tag() != c.tag ||
			e.Status() != c.status || e.B != c.b {
			t.Errorf("event %d: %+v (lba %#x count %d), want %+v", i, e, e.LBA(), e.Count(), c)
		}
	}
	if ev[0].Command() != byte(miniport.READ_DMA_EXT) {
		t.Errorf("command %#x", ev[0].Command())
	}
}
