// Package irq connects device interrupt lines and test vectors to interrupt
// service routines, the interrupt objects of the Windows model
// (IoConnectInterrupt, KeSynchronizeExecution): a line connected at DIRQL d
// gets a vector of priority class d, so CR8 = d masks it with every lower
// line on this CPU, and its interrupt spin lock excludes the ISR across
// CPUs.
//
// References:
//   - Intel 82093AA I/O Advanced Programmable Interrupt Controller (IOAPIC)
//     datasheet, order number 290566-001, May 1996 (package ioapic).
//   - Intel 64 and IA-32 Architectures Software Developer's Manual, Volume
//     3A (Order Number 253668), chapter "Advanced Programmable Interrupt
//     Controller (APIC)" (chapter 10 in older editions, 11 in current ones),
//     "Interrupt, Task, and Processor Priority" (10.8.3 / 11.8.3) (package
//     lapic), and 6.2 "Exception and Interrupt Vectors".
//   - ACPI Specification 6.5 (August 2022), 5.2.12 "Multiple APIC
//     Description Table (MADT)": I/O APIC structures and Interrupt Source
//     Overrides give the IOAPICs and the GSI, trigger and polarity of each
//     line, which the board passes in.
//   - docs/DESIGN.md "IRQL is the local APIC task priority" and "Who runs
//     where".
//
// # Dispatch
//
// The firmware owns the path from the IDT to the ISR (package kernel,
// intr.go, and docs/DESIGN.md "From the IDT to the ISR"): the entry of
// every vector records it on the CPU that accepted it and leaves it in
// service at that CPU's local APIC; the kernel runs Dispatch for it at the
// first safe point of that CPU where the vector's class is above the level,
// at that class, and sends the EOI once Dispatch and any higher vector
// accepted meanwhile are done. So the hardware priority decides both when a
// vector is accepted and when its ISR may run, on every CPU: a line of
// higher DIRQL is accepted, and its ISR runs at the first safe point, while
// a lower one's ISR runs or waits; a lower one stays held while a higher
// one's runs. Init installs Dispatch and gives every local APIC the
// kernel's spurious vector.
package irq

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/board/acpi"
	"github.com/ataport/firmware/irq/ioapic"
	"github.com/ataport/firmware/irq/lapic"
	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/kernel/trace"
)

// BSPAPICID is the destination of every device line. Any CPU could serve
// a line now that each sends its own EOIs; one destination keeps the
// order of a line's interrupts that of their arrival.
const BSPAPICID = 0

// Trigger and Polarity are the ACPI MADT's (board/acpi): a line is
// programmed as the MADT describes it (82093AA 3.2.4, TRIGGER and INTPOL).
type (
	Trigger  = acpi.Trigger
	Polarity = acpi.Polarity
)

// Trigger modes and polarities.
const (
	Edge       = acpi.Edge
	Level      = acpi.Level
	ActiveHigh = acpi.ActiveHigh
	ActiveLow  = acpi.ActiveLow
)

// Line is an interrupt line: a global system interrupt with its trigger mode
// and polarity, as the MADT (an Interrupt Source Override, or the ISA
// default edge/high) gives them.
type Line struct {
	GSI      uint32
	Trigger  Trigger
	Polarity Polarity
}

// HasLine reports whether the interrupt comes through an IOAPIC line
// (Connect) rather than a bare vector (ConnectVector).
//
// Context: any IRQL; does not block or allocate.
func (i *Interrupt) HasLine() bool { return i.io != nil }

// AcceptedHere returns how many times the executing CPU's local APIC
// delivered the interrupt's vector to it, counted by the kernel's entry:
// hardware deliveries only.
//
// Context: pinned (above PASSIVE); does not block or allocate.
func (i *Interrupt) AcceptedHere() uint32 {
	return kernel.AcceptedHere(i.vector)
}

// Accepted returns how many times any CPU accepted the interrupt's vector.
//
// Context: any IRQL; does not block or allocate.
func (i *Interrupt) Accepted() uint64 {
	var n uint64
	for cpu := 0; cpu < kernel.NumCPU(); cpu++ {
		n += uint64(kernel.Accepted(cpu, i.vector))
	}
	return n
}

