// Package trace is the firmware's event recorder: a timeline of what ran on
// which CPU at which IRQL, for `trace` in the shell and for Perfetto
// (issue 12). The kernel, the interrupt layer and the ATA port record
// events into it at any level, the interrupt service path included; the
// shell prints them as text or as Chrome trace-event JSON.
//
// References:
//   - Chrome "Trace Event Format" (Google, the JSON that chrome://tracing
//     and ui.perfetto.dev load): phases B/E (spans), X (complete), i
//     (instant), C (counter), b/e (async), M (metadata).
//   - Intel SDM Vol 2 "RDTSC" (the timestamps) and Vol 3A "Interaction of
//     Task Priorities between CR8 and APIC" (the level recorded with each
//     event).
//   - msahci's RecordExecutionHistory (WDK 7600 src/storage/msahci), the
//     per-channel history this generalises (STYLE.md "Cheap traces").
//
// # Recording
//
// Each CPU has its own ring of fixed-size events, allocated by Start at
// PASSIVE. An event is written by the CPU it describes only: Record pins
// the calling goroutine (runtime.procPin) for the few stores, and the
// firmware runs no Go code in interrupt context (ISRs run at safe points:
// docs/DESIGN.md "From the IDT to the ISR"), so a ring has one writer at a
// time and needs no lock and no atomic read-modify-write; the reader sees
// an event once the ring's count, stored after it, covers it. A full ring
// keeps its oldest events and counts the ones it drops (Stats.Dropped): a
// trace is then complete from its start up to the first drop of any CPU,
// which is where Dump cuts it.
//
// When recording is off, an event site costs one atomic load and a
// predictable branch: Record is inlined down to the test of the class
// mask, and arguments that cost anything to compute are guarded by On.
package trace

import (
	"runtime"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname
)

// Kind is what an event records. Its high nibble is its Class.
type Kind uint8

// Class is a group of kinds that Start turns on together.
type Class uint8

// Classes, the bits of the mask Start takes.
const (
	ClassIRQL  Class = iota // CR8 changes
	ClassIntr               // vectors dispatched, ISRs, EOIs
	ClassSync               // masked synchronized sections
	ClassDPC                // DPCs queued and run
	ClassTimer              // kernel timers set, cancelled, fired
	ClassIdle               // the idle governor's halts
	ClassReq                // the life of each ATA request
	ClassLock               // spin lock contention
	NumClasses
)

// AllClasses is every class.
const AllClasses = 1<<NumClasses - 1

var classNames = [NumClasses]string{"irql", "intr", "sync", "dpc", "timer", "idle", "req", "lock"}

// String returns the class's name as `trace start` takes it.
func (c Class) String() string {
	if c < NumClasses {
		return classNames[c]
	}
	return "class?"
}

// ParseClass returns the class named s ("irql", "intr", ...).
func ParseClass(s string) (Class, bool) {
	for i, n := range classNames {
		if n == s {
			return Class(i), true
		}
	}
	return 0, false
}

// Event kinds, with what A, B, C and D hold.
const (
	// IRQL: CR8 was written. A the old level, B the new one.
	IRQL Kind = Kind(ClassIRQL)<<4 + iota

	// Vector: the kernel dispatches an accepted vector. A the vector,
	// B the TSC at which the interrupt entry accepted it.
	Vector Kind = Kind(ClassIntr)<<4 + iota - 1
	// ISRBegin and ISREnd bracket irq.Dispatch's ISR call: A the vector,
	// B (end) 1 when the ISR claimed the interrupt.
	ISRBegin
	ISREnd
	// EOI: A the vector retired.
	EOI

	// SyncBegin and SyncEnd bracket a masked synchronized section of a
	// line: A the vector, B the line's mask bit read back from the IOAPIC.
	SyncBegin Kind = Kind(ClassSync)<<4 + iota - 5
	SyncEnd

	// DPCQueue: A the DPC's name (Name), B its target CPU. DPCBegin and
	// DPCEnd bracket its function: A the name.
	DPCQueue Kind = Kind(ClassDPC)<<4 + iota - 7
	DPCBegin
	DPCEnd

	// TimerSet: A the timer's name, B the time to its deadline, in ns.
	// TimerCancel: A the name, B 1 when it was armed. TimerFire: A the
	// name, B the deadline on the kernel timers' clock (ns), C how late
	// it ran, in ns (saturated at 4.29 s).
	TimerSet Kind = Kind(ClassTimer)<<4 + iota - 10
	TimerCancel
	TimerFire

	// IdleHalt and IdleWake bracket the idle governor's HLT.
	IdleHalt Kind = Kind(ClassIdle)<<4 + iota - 13
	IdleWake

	// Request events: D the channel number, A the LBA (bits 0-47) and
	// the sector count (bits 48-63), C the command (bits 0-7), the
	// target device (8-15), the request block's tag (16-23) and the
	// status (24-31). StartEnd's B is 1 when StartIo took the request,
	// BuildEnd's B when BuildIo did.
	ReqSubmit Kind = Kind(ClassReq)<<4 + iota - 15
	ReqBuildBegin
	ReqBuildEnd
	ReqStartBegin
	ReqStartEnd
	ReqComplete // Port.Complete: out of flight, status final
	ReqRetire   // the completion DPC hands it back
	ReqReturn   // the submitter has it back

	// SpinWait: a CPU got a spin lock it had to wait for. A the lock
	// (LockName), B the TSC ticks it spun.
	SpinWait Kind = Kind(ClassLock)<<4 + iota - 23
)

