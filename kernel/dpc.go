package kernel

import (
	"strconv"
	"sync/atomic"

	"github.com/ataport/firmware/kernel/trace"
)

// DPC is a deferred procedure call (KDPC): a function queued from any level,
// an ISR at DIRQL included, that runs once, later, at DISPATCH with IF=1,
// when the level of its CPU drops below DISPATCH. DPCs of one CPU run in the
// order they were queued. A DPC runs on the CPU that queued it unless
// SetTargetCPU chose one.
type DPC struct {
	name   string
	fn     func()
	target atomic.Int32 // CPU index, -1: the queuing CPU
	queued atomic.Bool
	next   *DPC   // in a CPU's queue (Queue, drainDPCs)
	trace  uint64 // its name in trace events
}

// NewDPC returns a DPC that calls fn (KeInitializeDpc).
//
// Context: PASSIVE; allocates. fn runs at DISPATCH, IF=1, pinned,
// holding no lock; it must not block or allocate and must return at
// DISPATCH.
func NewDPC(name string, fn func()) *DPC {
	AssertMayBlock("kernel.NewDPC")
	if fn == nil {
		Bugcheck("kernel: NewDPC(" + name + "): nil function")
	}
	d := &DPC{name: name, fn: fn, trace: trace.Name(name)}
	d.target.Store(-1)
	return d
}

// Name returns the DPC's name.
//
// Context: any IRQL; does not block or allocate.
func (d *DPC) Name() string {
	return d.name
}

// SetTargetCPU makes the DPC run on CPU cpu, or with -1 on the CPU that
// queues it (KeSetTargetProcessorDpc). It takes effect at the next Queue. A
// DPC queued for another CPU is pushed on that CPU's queue, and the
// queuing CPU sends it DPCVector (requestDispatch), as Windows requests a
// DISPATCH_LEVEL interrupt of the target processor: a halted CPU wakes and
// runs it from its idle hook, one at PASSIVE at its next safe point, one
// at DISPATCH or above when it lowers below DISPATCH.
//
// Context: any IRQL; does not block or allocate. Panics when cpu is neither
// -1 nor a CPU index below NumCPU.
func (d *DPC) SetTargetCPU(cpu int) {
	if cpu < -1 || cpu >= NumCPU() {
		Bugcheck("kernel: DPC.SetTargetCPU(" + d.name + "): CPU " + strconv.Itoa(cpu) + " out of range")
	}
	d.target.Store(int32(cpu))
}

// Queue queues the DPC on its CPU (KeInsertQueueDpc) and reports whether it
// did; it returns false, changing nothing, when the DPC is already queued
// and has not started running. When called below DISPATCH the DPC has run
// by the time Queue returns, if it is for this CPU. A DPC for another CPU
// costs an IPI besides (requestDispatch), sent at HIGH, whose Lower back to
// the caller's level is a safe point: there the ISRs of vectors above that
// level run.
//
// The queue is lock-free (a stack any CPU pushes onto with a
// compare-and-swap, which only its own CPU takes whole, drainDPCs), so
// Queue for this CPU neither raises nor spins: it has no safe point, and
// costs an ISR no more than a few atomic operations (under TCG the raises to HIGH and
// the queue lock, queued and taken, cost 14 000-20 000 cycles more than
// they do now: `irql bench`'s DPC row, session 11).
//
// Context: any IRQL (ISRs at DIRQL and code at HIGH included), any IF; does
// not block or allocate.
func (d *DPC) Queue() bool {
	if !d.queued.CompareAndSwap(false, true) {
		return false
	}
	procPin()
	c := this()
	t := c
	if cpu := d.target.Load(); cpu >= 0 {
		t = &cpus[cpu]
	}
	for {
		top := t.dpcs.Load()
		d.next = top
		if t.dpcs.CompareAndSwap(top, d) {
			break
		}
	}
	t.pending.Add(1)
	trace.Record(trace.DPCQueue, d.trace, uint64(t.index), 0, 0)
	if t != c {
		requestDispatch(t)
	}
	if c.level() >= DISPATCH {
		procUnpin()
		return true
	}
	// Below DISPATCH: raise and lower on this CPU (still pinned), which
	// runs the DPC if it is this CPU's.
	old := Raise(DISPATCH)
	procUnpin()
	Lower(old)
	return true
}

// dispatchIPI sends DPCVector to a CPU (SetDispatchIPI).
var dispatchIPI atomic.Pointer[func(apic uint8) error]

// SetDispatchIPI installs fn as the way to send DPCVector to the CPU whose
// local APIC ID is apic, which a DPC queued for another CPU needs (package
// irq, which drives the local APIC, installs it). fn runs at the queuing
// CPU's level, any IRQL; it must not block or allocate.
//
// Context: PASSIVE, before any DPC is targeted at another CPU.
func SetDispatchIPI(fn func(apic uint8) error) {
	AssertMayBlock("kernel.SetDispatchIPI")
	dispatchIPI.Store(&fn)
}

// drainDPCs runs the DPCs queued on c, in order, until the queue is empty.
// A DPC is marked not queued before its function runs, so the function may
// queue it again.
//
// Context: DISPATCH, IF=1, pinned on the CPU of c (called by Lower); does not
// block or allocate itself. Panics, naming the DPC, when a DPC function
// returns at another level or with IF=0.
func drainDPCs(c *perCPU) {
	for c.pending.Load() != 0 {
		top := c.dpcs.Swap(nil)
		if top == nil {
			return
		}
		// The stack holds the newest first: turn it into queuing order.
		var first *DPC
		n := int32(0)
		for top != nil {
			next := top.next
			top.next, first = first, top
			top = next
			n++
		}
		c.pending.Add(-n)
		for d := first; d != nil; {
			next := d.next // before queued is cleared: fn may queue d again
			d.next = nil
			d.queued.Store(false)
			trace.Record(trace.DPCBegin, d.trace, 0, 0, 0)
			d.fn()
			trace.Record(trace.DPCEnd, d.trace, 0, 0, 0)
			if cur := Current(); cur != DISPATCH || !InterruptsEnabled() {
				checkReturnLevel("DPC "+d.name, DISPATCH)
			}
			d = next
		}
	}
}
