package ata

import (
	"errors"
	"sync/atomic"

	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/kernel"
)

// maxShared is the most channels one shared interrupt serves: an AHCI HBA
// has at most 32 ports.
const maxShared = 32

// SharedInterrupt is one interrupt serving every channel of a controller,
// as an AHCI HBA's single MSI message does (AHCI 1.3.1 §10.7.2: one
// interrupt, IS telling the ports apart); the ataport model then runs each
// channel's HwInterrupt under the one interrupt object's lock. Its Connect
// method is the Config.Connect of the controller: the first call connects
// the interrupt, with an ISR that runs every channel's ISR; each call
// returns that channel's view, which shares the lock and the mask.
type SharedInterrupt struct {
	connect func(isr irq.ISR) (Interrupt, error)
	intr    Interrupt
	n       atomic.Int32
	isrs    [maxShared]atomic.Pointer[irq.ISR]
	pending [maxShared]atomic.Pointer[func() bool]
}

// NewSharedInterrupt returns a shared interrupt that connect connects on
// first use (irq.ConnectMSI on the firmware).
func NewSharedInterrupt(connect func(isr irq.ISR) (Interrupt, error)) *SharedInterrupt {
	return &SharedInterrupt{connect: connect}
}

// Connect is a ConnectFunc: the line and level are the connect function's
// business and ignored here.
//
// Context: PASSIVE (attach); allocates.
func (s *SharedInterrupt) Connect(name string, _ irq.Line, _ kernel.IRQL, isr irq.ISR) (Interrupt, error) {
	kernel.AssertMayBlock("ata: SharedInterrupt.Connect")
	i := int(s.n.Load())
	if i == maxShared {
		return nil, errors.New("more than 32 channels on one shared interrupt")
	}
	s.isrs[i].Store(&isr)
	s.n.Store(int32(i + 1))
	if s.intr == nil {
		intr, err := s.connect(s.isr)
		if err != nil {
			return nil, err
		}
		intr.SetPending(s.anyPending)
		s.intr = intr
	}
	v := &sharedView{s: s, idx: i}
	v.others = v.serviceOthers
	return v, nil
}

// isr runs the ISR of every channel and reports whether one claimed the
// interrupt.
//
// Context: the interrupt's DIRQL, IF=1, the vector in service, the lock
// held; does not block or allocate.
func (s *SharedInterrupt) isr() bool {
	mine := false
	for i := range int(s.n.Load()) {
		if p := s.isrs[i].Load(); p != nil && (*p)() {
			mine = true
		}
	}
	return mine
}

// anyPending is the interrupt's pending hook: whether any channel's device
// signalled while the interrupt was masked.
//
// Context: the interrupt's DIRQL, IF=1, the lock held; does not block or
// allocate.
func (s *SharedInterrupt) anyPending() bool {
	any := false
	for i := range int(s.n.Load()) {
		if p := s.pending[i].Load(); p != nil && (*p)() {
			any = true
		}
	}
	return any
}

// sharedView is one channel's Interrupt on a SharedInterrupt.
type sharedView struct {
	s      *SharedInterrupt
	idx    int
	others func() // serviceOthers, made once: a method value allocates
}

// Lock returns the shared interrupt's lock: every channel of the
// controller runs its ISR and synchronized sections under it.
//
// Context: any IRQL; does not block or allocate.
func (v *sharedView) Lock() *kernel.InterruptLock { return v.s.intr.Lock() }

// Synchronize runs fn under the shared interrupt's lock at its DIRQL.
//
// Context: as Interrupt.Synchronize.
func (v *sharedView) Synchronize(fn func()) { v.s.intr.Synchronize(fn) }

// Masked reads the shared interrupt's mask back.
//
// Context: any IRQL; does not block or allocate.
func (v *sharedView) Masked() bool { return v.s.intr.Masked() }

// MaskChanges counts the shared line's mask writes outside the port's
// masked sections.
//
// Context: any IRQL; does not block or allocate.
func (v *sharedView) MaskChanges() uint64 { return v.s.intr.MaskChanges() }

// AcceptedHere counts the deliveries of the shared vector to this CPU by
// its local APIC (the kernel's entry: hardware only).
//
// Context: pinned; does not block or allocate.
func (v *sharedView) AcceptedHere() uint32 { return v.s.intr.AcceptedHere() }

// SetPending installs the channel's pending hook.
//
// Context: PASSIVE; allocates.
func (v *sharedView) SetPending(fn func() bool) {
	kernel.AssertMayBlock("ata: SetPending")
	v.s.pending[v.idx].Store(&fn)
}

// SynchronizeMasked runs fn with the shared interrupt masked. When a
// device signalled meanwhile, the other channels' interrupts are serviced
// here, and the answer tells the caller to service its own: the caller
// knows only its channel, and an event of another one must not wait for
// the next interrupt.
//
// Context: as Interrupt.SynchronizeMasked.
func (v *sharedView) SynchronizeMasked(fn func()) bool {
	signalled := v.s.intr.SynchronizeMasked(fn)
	if signalled {
		v.s.intr.Synchronize(v.others)
	}
	return signalled
}

// serviceOthers runs the ISR of every other channel whose device
// signalled.
//
// Context: the interrupt's DIRQL, IF=1, the lock held; does not block or
// allocate.
func (v *sharedView) serviceOthers() {
	s := v.s
	for i := range int(s.n.Load()) {
		if i == v.idx {
			continue
		}
		if p := s.pending[i].Load(); p != nil && (*p)() {
			if isr := s.isrs[i].Load(); isr != nil {
				(*isr)()
			}
		}
	}
}
