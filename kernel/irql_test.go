package kernel

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Known answers: the name of each level and the TPR value it stands for
// (CR8 = TPR[7:4], so the TPR class equals the IRQL).
func TestLevelNamesAndTPR(t *testing.T) {
	for _, tc := range []struct {
		l     IRQL
		name  string
		tpr   uint8
		dirql bool
	}{
		{PASSIVE, "PASSIVE", 0x00, false},
		{APC, "APC", 0x10, false},
		{DISPATCH, "DISPATCH", 0x20, false},
		{DIRQLMin, "DIRQL3", 0x30, true},
		{5, "DIRQL5", 0x50, true},
		{DIRQLMax, "DIRQL12", 0xc0, true},
		{CLOCK, "CLOCK", 0xd0, false},
		{IPI, "IPI", 0xe0, false},
		{HIGH, "HIGH", 0xf0, false},
		{16, "IRQL?", 0x00, false},
	} {
		if got := tc.l.String(); got != tc.name {
			t.Errorf("IRQL(%d).String() = %q, want %q", tc.l, got, tc.name)
		}
		if tc.l <= HIGH {
			if got := tc.l.TPR(); got != tc.tpr {
				t.Errorf("%v.TPR() = %#x, want %#x", tc.l, got, tc.tpr)
			}
		}
		if got := tc.l.DIRQL(); got != tc.dirql {
			t.Errorf("%v.DIRQL() = %v, want %v", tc.l, got, tc.dirql)
		}
	}
}

// levelState is what a step of TestTransitions observes after it ran.
type levelState struct {
	level  IRQL
	ifOn   bool
	pinned bool
}

func observe() levelState {
	c := &cpus[CPU()]
	return levelState{Current(), InterruptsEnabled(), c.section() != 0}
}

func TestTransitions(t *testing.T) {
	type step struct {
		raise bool // Raise(to) when true, Lower(to) when false
		to    IRQL
		want  levelState
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"dispatch and back", []step{
			{true, DISPATCH, levelState{DISPATCH, true, true}},
			{false, PASSIVE, levelState{PASSIVE, true, false}},
		}},
		{"up the ladder", []step{
			{true, APC, levelState{APC, true, true}},
			{true, DISPATCH, levelState{DISPATCH, true, true}},
			{true, 5, levelState{5, true, true}},
			{true, CLOCK, levelState{CLOCK, true, true}},
			{true, HIGH, levelState{HIGH, false, true}},
			{false, 5, levelState{5, true, true}},
			{false, APC, levelState{APC, true, true}},
			{false, PASSIVE, levelState{PASSIVE, true, false}},
		}},
		{"same level is a no-op", []step{
			{true, PASSIVE, levelState{PASSIVE, true, false}},
			{true, 7, levelState{7, true, true}},
			{true, 7, levelState{7, true, true}},
			{false, 7, levelState{7, true, true}},
			{false, PASSIVE, levelState{PASSIVE, true, false}},
		}},
		{"PASSIVE at PASSIVE is a no-op", []step{
			{false, PASSIVE, levelState{PASSIVE, true, false}},
			{true, DISPATCH, levelState{DISPATCH, true, true}},
			{false, PASSIVE, levelState{PASSIVE, true, false}},
			{false, PASSIVE, levelState{PASSIVE, true, false}},
		}},
		{"HIGH straight to PASSIVE", []step{
			{true, HIGH, levelState{HIGH, false, true}},
			{false, PASSIVE, levelState{PASSIVE, true, false}},
		}},
	} {
		// Observations are collected while raised and checked at
		// PASSIVE: a pinned goroutine must not call t.Fatal.
		got := make([]levelState, len(tc.steps))
		for i, s := range tc.steps {
			if s.raise {
				Raise(s.to)
			} else {
				Lower(s.to)
			}
			got[i] = observe()
		}
		for i, s := range tc.steps {
			if got[i] != s.want {
				t.Errorf("%s: step %d (%v %v): got %+v, want %+v", tc.name, i, s.raise, s.to, got[i], s.want)
			}
		}
		if Current() != PASSIVE {
			t.Fatalf("%s: ended at %v", tc.name, Current())
		}
		// Lower unpins in the call that writes CR8 and pins again on
		// the paths that must not unpin: the runtime's count of pins
		// must be back to zero, or the scheduler throws "schedule:
		// holding locks" here.
		time.Sleep(time.Millisecond)
	}
}

func TestMisusePanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func()
		want string
	}{
		{"raise below", func() { Raise(5); Raise(DISPATCH) },
			"kernel: Raise from DIRQL5 to DISPATCH: new level below the current one"},
		{"raise above HIGH", func() { Raise(16) },
			"kernel: Raise from PASSIVE to IRQL?: no such level"},
		{"lower above", func() { Raise(DISPATCH); Lower(5) },
			"kernel: Lower from DISPATCH to DIRQL5: new level above the current one"},
		{"assert level", func() { Raise(5); AssertLevel("ata.BuildIo", PASSIVE, DISPATCH) },
			"kernel: ata.BuildIo at DIRQL5, must be PASSIVE..DISPATCH"},
		{"assert single level", func() { AssertLevel("ata.StartIo", 5, 5) },
			"kernel: ata.StartIo at PASSIVE, must be DIRQL5"},
		{"may block at DISPATCH", func() { Raise(DISPATCH); AssertMayBlock("ata.Flush") },
			"kernel: ata.Flush at DISPATCH, must be PASSIVE (it may block)"},
		{"sleep at DIRQL", func() { Raise(9); Sleep(time.Millisecond) },
			"kernel: kernel.Sleep at DIRQL9, must be PASSIVE (it may block)"},
		{"section moved", func() {
			Raise(DISPATCH)
			// as if the section had started on another CPU
			c := &cpus[CPU()]
			c.state.Store(c.state.Load()&^stateSection | (MaxCPUs+1)<<stateSectionShift)
			Lower(PASSIVE)
		}, "the pinned section did not start on this CPU"},
		{"section never ended", func() {
			// every CPU has a section open while its CR8 reads PASSIVE:
			// CR8 was lowered behind the kernel's back.
			for i := range NumCPU() {
				cpus[i].state.Store(uint32(i+1) << stateSectionShift)
			}
			defer func() {
				for i := range NumCPU() {
					cpus[i].state.Store(0)
				}
			}()
			Raise(5)
		}, "an earlier pinned section on this CPU never returned to PASSIVE"},
	} {
		wantPanic(t, tc.name, panicOf(tc.fn), tc.want)
		if Current() != PASSIVE || !InterruptsEnabled() {
			t.Fatalf("%s: left at %v IF=%v", tc.name, Current(), InterruptsEnabled())
		}
	}
}

func TestMayBlock(t *testing.T) {
	if msg := panicOf(func() { Sleep(time.Microsecond) }); msg != "" {
		t.Errorf("Sleep at PASSIVE: %s", msg)
	}
	msg := panicOf(func() { Raise(APC); Sleep(time.Microsecond) })
	wantPanic(t, "Sleep at APC", msg, "kernel: kernel.Sleep at APC, must be PASSIVE (it may block)")
}

func TestStallAtHigh(t *testing.T) {
	const d = 5 * time.Millisecond
	start := time.Now()
	old := Raise(HIGH)
	Stall(d)
	Lower(old)
	if el := time.Since(start); el < d {
		t.Errorf("Stall(%v) returned after %v", d, el)
	}
}

func TestRaiseLowerDoNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() {
		old := Raise(HIGH)
		Lower(old)
	}); n != 0 {
		t.Errorf("Raise/Lower allocate %v times", n)
	}
}

// TestSectionsStayOnTheirCPU runs raised sections on more goroutines than
// simulated CPUs, long enough for the Go scheduler to ask each to yield,
// and checks that every section reads its own level on the CPU it started
// on until it ends. A goroutine that left its CPU between Lower's CR8
// write and its state update would make another goroutine's section read
// a level it did not raise (the host fake keeps CR8 per P), or Raise panic
// on a section that never ended.
func TestSectionsStayOnTheirCPU(t *testing.T) {
	if NumCPU() < 2 {
		t.Skip("needs 2 simulated CPUs (GOMAXPROCS >= 2)")
	}
	var bad atomic.Value
	var wg sync.WaitGroup
	stop := time.Now().Add(time.Second)
	for range 4 * NumCPU() {
		wg.Go(func() {
			for time.Now().Before(stop) && bad.Load() == nil {
				old := Raise(DISPATCH)
				cpu := CPU()
				for range 200 {
					if cur := Current(); cur != DISPATCH || CPU() != cpu {
						bad.Store(fmt.Sprintf("section raised on CPU %d read %v on CPU %d", cpu, cur, CPU()))
					}
				}
				Lower(old)
				if cur := Current(); cur != PASSIVE {
					bad.Store(fmt.Sprintf("read %v after Lower to PASSIVE", cur))
				}
			}
		})
	}
	wg.Wait()
	if msg := bad.Load(); msg != nil {
		t.Fatal(msg)
	}
}
