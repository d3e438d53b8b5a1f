package ata

import (
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/kernel"
)

// Fault injection at the channel's ISR (the shell's `ata inject`): the
// interrupts a device raises are dropped, as if their edges were lost on
// the way to the IOAPIC, or serviced late, as from a slow device. Nothing
// is injected unless asked for. The port's lost-interrupt check (see
// timeoutLocked) is what recovers a dropped interrupt; a delayed one is
// serviced by a timer through the same check, so an injection never makes
// the port touch a device that has not signalled. BuildIo can be made
// slow too: the port stalls inside it, at DISPATCH with interrupts on, as
// a miniport that takes long to build a request would, so that the
// interrupt of the request in flight falls inside it (what
// TestContextsUnderLoad needs when the load alone did not do it).

// Injection is a channel's fault injection setting.
type Injection struct {
	Drop         uint64        // interrupts still to be dropped
	Delay        time.Duration // how late each interrupt is serviced; 0: at once
	BuildIoStall time.Duration // how much longer each BuildIo takes
}

// injector is the state of a channel's fault injection.
type injector struct {
	on    atomic.Bool  // Drop or Delay is set: the ISR looks further
	drop  atomic.Int64 // interrupts still to drop
	delay atomic.Int64 // nanoseconds each interrupt waits
	stall atomic.Int64 // nanoseconds each BuildIo stalls

	// Under the channel's interrupt lock: a delayed service is due.
	armed bool

	timer *kernel.Timer // services the delayed interrupt
	thunk func()        // delayedLocked, made once
}

// setupInjector makes the injector's timer and thunk.
//
// Context: PASSIVE; allocates.
func (ch *Channel) setupInjector() {
	ch.inj.thunk = ch.delayedLocked
	ch.inj.timer = kernel.NewTimer(ch.name+" injected delay", ch.onDelayed)
}

// InjectDrop has the channel's ISR ignore the next n interrupts, as if
// their edges never arrived: the device keeps its interrupt pending until
// the port's lost-interrupt check services it. It replaces an earlier
// count.
//
// Context: any IRQL up to DISPATCH; does not block or allocate.
func (ch *Channel) InjectDrop(n uint64) {
	ch.inj.drop.Store(int64(min(n, 1<<62)))
	ch.inj.on.Store(true)
}

// InjectDelay has the channel's ISR leave each interrupt to a timer that
// services it d later, as a slow device would complete its commands late;
// d of 0 ends the delay.
//
// Context: any IRQL up to DISPATCH; does not block or allocate.
func (ch *Channel) InjectDelay(d time.Duration) {
	ch.inj.delay.Store(int64(max(d, 0)))
	ch.inj.on.Store(true)
}

// InjectBuildIoStall has each BuildIo of the channel stall d longer,
// inside the call, at DISPATCH with interrupts on; d of 0 ends it. At most
// 10 ms, the longest the port lets a CPU stay at DISPATCH for it.
//
// Context: any IRQL up to DISPATCH; does not block or allocate.
func (ch *Channel) InjectBuildIoStall(d time.Duration) {
	ch.inj.stall.Store(int64(min(max(d, 0), MaxBuildIoStall)))
}

// MaxBuildIoStall bounds InjectBuildIoStall: a CPU at DISPATCH runs no
// DPC, timer or goroutine meanwhile.
const MaxBuildIoStall = 10 * time.Millisecond

// InjectOff ends the channel's fault injection; an interrupt already left
// to the delay timer is still serviced by it.
//
// Context: any IRQL up to DISPATCH; does not block or allocate.
func (ch *Channel) InjectOff() {
	ch.inj.on.Store(false)
	ch.inj.drop.Store(0)
	ch.inj.delay.Store(0)
	ch.inj.stall.Store(0)
}

// Injection returns the channel's fault injection setting; the interrupts
// dropped and delayed so far are in Stats.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) Injection() Injection {
	return Injection{Drop: uint64(ch.inj.drop.Load()), Delay: time.Duration(ch.inj.delay.Load()),
		BuildIoStall: time.Duration(ch.inj.stall.Load())}
}

// isrEntry is the ISR given to the interrupt object: the injected fault
// when one is set, HwInterrupt otherwise. The lost-edge and lost-interrupt
// paths call interrupt directly, never this.
//
// Context: the channel's DIRQL, IF=1, the vector in service, interrupt lock
// held; does not block or allocate.
func (ch *Channel) isrEntry() bool {
	if ch.inj.on.Load() && ch.injectLocked() {
		return true
	}
	if ch.interrupt() {
		ch.stats.byVector.Add(1)
		return true
	}
	return false
}

// injectLocked applies the injected fault to this interrupt and reports
// whether it took it: dropped (counted), or left to the delay timer, which
// it arms unless it is armed already. The interrupt is claimed so that the
// interrupt object does not count it as not the channel's.
//
// Context: the channel's DIRQL, interrupt lock held; does not block or
// allocate.
func (ch *Channel) injectLocked() bool {
	ch.assertLocked("ata: injected fault")
	for {
		n := ch.inj.drop.Load()
		if n <= 0 {
			break
		}
		if ch.inj.drop.CompareAndSwap(n, n-1) {
			ch.stats.dropped.Add(1)
			return true
		}
	}
	d := ch.inj.delay.Load()
	if d <= 0 {
		return false
	}
	ch.stats.delayed.Add(1)
	if !ch.inj.armed {
		ch.inj.armed = true
		ch.inj.timer.Set(time.Duration(d))
	}
	return true
}

// onDelayed services the interrupts the injected delay held back.
//
// Context: timer routine: DISPATCH, IF=1, no lock held.
func (ch *Channel) onDelayed() {
	kernel.AssertLevel("ata: injected delay timer", kernel.DISPATCH, kernel.DISPATCH)
	ch.intr.Synchronize(ch.inj.thunk)
}

// delayedLocked runs the interrupt path when the device has signalled an
// interrupt nobody serviced yet (the pending hook), as the ISR would have
// done on time.
//
// Context: the channel's DIRQL, IF=1, interrupt lock held; does not block
// or allocate.
func (ch *Channel) delayedLocked() {
	ch.assertLocked("ata: injected delay")
	ch.inj.armed = false
	if ch.pending() {
		ch.interrupt()
	}
}