// Class returns the kind's class.
//
// Context: any IRQL; does not block or allocate.
func (k Kind) Class() Class { return Class(k >> 4) }

// Event is one record: 32 bytes.
type Event struct {
	TSC  uint64
	A, B uint64
	C    uint32
	Kind Kind
	CPU  uint8
	CR8  uint8
	D    uint8
}

// MaxCPUs is the number of rings.
const MaxCPUs = 64

// ring is one CPU's events: n are valid, dropped did not fit.
type ring struct {
	ev      []Event
	n       atomic.Uint64
	dropped atomic.Uint64
	dropTSC atomic.Uint64 // TSC of the first drop, 0: none
}

// buffers is one Start's rings, replaced as a whole by the next Start so
// that a late writer of the previous trace never writes into this one.
type buffers struct {
	r          [MaxCPUs]ring
	startTSC   uint64
	startNanos int64
	stopTSC    atomic.Uint64
	stopNanos  atomic.Int64
	classes    uint32
}

var (
	// mask has bit c set while class c is recorded: the only word an
	// event site reads when recording is off.
	mask atomic.Uint32
	cur  atomic.Pointer[buffers]
)

// Hardware is what the recorder reads at every event; the kernel supplies
// it (Setup) because it owns these instructions.
type Hardware struct {
	TSC func() uint64 // RDTSC
	CPU func() int    // the executing CPU's index, pinned
	CR8 func() uint64 // MOV from CR8
}

var hw = Hardware{
	TSC: func() uint64 { return uint64(time.Since(epoch)) },
	CPU: func() int { return 0 },
	CR8: func() uint64 { return 0 },
}

var epoch = time.Now()

// Setup installs the kernel's hardware access.
//
// Context: PASSIVE, at init, before any Start.
func Setup(h Hardware) { hw = h }

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// On reports whether class c is being recorded: an event site whose
// arguments cost anything to compute tests it first.
//
// Context: any IRQL, any IF; does not block or allocate.
func On(c Class) bool {
	return mask.Load()&(1<<c) != 0
}

// Record records an event of kind k on the executing CPU when its class is
// on. It is inlined into the event site as one load and a branch.
//
// Context: any IRQL (DIRQL and HIGH included), any IF, the idle hook too;
// does not block, lock or allocate.
func Record(k Kind, a, b uint64, c uint32, d uint8) {
	if mask.Load()&(1<<(k>>4)) != 0 {
		record(k, a, b, c, d)
	}
}

// record writes the event into the executing CPU's ring. Pinned, the
// goroutine keeps its CPU from the CPU index to the count's store, and
// nothing else writes this ring meanwhile (package comment).
//
// Context: as Record.
func record(k Kind, a, b uint64, c uint32, d uint8) {
	bufs := cur.Load()
	if bufs == nil {
		return
	}
	procPin()
	cpu := hw.CPU()
	if cpu < 0 || cpu >= MaxCPUs {
		procUnpin()
		return
	}
	r := &bufs.r[cpu]
	n := r.n.Load()
	tsc := hw.TSC()
	if n >= uint64(len(r.ev)) {
		if r.dropped.Add(1) == 1 {
			r.dropTSC.Store(tsc)
		}
		procUnpin()
		return
	}
	r.ev[n] = Event{TSC: tsc, A: a, B: b, C: c, Kind: k, CPU: uint8(cpu), CR8: uint8(hw.CR8()), D: d}
	r.n.Store(n + 1)
	procUnpin()
}

// DefaultSize is the events per CPU Start keeps when given 0.
const DefaultSize = 16384