// ISR is an interrupt service routine (HwInterrupt). It returns true when
// its device interrupted, false when not ("not mine").
//
// Context: the interrupt's DIRQL, IF=1, the interrupt lock held, the vector
// in service at the BSP's local APIC until the EOI after it returns; must
// not block or allocate.
type ISR func() bool

// Stats are the counters of one interrupt object.
type Stats struct {
	Count   uint64 // the ISR returned true
	NotMine uint64 // the ISR returned false
}

// Counters are the counters of interrupts that reached no ISR; neither is
// fatal. Spurious counts the entry's acceptances of the kernel's spurious
// vector, programmed in every local APIC's SVR, on all CPUs.
type Counters struct {
	Unexpected uint64 // a vector with no connected interrupt
	Spurious   uint64 // the local APIC's spurious vector
}

// Interrupt is an interrupt object (KINTERRUPT): an ISR connected to a
// vector, through an IOAPIC line or (ConnectVector) without one.
type Interrupt struct {
	name   string
	line   Line
	vector uint8
	isr    ISR
	lock   kernel.InterruptLock

	io  *ioapic.IOAPIC // nil for ConnectVector and ConnectMSI
	pin int

	mask *MaskHook // ConnectMSI: the device-side mask; nil otherwise

	// held counts the MaskFor calls whose time has not run out; while it
	// is above 0 the line stays masked. Under the interrupt lock.
	held int
	// maskChanges counts MaskFor's writes of the mask bit.
	maskChanges atomic.Uint64

	connected atomic.Bool
	pending   atomic.Pointer[func() bool]
	count     atomic.Uint64
	notMine   atomic.Uint64
}

var (
	// mu serializes Connect, Disconnect and Init, at PASSIVE.
	mu        sync.Mutex
	ioapics   []*ioapic.IOAPIC
	local     *lapic.LAPIC
	allocator vectorAllocator
	lines     []*Interrupt

	// byVector is what Dispatch looks vectors up in: no map, no lock.
	byVector [256]atomic.Pointer[Interrupt]

	unexpected     atomic.Uint64
	errNotInit     = errors.New("irq: Init has not been called")
	errLevelRange  = errors.New("level out of range")
	errNilISR      = errors.New("nil ISR")
	errNoIOAPICFor = errors.New("no IOAPIC has GSI")
)

// IOAPICConfig describes one IOAPIC as an I/O APIC Structure of the MADT
// gives it.
type IOAPICConfig struct {
	ID      uint8  // I/O APIC ID
	Base    uint32 // I/O APIC Address
	GSIBase uint32 // Global System Interrupt Base
}

// Init takes the IOAPICs found in the MADT and the local APIC base (MADT
// Local Interrupt Controller Address, normally 0xFEE00000): it initializes
// each IOAPIC, masking every redirection entry, programs the kernel's
// spurious vector into the local APIC of every CPU, and installs Dispatch
// as the kernel's dispatcher and the local APIC's IPI as the way to send
// a CPU the kernel's DPC vector.
//
// Context: PASSIVE, IF=1, after kernel.Init and kernel.InstallEntry and
// before any Connect; may block and allocate. Returns an error for no
// IOAPIC, overlapping GSI ranges, or an IOAPIC that does not answer.
func Init(cfgs []IOAPICConfig, lapicBase uint32) error {
	kernel.AssertLevel("irq.Init", kernel.PASSIVE, kernel.PASSIVE)
	if len(cfgs) == 0 {
		return errors.New("irq: Init: no IOAPIC")
	}
	if lapicBase == 0 {
		return errors.New("irq: Init: no local APIC base")
	}
	mu.Lock()
	defer mu.Unlock()
	var ios []*ioapic.IOAPIC
	for _, c := range cfgs {
		io := &ioapic.IOAPIC{ID: c.ID, Base: c.Base, GSIBase: c.GSIBase}
		if err := io.Init(); err != nil {
			return err
		}
		for _, o := range ios {
			if c.GSIBase < o.GSIBase+uint32(o.Entries()) && o.GSIBase < c.GSIBase+uint32(io.Entries()) {
				return errors.New("irq: Init: IOAPIC " + strconv.Itoa(int(c.ID)) +
					" overlaps the GSIs of IOAPIC " + strconv.Itoa(int(o.ID)))
			}
		}
		ios = append(ios, io)
	}
	ioapics = ios
	local = &lapic.LAPIC{Base: lapicBase}
	if err := kernel.OnEachCPU(func() { local.SetSpuriousVector(kernel.SpuriousVector) }); err != nil {
		return errors.New("irq: Init: spurious vector set-up: " + err.Error())
	}
	kernel.SetDispatcher(Dispatch)
	kernel.SetDispatchIPI(func(apic uint8) error { return local.IPI(apic, kernel.DPCVector) })
	return nil
}

