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
	next   *DPC   // in a CPU's queue, under its qlock
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
// DPC queued for another CPU runs there even when that CPU is idle: its
// helper goroutine is woken when the queuing CPU drops below DISPATCH.
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
// by the time Queue returns, if it is for this CPU.
//
// Context: any IRQL (ISRs at DIRQL and code at HIGH included), any IF; does
// not block or allocate. It raises to HIGH briefly to take the per-CPU
// queue lock.
func (d *DPC) Queue() bool {
	if !d.queued.CompareAndSwap(false, true) {
		return false
	}
	old := Raise(HIGH)
	me := CPU()
	cpu := int(d.target.Load())
	if cpu < 0 {
		cpu = me
	}
	c := &cpus[cpu]
	c.qlock.AcquireAtLevel()
	if c.tail == nil {
		c.head = d
	} else {
		c.tail.next = d
	}
	c.tail = d
	c.pending.Add(1)
	c.qlock.ReleaseAtLevel()
	trace.Record(trace.DPCQueue, d.trace, uint64(cpu), 0, 0)
	if cpu != me {
		kicks.Or(1 << cpu)
	}
	Lower(old)
	return true
}

// pop removes the first DPC of c's queue, nil when it is empty.
//
// Context: DISPATCH, pinned on the CPU of c; raises to HIGH for the queue
// lock; does not block or allocate.
func (c *perCPU) pop() *DPC {
	old := Raise(HIGH)
	c.qlock.AcquireAtLevel()
	d := c.head
	if d != nil {
		c.head = d.next
		if c.head == nil {
			c.tail = nil
		}
		d.next = nil
		c.pending.Add(-1)
	}
	c.qlock.ReleaseAtLevel()
	Lower(old)
	return d
}

// drainDPCs runs the DPCs queued on c, in order, until the queue is empty.
// A DPC is marked not queued before its function runs, so the function may
// queue it again.
//
// Context: DISPATCH, IF=1, pinned on the CPU of c (called by Lower); does not
// block or allocate itself. Panics, naming the DPC, when a DPC function
// returns at another level or with IF=0.
func drainDPCs(c *perCPU) {
	// pending is read without the lock: DPCs this CPU queued are counted
	// already, and a DPC another CPU is inserting meanwhile comes with a
	// kick that makes this CPU drain again.
	for c.pending.Load() != 0 {
		d := c.pop()
		if d == nil {
			return
		}
		d.queued.Store(false)
		trace.Record(trace.DPCBegin, d.trace, 0, 0, 0)
		d.fn()
		trace.Record(trace.DPCEnd, d.trace, 0, 0, 0)
		if cur := Current(); cur != DISPATCH || !InterruptsEnabled() {
			checkReturnLevel("DPC "+d.name, DISPATCH)
		}
	}
}
