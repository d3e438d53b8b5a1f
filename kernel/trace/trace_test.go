package trace_test

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/kernel/trace"
)

// The kinds' numbers are what a dump decodes: each in its class's nibble.
func TestKinds(t *testing.T) {
	for _, c := range []struct {
		k    trace.Kind
		want uint8
	}{
		{trace.IRQL, 0x00}, {trace.Vector, 0x10}, {trace.ISRBegin, 0x11}, {trace.ISREnd, 0x12}, {trace.EOI, 0x13},
		{trace.SyncBegin, 0x20}, {trace.SyncEnd, 0x21}, {trace.DPCQueue, 0x30}, {trace.DPCBegin, 0x31}, {trace.DPCEnd, 0x32},
		{trace.TimerSet, 0x40}, {trace.TimerCancel, 0x41}, {trace.TimerFire, 0x42}, {trace.IdleHalt, 0x50}, {trace.IdleWake, 0x51},
		{trace.ReqSubmit, 0x60}, {trace.ReqBuildBegin, 0x61}, {trace.ReqReturn, 0x67}, {trace.SpinWait, 0x70},
	} {
		if uint8(c.k) != c.want {
			t.Errorf("kind %#x, want %#x", uint8(c.k), c.want)
		}
	}
	for _, name := range []string{"irql", "intr", "sync", "dpc", "timer", "idle", "req", "lock"} {
		if c, ok := trace.ParseClass(name); !ok || c.String() != name {
			t.Errorf("ParseClass(%q) = %v, %v", name, c, ok)
		}
	}
}

// Recording allocates nothing, on or off (STYLE.md: no allocation at
// raised IRQL); neither does a Raise/Lower pair that records.
func TestRecordDoesNotAllocate(t *testing.T) {
	trace.Stop()
	if n := testing.AllocsPerRun(1000, func() { trace.Record(trace.ReqSubmit, 1, 2, 3, 4) }); n != 0 {
		t.Errorf("Record off: %v allocations", n)
	}
	trace.Start(trace.AllClasses, 1<<16, kernel.NumCPU())
	defer trace.Stop()
	if n := testing.AllocsPerRun(1000, func() { trace.Record(trace.ReqSubmit, 1, 2, 3, 4) }); n != 0 {
		t.Errorf("Record on: %v allocations", n)
	}
	if n := testing.AllocsPerRun(1000, func() { kernel.Lower(kernel.Raise(kernel.DISPATCH)) }); n != 0 {
		t.Errorf("Raise+Lower recorded: %v allocations", n)
	}
}

// A full ring keeps its first events and counts the rest; Read cuts every
// CPU's events at the first drop, so that the trace stays whole.
func TestRingFull(t *testing.T) {
	trace.Start(1<<trace.ClassReq, 4, kernel.NumCPU())
	defer trace.Stop()
	old := kernel.Raise(kernel.DISPATCH) // pinned: all on one CPU's ring
	for i := 0; i < 10; i++ {
		trace.Record(trace.ReqSubmit, uint64(i), 0, 0, 0)
	}
	trace.Record(trace.IRQL, 0, 0, 0, 0) // class off: not recorded
	kernel.Lower(old)
	trace.Stop()
	s := trace.Stat()
	var n, d uint64
	for i := range s.Recorded {
		n += s.Recorded[i]
		d += s.Dropped[i]
	}
	if n != 4 || d != 6 {
		t.Errorf("recorded %d dropped %d, want 4 and 6", n, d)
	}
	snap := trace.Read()
	if !snap.Cut || len(snap.Events) != 4 || snap.Events[0].A != 0 || snap.Events[3].A != 3 {
		t.Errorf("Read: cut %v, events %+v", snap.Cut, snap.Events)
	}
}