// LAPIC returns the local APIC driver (nil before Init), for the self-test
// to read TPR, PPR, IRR and ISR.
//
// Context: any IRQL; does not block or allocate.
func LAPIC() *lapic.LAPIC {
	return local
}

// IOAPICs returns the IOAPICs given to Init.
//
// Context: PASSIVE; allocates.
func IOAPICs() []*ioapic.IOAPIC {
	kernel.AssertMayBlock("irq.IOAPICs")
	mu.Lock()
	defer mu.Unlock()
	return append([]*ioapic.IOAPIC(nil), ioapics...)
}

// Connect connects isr to line at DIRQL dirql (IoConnectInterrupt): it
// allocates a vector of class dirql (vector>>4 == dirql), programs the
// line's IOAPIC entry (that vector, fixed delivery, physical destination
// BSPAPICID, the line's trigger mode and polarity) and unmasks it.
//
// Context: PASSIVE, IF=1; may block and allocate. Returns an error before
// Init, for a level outside DIRQLMin..DIRQLMax, a nil isr, a GSI no IOAPIC
// has or one already connected, or when the class has no free vector.
func Connect(name string, line Line, dirql kernel.IRQL, isr ISR) (*Interrupt, error) {
	kernel.AssertLevel("irq.Connect", kernel.PASSIVE, kernel.PASSIVE)
	if !dirql.DIRQL() {
		return nil, errors.New("irq: Connect(" + name + "): " + dirql.String() + ": " + errLevelRange.Error() +
			", want DIRQL3..DIRQL12")
	}
	if isr == nil {
		return nil, errors.New("irq: Connect(" + name + "): " + errNilISR.Error())
	}
	mu.Lock()
	defer mu.Unlock()
	if local == nil {
		return nil, errNotInit
	}
	var io *ioapic.IOAPIC
	pin := 0
	for _, c := range ioapics {
		if p, ok := c.Pin(line.GSI); ok {
			io, pin = c, p
			break
		}
	}
	gsi := strconv.FormatUint(uint64(line.GSI), 10)
	if io == nil {
		return nil, errors.New("irq: Connect(" + name + "): " + errNoIOAPICFor.Error() + " " + gsi)
	}
	for _, o := range lines {
		if o.io != nil && o.line.GSI == line.GSI {
			return nil, errors.New("irq: Connect(" + name + "): GSI " + gsi + " already connected to " + o.name)
		}
	}
	i, err := newInterrupt(name, dirql, isr)
	if err != nil {
		return nil, err
	}
	i.line, i.io, i.pin = line, io, pin
	io.Write(pin, ioapic.Entry{
		Vector:       i.vector,
		DeliveryMode: ioapic.DELMOD_FIXED,
		ActiveLow:    line.Polarity == ActiveLow,
		Level:        line.Trigger == Level,
		Masked:       false,
		Destination:  BSPAPICID,
	})
	return i, nil
}