// Start begins a new trace of the classes in classes (a mask of 1<<Class)
// with size events per CPU and ncpu CPUs, discarding the previous one.
//
// The previous trace's rings are kept when they have the new size, with
// their counts reset. A record that loaded the previous trace before the
// swap may still write one event into its CPU's ring; it runs pinned on
// that CPU, the only one that writes the ring, so it lands at or beyond
// the new count and is overwritten or never read.
//
// Context: PASSIVE; when the size changes, allocates ncpu*size*32 bytes
// after collecting the previous trace's rings: at the largest size both
// would not fit the Go runtime's 512 MiB on four CPUs (board/pc/pc.go).
// Collecting stops the world, which TamaGo's runtime can panic in (README
// "Known problems"), hence the reuse.
func Start(classes uint32, size, ncpu int) {
	mask.Store(0)
	if size <= 0 {
		size = DefaultSize
	}
	ncpu = min(ncpu, MaxCPUs)
	b := &buffers{classes: classes & AllClasses}
	if old := cur.Swap(nil); old != nil {
		if old.sized(size, ncpu) {
			for i := 0; i < ncpu; i++ {
				b.r[i].ev = old.r[i].ev
			}
		} else {
			runtime.GC()
		}
	}
	for i := 0; i < ncpu; i++ {
		if b.r[i].ev == nil {
			b.r[i].ev = make([]Event, size)
		}
	}
	b.startTSC, b.startNanos = hw.TSC(), time.Since(epoch).Nanoseconds()
	cur.Store(b)
	mask.Store(b.classes)
}

// sized reports whether b has a ring of size events for each of ncpu CPUs.
func (b *buffers) sized(size, ncpu int) bool {
	for i := 0; i < MaxCPUs; i++ {
		if (len(b.r[i].ev) == size) != (i < ncpu) {
			return false
		}
	}
	return true
}

// Stop ends recording; the events stay for Events and Dump.
//
// Context: any IRQL; does not block or allocate.
func Stop() {
	if mask.Swap(0) == 0 {
		return
	}
	if b := cur.Load(); b != nil {
		b.stopTSC.Store(hw.TSC())
		b.stopNanos.Store(time.Since(epoch).Nanoseconds())
	}
}

// Running reports whether a trace is being recorded.
func Running() bool { return mask.Load() != 0 }

// Stats describe the current trace.
type Stats struct {
	Classes  uint32
	Size     int      // events per CPU
	Recorded []uint64 // per CPU
	Dropped  []uint64 // per CPU: the ring was full
}

// Stat returns the current trace's counts.
//
// Context: PASSIVE; allocates.
func Stat() Stats {
	b := cur.Load()
	if b == nil {
		return Stats{}
	}
	s := Stats{Classes: b.classes}
	for i := range b.r {
		r := &b.r[i]
		if r.ev == nil {
			continue
		}
		s.Size = len(r.ev)
		s.Recorded = append(s.Recorded, r.n.Load())
		s.Dropped = append(s.Dropped, r.dropped.Load())
	}
	return s
}

// Bool is b as an event argument: 1 or 0.
//
// Context: any IRQL; does not block or allocate.
func Bool(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Now returns the TSC when class c is recorded, 0 otherwise: the start of
// a wait that an event records when it ends (Contended).
//
// Context: any IRQL; does not block or allocate.
func Now(c Class) uint64 {
	if mask.Load()&(1<<c) != 0 {
		return hw.TSC()
	}
	return 0
}

// locks are the spin locks SpinWait events name, by the address of
// their Name: filled without a lock, at most len(locks) of them.
var locks [64]atomic.Pointer[string]

// Contended records a SpinWait for the lock named *name, which the caller
// began waiting for at TSC since (Now); nothing when since is 0.
//
// Context: any IRQL; does not block, lock or allocate.
func Contended(name *string, since uint64) {
	if since == 0 || mask.Load()&(1<<ClassLock) == 0 {
		return
	}
	record(SpinWait, lockID(name), hw.TSC()-since, 0, 0)
}

// lockID returns the slot of name in locks, taking a free one the first
// time; len(locks) when all are taken by other locks.
//
// Context: as Contended.
func lockID(name *string) uint64 {
	for i := range locks {
		p := locks[i].Load()
		if p == nil && locks[i].CompareAndSwap(nil, name) || p == name || locks[i].Load() == name {
			return uint64(i)
		}
	}
	return uint64(len(locks))
}

// LockName returns the name of the lock SpinWait events number id.
func LockName(id uint64) string {
	if id < uint64(len(locks)) {
		if p := locks[id].Load(); p != nil {
			return *p
		}
	}
	return "?"
}