// A new trace of the previous one's size keeps its rings and collects
// nothing (a collection stops the world); the old events are gone. Of
// another size, it collects the previous rings before allocating.
func TestStartReusesRings(t *testing.T) {
	numGC := func() uint32 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.NumGC
	}
	ncpu := kernel.NumCPU()
	trace.Start(1<<trace.ClassReq, 8, ncpu)
	old := kernel.Raise(kernel.DISPATCH)
	for i := 0; i < 3; i++ {
		trace.Record(trace.ReqSubmit, 100+uint64(i), 0, 0, 0)
	}
	kernel.Lower(old)
	gc := numGC()
	if n := testing.AllocsPerRun(10, func() { trace.Start(1<<trace.ClassReq, 8, ncpu) }); n != 1 {
		t.Errorf("Start of the same size: %v allocations, want 1 (the trace, not its rings)", n)
	}
	if got := numGC(); got != gc {
		t.Errorf("Start of the same size collected %d times", got-gc)
	}
	if s := trace.Stat(); s.Size != 8 || s.Recorded[0] != 0 || s.Dropped[0] != 0 {
		t.Errorf("after restart: %+v", s)
	}
	old = kernel.Raise(kernel.DISPATCH)
	trace.Record(trace.ReqSubmit, 7, 0, 0, 0)
	kernel.Lower(old)
	if ev := trace.Read().Events; len(ev) != 1 || ev[0].A != 7 {
		t.Errorf("after restart: events %+v, want the one recorded since", ev)
	}
	gc = numGC()
	trace.Start(1<<trace.ClassReq, 16, ncpu)
	defer trace.Stop()
	if got := numGC(); got == gc {
		t.Error("Start of another size did not collect the previous rings")
	}
	if s := trace.Stat(); s.Size != 16 || s.Recorded[0] != 0 {
		t.Errorf("after resize: %+v", s)
	}
}

// Raise and Lower record each CR8 change with the CR8 read at the event,
// and the JSON has the counter equal to it; spans cut by the start and
// the end of the trace are balanced; the document parses.
func TestJSON(t *testing.T) {
	trace.Start(trace.AllClasses, 0, kernel.NumCPU())
	trace.Record(trace.DPCEnd, trace.Name("early"), 0, 0, 0) // E of a span begun before the trace
	old := kernel.Raise(kernel.DISPATCH)
	trace.Record(trace.ISRBegin, 0x50, 0, 0, 0) // B never ended
	trace.Record(trace.ReqSubmit, 5|8<<48, 0, 0x25|3<<16, 1)
	kernel.Lower(old)
	trace.Stop()
	s := trace.Read()
	var levels []string
	for _, e := range s.Events {
		if e.Kind == trace.IRQL {
			levels = append(levels, kernel.IRQL(e.A).String()+">"+kernel.IRQL(e.B).String())
			if e.CR8 != uint8(e.B) {
				t.Errorf("IRQL event %d->%d read CR8 %d", e.A, e.B, e.CR8)
			}
		}
	}
	if strings.Join(levels, " ") != "PASSIVE>DISPATCH DISPATCH>PASSIVE" {
		t.Errorf("IRQL events %v", levels)
	}
	var buf bytes.Buffer
	if err := s.WriteJSON(&buf, trace.Names{}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []map[string]any `json:"traceEvents"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	depth := 0
	for _, e := range doc.TraceEvents {
		for _, k := range []string{"ph", "ts", "pid", "tid", "name"} {
			if _, ok := e[k]; !ok {
				t.Errorf("event without %s: %v", k, e)
			}
		}
		switch e["ph"] {
		case "B":
			depth++
		case "E":
			depth--
		}
		if depth < 0 {
			t.Fatalf("E before B:\n%s", buf.String())
		}
	}
	if depth != 0 || !strings.Contains(buf.String(), `"name":"submit"`) {
		t.Errorf("depth %d:\n%s", depth, buf.String())
	}
	var text bytes.Buffer
	s.Text(&text, 0, trace.Names{})
	if !strings.Contains(text.String(), "channel1 submit tag 3 dev 0 cmd 0x25 lba 5 count 8") {
		t.Errorf("text:\n%s", text.String())
	}
}

// A CPU that spins for a lock another CPU holds records how long, naming
// the lock.
func TestSpinWait(t *testing.T) {
	if kernel.NumCPU() < 2 {
		t.Skip("needs two simulated CPUs (GOMAXPROCS >= 2)")
	}
	l := kernel.SpinLock{Name: "test lock"}
	trace.Start(1<<trace.ClassLock, 0, kernel.NumCPU())
	defer trace.Stop()
	held, done := make(chan struct{}), make(chan struct{})
	go func() {
		old := l.Acquire()
		close(held)
		kernel.Stall(20 * time.Millisecond)
		l.Release(old)
		close(done)
	}()
	<-held
	l.Release(l.Acquire())
	<-done
	trace.Stop()
	s := trace.Read()
	var waits []trace.Event
	for _, e := range s.Events {
		if e.Kind == trace.SpinWait {
			waits = append(waits, e)
		}
	}
	if len(waits) != 1 || trace.LockName(waits[0].A) != "test lock" || waits[0].B == 0 {
		t.Fatalf("SpinWait events %+v", waits)
	}
	var text bytes.Buffer
	s.Text(&text, 0, trace.Names{})
	if !strings.Contains(text.String(), "spin lock test lock acquired after") {
		t.Errorf("text:\n%s", text.String())
	}
}