// ConnectVector connects isr to a vector of class level that no IOAPIC line
// drives, for the self-test to raise with SelfIPI.
//
// Context: PASSIVE, IF=1; may block and allocate. Returns an error for a
// level outside DISPATCH..HIGH, a nil isr, or when the class has no free
// vector.
func ConnectVector(name string, level kernel.IRQL, isr ISR) (*Interrupt, error) {
	kernel.AssertLevel("irq.ConnectVector", kernel.PASSIVE, kernel.PASSIVE)
	if isr == nil {
		return nil, errors.New("irq: ConnectVector(" + name + "): " + errNilISR.Error())
	}
	mu.Lock()
	defer mu.Unlock()
	return newInterrupt(name, level, isr)
}

// newInterrupt allocates the vector, publishes the object for Dispatch and
// lists it.
//
// Context: PASSIVE, mu held.
func newInterrupt(name string, level kernel.IRQL, isr ISR) (*Interrupt, error) {
	v, err := allocator.alloc(level)
	if err != nil {
		return nil, errors.New("irq: connect " + name + ": " + err.Error())
	}
	i := &Interrupt{name: name, vector: v, isr: isr}
	i.lock.Name = name
	i.lock.Level = level
	i.connected.Store(true)
	byVector[v].Store(i)
	lines = append(lines, i)
	return i, nil
}

// Disconnect masks the line, waits for a running ISR to finish (by taking
// the interrupt lock), unpublishes the vector and frees it
// (IoDisconnectInterrupt). Disconnecting twice panics.
//
// Context: PASSIVE, IF=1; may block.
func (i *Interrupt) Disconnect() {
	kernel.AssertLevel("Interrupt.Disconnect", kernel.PASSIVE, kernel.PASSIVE)
	mu.Lock()
	defer mu.Unlock()
	if !i.connected.Load() {
		kernel.Bugcheck("irq: Disconnect(" + i.name + "): not connected")
	}
	if i.io != nil {
		i.io.Mask(i.pin)
	}
	old := i.lock.Acquire()
	if i.mask != nil {
		i.mask.Set(true)
	}
	i.connected.Store(false)
	i.lock.Release(old)
	byVector[i.vector].Store(nil)
	allocator.free(i.vector)
	for k, o := range lines {
		if o == i {
			lines = append(lines[:k], lines[k+1:]...)
			break
		}
	}
}

// Name returns the interrupt's name.
//
// Context: any IRQL; does not block or allocate.
func (i *Interrupt) Name() string { return i.name }

// Vector returns the interrupt's vector.
//
// Context: any IRQL; does not block or allocate.
func (i *Interrupt) Vector() uint8 { return i.vector }

// Level returns the interrupt's IRQL (its DIRQL), the class of its vector.
//
// Context: any IRQL; does not block or allocate.
func (i *Interrupt) Level() kernel.IRQL { return i.lock.Level }

// Line returns the line the interrupt was connected to (zero for
// ConnectVector).
//
// Context: any IRQL; does not block or allocate.
func (i *Interrupt) Line() Line { return i.line }

// Lock returns the interrupt spin lock; the ISR runs holding it at Level().
//
// Context: any IRQL; does not block or allocate.
func (i *Interrupt) Lock() *kernel.InterruptLock { return &i.lock }

// SetPending installs fn, the device-side check "did the device signal an
// interrupt?", that SynchronizeMasked calls after unmasking the line.
//
// Context: PASSIVE; allocates. fn runs at the interrupt's DIRQL, IF=1, the
// interrupt lock held, the line unmasked unless MaskFor holds it masked; it
// must not block or allocate.
func (i *Interrupt) SetPending(fn func() bool) {
	kernel.AssertMayBlock("Interrupt.SetPending")
	i.pending.Store(&fn)
}

// Synchronize runs fn at the interrupt's DIRQL holding its interrupt lock,
// so that fn and the ISR never run at the same time on any CPU
// (KeSynchronizeExecution, AtaPortRequestSynchronizedRoutine).
//
// Context: PASSIVE..Level(), any IF; does not block or allocate; spins for
// the lock. fn runs at Level(), IF=1, the lock held, the line unmasked
// unless MaskFor holds it masked; it must not block or allocate.
func (i *Interrupt) Synchronize(fn func()) {
	kernel.AssertLevel("Interrupt.Synchronize", kernel.PASSIVE, i.lock.Level)
	old := i.lock.Acquire()
	fn()
	i.lock.Release(old)
}

