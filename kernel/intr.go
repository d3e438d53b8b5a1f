package kernel

import (
	"math/bits"
	"strconv"
	"sync/atomic"

	"github.com/ataport/firmware/kernel/trace"
)

// How an accepted vector reaches its ISR (docs/DESIGN.md "From the IDT to
// the ISR").
//
// The firmware's own IDT entry (entry_amd64.s) runs for every vector from
// FirstVector up, on every CPU, with interrupts off. It touches no Go
// runtime structure: it counts the vector in accepted, stamps acceptTSC,
// sets the vector's bit in pendingVec (all three per local APIC ID, each
// row written only by its own CPU) and returns with IRETQ, leaving the
// vector in service at the local APIC. The spurious vector is counted and
// never EOIed (SDM Vol 3A, APIC chapter, "Spurious Interrupt"); the wake
// vector, whose only job is to end a HLT, is EOIed at once.
//
// The ISR runs in Go at the first safe point of that CPU where its class is
// above the CPU's level: Raise (before the level goes up), Lower (after each
// step down), a spin on a lock, a Stall, and the idle hook of the board
// (after HLT). There, service takes the highest pending vector above the
// current level, runs the dispatcher at the vector's class (CR8 = class),
// serves any higher vector accepted meanwhile, and only then writes the EOI:
// the local APIC retires the highest vector in service, so EOIs go out
// highest first, one per accepted vector. Every safe point is ordinary Go
// code of a pinned goroutine (or of the scheduler's idle hook on the M's g0
// stack), so the ISR runs where the runtime is consistent.

// Reserved vectors (SDM Vol 3A 6.2 "Exception and Interrupt Vectors": 0-31
// are exceptions; the class of a vector is vector >> 4).
const (
	// FirstVector is the lowest vector the entry serves.
	FirstVector = 0x20
	// DPCVector asks a CPU to run the DPCs other CPUs queued for it (the
	// DISPATCH_LEVEL software interrupt Windows requests of a target
	// processor): class DISPATCH, so a CPU takes it only below DISPATCH,
	// where Lower would have run them anyway. Its ISR is the queue:
	// service runs nothing for it but, after its EOI, the DPCs.
	DPCVector = 0x2f
	// WakeVector ends a HLT (the idle governor's local APIC timer, wake
	// IPIs); the entry EOIs it and nothing runs for it.
	WakeVector = 0xef
	// SpuriousVector is programmed in every local APIC's SVR; the entry
	// counts it and never sends an EOI for it.
	SpuriousVector = 0xff
)

// Per local APIC ID state written by the entry (entry_amd64.s); indexed by
// the executing CPU's local APIC ID (apicID).
var (
	accepted   [256][256]uint32 // vectors accepted, per APIC ID and vector
	acceptTSC  [256][256]uint64 // TSC at the last acceptance
	pendingVec [256][4]uint64   // accepted, ISR not yet run: bit v of the 256
	nmis       [256]uint32      // NMIs taken
)

// dispatcher runs the ISR of a vector (irq.Dispatch); see SetDispatcher.
var dispatcher atomic.Pointer[func(vector uint8)]

// SetDispatcher installs fn as what service calls for each accepted vector.
// fn runs at the vector's class (CR8 = vector >> 4), IF=1, pinned on the
// CPU that accepted it, with the vector in service at its local APIC; it
// must not block or allocate and must return at that level.
//
// Context: PASSIVE, before any line is unmasked.
func SetDispatcher(fn func(vector uint8)) {
	AssertMayBlock("kernel.SetDispatcher")
	dispatcher.Store(&fn)
}

// latencyRing keeps the last dispatch latencies of one CPU: TSC cycles from
// the entry's acceptance to the dispatcher's call, with the vector.
type latencyRing struct {
	next atomic.Uint32
	v    [1024]atomic.Uint64 // cycles<<8 | vector
}

// anyPending reports whether the entry left a vector pending on this CPU.
//
// Context: pinned on the CPU of c; does not block or allocate.
func (c *perCPU) anyPending() bool {
	return rowPending(&pendingVec[c.apicRow()])
}

// apicRow returns the local APIC ID of c's CPU: its row in the entry's
// tables.
//
// Context: any IRQL, any IF; does not block or allocate.
func (c *perCPU) apicRow() uint8 {
	return uint8(c.apic.Load())
}

