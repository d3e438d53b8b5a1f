package kernel

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// dpcLog records DPC runs without allocating at DISPATCH.
type dpcLog struct {
	n     atomic.Int32
	order [16]int
	level [16]IRQL
	ifOn  [16]bool
	cpu   [16]int
}

func (l *dpcLog) fn(id int) func() {
	return func() {
		i := l.n.Add(1) - 1
		l.order[i] = id
		l.level[i] = Current()
		l.ifOn[i] = InterruptsEnabled()
		l.cpu[i] = CPU()
	}
}

func TestDPCFIFOOnceAndRequeue(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level IRQL // level the DPCs are queued at
		lower IRQL // first Lower, still at or above DISPATCH
	}{
		{"from DISPATCH", DISPATCH, DISPATCH},
		{"from an ISR at DIRQL", 5, DISPATCH},
		{"from HIGH", HIGH, 5},
	} {
		var log dpcLog
		ds := []*DPC{NewDPC("a", log.fn(1)), NewDPC("b", log.fn(2)), NewDPC("c", log.fn(3))}
		old := Raise(tc.level)
		me := CPU()
		var first [3]bool
		for i, d := range ds {
			first[i] = d.Queue()
		}
		again := ds[0].Queue()
		pending := int(cpus[me].pending.Load())
		Lower(tc.lower)
		ranEarly := log.n.Load()
		Lower(old)

		if first != [3]bool{true, true, true} || again {
			t.Errorf("%s: Queue results %v, requeue %v; want all true, then false", tc.name, first, again)
		}
		if pending != 3 || ranEarly != 0 {
			t.Errorf("%s: %d pending, %d ran before going below DISPATCH; want 3 and 0", tc.name, pending, ranEarly)
		}
		if n := log.n.Load(); n != 3 || [3]int(log.order[:3]) != [3]int{1, 2, 3} {
			t.Errorf("%s: ran %d DPCs in order %v, want 3 in order [1 2 3]", tc.name, n, log.order[:n])
		}
		for i := range 3 {
			if log.level[i] != DISPATCH || !log.ifOn[i] || log.cpu[i] != me {
				t.Errorf("%s: DPC %d ran at %v IF=%v on CPU %d, want DISPATCH IF=true CPU %d",
					tc.name, i, log.level[i], log.ifOn[i], log.cpu[i], me)
			}
		}
	}
}

func TestDPCQueuedAtPassiveRunsBeforeQueueReturns(t *testing.T) {
	var log dpcLog
	d := NewDPC("now", log.fn(1))
	if !d.Queue() {
		t.Fatal("Queue returned false")
	}
	if n := log.n.Load(); n != 1 || log.level[0] != DISPATCH {
		t.Errorf("ran %d times at %v, want once at DISPATCH", n, log.level[0])
	}
}

func TestDPCRequeuesItself(t *testing.T) {
	var runs int
	var d *DPC
	d = NewDPC("self", func() {
		runs++
		if runs < 3 {
			d.Queue()
		}
	})
	d.Queue()
	if runs != 3 {
		t.Errorf("ran %d times, want 3", runs)
	}
}

func TestDPCBadReturnLevel(t *testing.T) {
	d := NewDPC("leaky", func() { Raise(5) })
	msg := panicOf(func() { d.Queue() })
	wantPanic(t, "leaky DPC", msg, "kernel: DPC leaky returned at DIRQL5, must return at DISPATCH")
}

func TestDPCQueueDoesNotAllocate(t *testing.T) {
	d := NewDPC("alloc", func() {})
	if n := testing.AllocsPerRun(100, func() {
		old := Raise(5)
		d.Queue()
		Lower(old)
	}); n != 0 {
		t.Errorf("Queue and drain allocate %v times", n)
	}
}

func TestDPCTargetOtherCPU(t *testing.T) {
	if NumCPU() < 2 {
		t.Skip("needs 2 simulated CPUs (GOMAXPROCS >= 2)")
	}
	for target := range NumCPU() {
		ran := make(chan int, 1)
		var where atomic.Int32
		d := NewDPC("targeted", func() {
			where.Store(int32(CPU()))
			select {
			case ran <- 1:
			default:
			}
		})
		d.SetTargetCPU(target)
		d.Queue()
		select {
		case <-ran:
			if got := int(where.Load()); got != target {
				t.Errorf("DPC for CPU %d ran on CPU %d", target, got)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("DPC for CPU %d did not run within 5 s", target)
		}
	}
	msg := panicOf(func() { NewDPC("x", func() {}).SetTargetCPU(NumCPU()) })
	wantPanic(t, "target out of range", msg, "kernel: DPC.SetTargetCPU(x): CPU "+strconv.Itoa(NumCPU())+" out of range")
}