// SynchronizeMasked runs fn as Synchronize does, with the line also masked
// at the IOAPIC around fn (HwReset and synchronized routines that must not
// see the line fire); an interrupt connected by ConnectMSI is masked at
// the device, through its MaskHook. After unmasking, still at DIRQL
// holding the lock, it calls the SetPending hook and returns its answer: an
// edge that arrived while the line was masked is lost (PLATFORM.md), so
// when signalled is true the caller services the completion itself. Without a hook it
// returns false; without a line (ConnectVector) nothing is masked.
//
// Context: PASSIVE..Level(), any IF; does not block or allocate; spins for
// the lock. fn runs at Level(), IF=1, the lock held, the line masked; it
// must not block or allocate.
func (i *Interrupt) SynchronizeMasked(fn func()) (signalled bool) {
	kernel.AssertLevel("Interrupt.SynchronizeMasked", kernel.PASSIVE, i.lock.Level)
	old := i.lock.Acquire()
	if i.io != nil {
		i.io.Mask(i.pin)
	} else if i.mask != nil {
		i.mask.Set(true)
	}
	if trace.On(trace.ClassSync) { // the mask bit read back costs an IOAPIC read
		trace.Record(trace.SyncBegin, uint64(i.vector), trace.Bool(i.Masked()), 0, 0)
	}
	fn()
	if trace.On(trace.ClassSync) {
		trace.Record(trace.SyncEnd, uint64(i.vector), trace.Bool(i.Masked()), 0, 0)
	}
	if i.io != nil {
		if i.held == 0 {
			i.io.Unmask(i.pin)
		}
	} else if i.mask != nil {
		i.mask.Set(false)
	}
	if p := i.pending.Load(); p != nil {
		signalled = (*p)()
	}
	i.lock.Release(old)
	return signalled
}

// MaskFor masks the line at its IOAPIC now and unmasks it d later, in the
// background: a fault injected to lose the edges that arrive meanwhile,
// since the IOAPIC ignores an edge on a masked input (82093AA 3.2.4,
// Interrupt Mask), so that a driver's own recovery from a lost interrupt
// (a lost-interrupt poll, a timeout) can be proven. While the time runs,
// SynchronizeMasked leaves the line masked, and it still calls the
// SetPending hook; calls that overlap unmask once the last one's time is
// up.
//
// Context: PASSIVE; may block and allocate. Returns an error for an
// interrupt with no IOAPIC line (ConnectVector, ConnectMSI).
func (i *Interrupt) MaskFor(d time.Duration) error {
	kernel.AssertMayBlock("Interrupt.MaskFor")
	if i.io == nil {
		return errors.New("irq: " + i.name + ": no IOAPIC line to mask")
	}
	i.Synchronize(func() {
		i.held++
		i.io.Mask(i.pin)
		i.maskChanges.Add(1)
	})
	time.AfterFunc(d, func() {
		i.Synchronize(func() {
			if i.held--; i.held == 0 && i.connected.Load() {
				i.io.Unmask(i.pin)
				i.maskChanges.Add(1)
			}
		})
	})
	return nil
}

// MaskChanges counts MaskFor's writes of the line's mask bit, each counted
// once the IOAPIC has it: a reader that keeps an answer of Masked() must
// read again once the count moved.
//
// Context: any IRQL; does not block or allocate.
func (i *Interrupt) MaskChanges() uint64 { return i.maskChanges.Load() }

// Masked reports whether the line is masked, read back from its IOAPIC
// redirection entry, or for ConnectMSI from the device (MaskHook.Masked);
// false for ConnectVector.
//
// Context: PASSIVE..HIGH, any IF; does not block or allocate.
func (i *Interrupt) Masked() bool {
	if i.mask != nil {
		return i.mask.Masked()
	}
	if i.io == nil {
		return false
	}
	return i.io.Masked(i.pin)
}