// rowPending reports whether any bit of a row of pendingVec is set.
func rowPending(p *[4]uint64) bool {
	return atomic.LoadUint64(&p[0])|atomic.LoadUint64(&p[1])|atomic.LoadUint64(&p[2])|atomic.LoadUint64(&p[3]) != 0
}

// takePending clears and returns the highest vector pending in p whose
// class is above lv, or -1.
//
// Context: pinned on the CPU whose row p is; does not block or allocate.
func takePending(p *[4]uint64, lv IRQL) int {
	low := (int(lv) + 1) << 4 // lowest vector of a class above lv
	for w := 3; w >= 0 && w*64+63 >= low; w-- {
		m := atomic.LoadUint64(&p[w])
		if skip := low - w*64; skip > 0 {
			m &^= 1<<skip - 1
		}
		if m == 0 {
			continue
		}
		b := 63 - bits.LeadingZeros64(m)
		atomic.AndUint64(&p[w], ^(uint64(1) << b))
		return w*64 + b
	}
	return -1
}

// service runs, on c's CPU at level lv, the ISRs of the vectors pending
// above lv, highest first, each followed by its EOI, then the DPCs they
// queued when lv is below DISPATCH. It reports whether it ran anything.
//
// Context: pinned on the CPU of c (or the idle hook on g0), CR8 = lv below
// HIGH, IF=1; does not block or allocate itself.
func (c *perCPU) service(lv IRQL) bool {
	ran := false
	at := lv // CR8
	// The row is the CPU's, which does not change while pinned on it.
	row := c.apicRow()
	for {
		v := takePending(&pendingVec[row], lv)
		if v < 0 {
			if lv >= DISPATCH || c.pending.Load() == 0 {
				return ran
			}
			if at != DISPATCH {
				c.setRaw(DISPATCH)
			}
			drainDPCs(c)
			c.setRaw(lv)
			at = lv
			ran = true
			continue
		}
		ran = true
		class := IRQL(v >> 4)
		c.setRaw(class)
		accept := acceptTSC[row][v]
		c.lat.record(uint8(v), readTSC()-accept)
		trace.Record(trace.Vector, uint64(v), accept, 0, 0)
		switch d := dispatcher.Load(); {
		case v == DPCVector: // its ISR is the DPC queue, run after the EOI
		case d != nil:
			(*d)(uint8(v))
		default:
			c.undispatched.Add(1)
		}
		if cur := Current(); cur != class || !InterruptsEnabled() {
			checkReturnLevel("ISR of vector 0x"+strconv.FormatUint(uint64(v), 16), class)
		}
		c.service(class) // vectors above this one, accepted meanwhile, end first
		trace.Record(trace.EOI, uint64(v), 0, 0, 0)
		eoi()
		// With DPCs queued, CR8 steps down to DISPATCH, where they run
		// next, rather than to lv and back up: two CR8 writes fewer.
		// Only drainDPCs, on this CPU, takes pending down, so the loop
		// does not return before it has run them and set lv.
		at = lv
		if lv < DISPATCH && c.pending.Load() != 0 {
			at = DISPATCH
		}
		c.setRaw(at)
	}
}

// setRaw writes level lv into CR8 and the shadow, with no checks and no
// safe point: service's level changes, between which it decides itself.
//
// Context: pinned on the CPU of c, IF=1; does not block or allocate.
func (c *perCPU) setRaw(lv IRQL) {
	from := c.level()
	writeCR8(uint64(lv))
	c.setLevel(lv)
	trace.Record(trace.IRQL, uint64(from), uint64(lv), 0, 0)
}

func (r *latencyRing) record(vector uint8, cycles uint64) {
	i := r.next.Add(1) - 1
	r.v[i%uint32(len(r.v))].Store(min(cycles, 1<<56-1)<<8 | uint64(vector))
}

// ServicePoint is a safe point for interrupts: when the executing CPU has
// accepted vectors above its level whose ISRs have not run, it runs them
// here. Waits that spin call it; so do Raise and Lower, the port driver's
// I/O-port accesses, and code that computes at PASSIVE (docs/DESIGN.md
// "From the IDT to the ISR").
//
// Nearly every call finds nothing pending, so it first looks at the
// executing CPU's pending row, and only a vector found there makes it
// read CR8 (a helper call under TCG). Unpinned, the goroutine may move to
// another CPU after the look; what that CPU accepted waits for its next
// safe point, as it would have.
//
// Context: any IRQL, any IF (nothing runs at HIGH or with IF=0); does not
// block or allocate itself.
func ServicePoint() {
	if rowPending(&pendingVec[apicID()]) {
		servicePoint()
	}
}