// Stats returns the interrupt's counters.
//
// Context: any IRQL; does not block or allocate.
func (i *Interrupt) Stats() Stats {
	return Stats{Count: i.count.Load(), NotMine: i.notMine.Load()}
}

// Lines returns the connected interrupts, lines and test vectors, in the
// order they were connected.
//
// Context: PASSIVE; allocates.
func Lines() []*Interrupt {
	kernel.AssertMayBlock("irq.Lines")
	mu.Lock()
	defer mu.Unlock()
	return append([]*Interrupt(nil), lines...)
}

// AllocVector reserves a free vector of class level (vector>>4 == level)
// for a test that handles it without an interrupt object.
//
// Context: PASSIVE; may block. Returns an error for a level outside
// DISPATCH..HIGH or when the class is full.
func AllocVector(level kernel.IRQL) (uint8, error) {
	kernel.AssertMayBlock("irq.AllocVector")
	mu.Lock()
	defer mu.Unlock()
	return allocator.alloc(level)
}

// FreeVector releases a vector from AllocVector.
//
// Context: PASSIVE; may block. Panics when v is not allocated or an
// interrupt object is connected to it.
func FreeVector(v uint8) {
	kernel.AssertMayBlock("irq.FreeVector")
	mu.Lock()
	defer mu.Unlock()
	if i := byVector[v].Load(); i != nil {
		kernel.Bugcheck("irq: FreeVector: vector 0x" + strconv.FormatUint(uint64(v), 16) + " belongs to " + i.name)
	}
	allocator.free(v)
}

// Dispatch runs the interrupt object of vector (the kernel's dispatcher):
// it takes the interrupt lock, calls the ISR, counts the answer and
// releases the lock. A vector with no interrupt object counts as
// unexpected, which is not fatal.
//
// Context: the vector's class (CR8 = vector >> 4, the interrupt's DIRQL),
// IF=1, pinned on the CPU whose local APIC accepted the vector, which stays
// in service there until the kernel's EOI after Dispatch returns; does not
// block or allocate.
func Dispatch(vector uint8) {
	i := byVector[vector].Load()
	if i == nil {
		unexpected.Add(1)
		return
	}
	if cur := kernel.Current(); cur != i.lock.Level {
		kernel.Bugcheck("irq: Dispatch(" + i.name + ") at " + cur.String() + ", must run at " + i.lock.Level.String())
	}
	i.lock.AcquireAtLevel()
	trace.Record(trace.ISRBegin, uint64(vector), 0, 0, 0)
	claimed := false
	switch {
	case !i.connected.Load():
		unexpected.Add(1)
	case i.isr():
		i.count.Add(1)
		claimed = true
	default:
		i.notMine.Add(1)
	}
	trace.Record(trace.ISREnd, uint64(vector), trace.Bool(claimed), 0, 0)
	if kernel.Current() != i.lock.Level || !kernel.InterruptsEnabled() {
		kernel.Bugcheck("irq: ISR " + i.name + " returned at " + kernel.Current().String() +
			" or with IF=0, must return at " + i.lock.Level.String())
	}
	i.lock.ReleaseAtLevel()
}

// Totals returns the counters of unexpected and spurious interrupts.
//
// Context: any IRQL; does not block or allocate.
func Totals() Counters {
	var spurious uint64
	for cpu := 0; cpu < kernel.NumCPU(); cpu++ {
		spurious += uint64(kernel.Accepted(cpu, kernel.SpuriousVector))
	}
	return Counters{Unexpected: unexpected.Load(), Spurious: spurious}
}

// SelfIPI sends vector to the executing CPU: fixed delivery, edge. The
// vector is accepted when the CPU's priority allows it, and its ISR runs at
// the CPU's next safe point where its class is above the level.
//
// Context: DISPATCH..HIGH (pinned); does not block or allocate. Returns an
// error before Init or when the ICR stays busy.
func SelfIPI(vector uint8) error {
	kernel.AssertLevel("irq.SelfIPI", kernel.DISPATCH, kernel.HIGH)
	if local == nil {
		return errNotInit
	}
	return local.SelfIPI(vector)
}