// servicePoint is ServicePoint once a vector was seen pending: it pins at
// PASSIVE and looks again on the CPU it is pinned to.
func servicePoint() {
	lv := Current()
	if lv >= HIGH || !InterruptsEnabled() {
		return
	}
	if lv == PASSIVE {
		procPin()
	}
	c := this()
	if c.anyPending() {
		c.service(lv)
	}
	if lv == PASSIVE {
		procUnpin()
	}
}

// ServiceIdle is the idle hook's safe point: it runs the ISRs of the
// vectors this CPU accepted, and the DPCs they queued, at PASSIVE, and
// reports whether it ran any.
//
// Context: the scheduler's idle hook (goos.Idle) on the M's g0 stack,
// PASSIVE, IF=1; does not block.
func ServiceIdle() bool {
	c := this()
	if !c.anyPending() && c.pending.Load() == 0 {
		return false
	}
	return c.service(PASSIVE)
}

// PendingVectors returns the executing CPU's row of pending vectors, for
// the idle governor's halt, which must not halt while one is pending.
//
// Context: pinned or the idle hook; does not block or allocate.
func PendingVectors() *[4]uint64 {
	return &pendingVec[apicID()]
}

// WakeAccepted returns the executing CPU's index and the TSC at which its
// entry last accepted WakeVector (0 if it never did), for the idle
// governor's record of how late each CPU took its local APIC timer's
// interrupt (pc.TimerAcceptLateness). The entry stamps the acceptance
// whatever the CPU was running, so unlike a wake from a halt this also
// sees a CPU that was busy.
//
// Context: pinned or the idle hook; does not block or allocate.
func WakeAccepted() (cpu int, tsc uint64) {
	a := apicID()
	return cpuOf(a).index, atomic.LoadUint64(&acceptTSC[a][WakeVector])
}

// VectorStats are the interrupt entry's counts for one CPU.
type VectorStats struct {
	CPU          int
	Accepted     [256]uint32 // per vector, taken by the entry
	NMIs         uint32
	Undispatched uint64 // vectors accepted before a dispatcher was installed
}

// Accepted returns how many times CPU cpu's entry accepted vector. It
// counts hardware deliveries only: the local APIC delivering the vector to
// that CPU; nothing in software raises it.
//
// Context: any IRQL; does not block or allocate.
func Accepted(cpu int, vector uint8) uint32 {
	return atomic.LoadUint32(&accepted[cpus[cpu].apicRow()][vector])
}

// AcceptedHere returns Accepted for the executing CPU.
//
// Context: pinned (above PASSIVE); does not block or allocate.
func AcceptedHere(vector uint8) uint32 {
	return atomic.LoadUint32(&accepted[apicID()][vector])
}

// EntryStats returns the entry's counts of every CPU.
//
// Context: PASSIVE; allocates.
func EntryStats() []VectorStats {
	out := make([]VectorStats, NumCPU())
	for i := range out {
		a := cpus[i].apicRow()
		out[i].CPU = i
		for v := range out[i].Accepted {
			out[i].Accepted[v] = atomic.LoadUint32(&accepted[a][v])
		}
		out[i].NMIs = atomic.LoadUint32(&nmis[a])
		out[i].Undispatched = cpus[i].undispatched.Load()
	}
	return out
}

// DispatchLatencies returns the TSC cycles from acceptance to dispatch of
// the last dispatches of vector, on every CPU (up to 1024 per CPU).
//
// Context: PASSIVE; allocates.
func DispatchLatencies(vector uint8) []uint64 {
	var out []uint64
	for i := 0; i < NumCPU(); i++ {
		r := &cpus[i].lat
		n := min(r.next.Load(), uint32(len(r.v)))
		for k := uint32(0); k < n; k++ {
			if e := r.v[k].Load(); uint8(e) == vector {
				out = append(out, e>>8)
			}
		}
	}
	return out
}
