//go:build tamago

package pc

import (
	"math"
	"runtime"
	"runtime/goos"
	"sync/atomic"
	"unsafe"

	"github.com/usbarmory/tamago/amd64"
)

// maxIdle bounds a halt: TamaGo wakes a halted CPU only through an
// interrupt, so without a bound a goroutine made runnable on another CPU's
// queue could wait for the next device interrupt (a CPU that is pinned at
// DISPATCH or above never yields to it). Waking every millisecond lets the
// idle CPU steal such work.
const maxIdle = 1_000_000 // ns

// wakeRecheck bounds a halt while a device interrupt waits for its
// service goroutine (see idle).
const wakeRecheck = 30_000 // ns

// TamaGo's interrupt state (amd64/irq.go and irq.s of the pinned v1.26.0):
// irqLock is set by the entry of a device vector, which wakes the service
// goroutine irqHandlerG (runtime.WakeG) and sends the other CPUs a wake
// IPI, and cleared by the EOI that follows its handler.
//
//go:linkname irqLock github.com/usbarmory/tamago/amd64.irqLock
var irqLock bool

//go:linkname irqHandlerG github.com/usbarmory/tamago/amd64.irqHandlerG
var irqHandlerG uint

// Local APIC timer registers (Intel SDM Vol. 3A, "APIC Timer", 10.5.4 /
// 11.5.4 depending on edition). Each CPU reaches its own local APIC at the
// same address.
const (
	LAPIC_LVT_TIMER  = 0x320
	LAPIC_TMRINITCNT = 0x380
	LAPIC_TMRCURRCNT = 0x390
	LAPIC_TMRDIV     = 0x3e0
	// TMRDIV_1 divides the bus clock by 1.
	TMRDIV_1 = 0b1011
	// LVT_MASKED masks the timer; one-shot mode is LVT bits 18:17 = 00.
	LVT_MASKED = 1 << 16
)

// lapicTimerHz is the calibrated local APIC timer rate; 0 when unusable.
var lapicTimerHz uint64

func lapicReg(off uint32) *uint32 {
	a := uintptr(amd64.LAPIC_BASE + off)
	return *(**uint32)(unsafe.Pointer(&a))
}

// calibrateLAPICTimer measures the local APIC timer against the TSC (the
// timer's input clock is the bus or core crystal clock, which no table
// gives). QEMU TCG has no TSC-deadline mode, so this timer is what lets an
// idle CPU halt.
func calibrateLAPICTimer() {
	atomic.StoreUint32(lapicReg(LAPIC_TMRDIV), TMRDIV_1)
	atomic.StoreUint32(lapicReg(LAPIC_LVT_TIMER), LVT_MASKED|amd64.IRQ_WAKEUP)
	atomic.StoreUint32(lapicReg(LAPIC_TMRINITCNT), math.MaxUint32)
	t0 := AMD64.Counter()
	for AMD64.Counter()-t0 < tscHz/100 {
	}
	left := atomic.LoadUint32(lapicReg(LAPIC_TMRCURRCNT))
	t1 := AMD64.Counter()
	atomic.StoreUint32(lapicReg(LAPIC_TMRINITCNT), 0)
	if ticks := uint64(math.MaxUint32 - left); ticks > 0 {
		lapicTimerHz = ticks * tscHz / (t1 - t0)
	}
}

// idle is the runtime's idle hook (goos.Idle): it halts the CPU until an
// interrupt or the earlier of the next runtime timer and maxIdle, armed on
// this CPU's local APIC timer in one-shot mode with TamaGo's IRQ_WAKEUP
// vector (whose handler only sends the EOI). Halting instead of spinning
// also leaves the host's CPUs to QEMU's I/O thread under TCG.
//
// A device interrupt that arrives while this CPU is on its way from the
// scheduler's last look at its timers to the HLT wakes the service
// goroutine, whose timer may be on this CPU, and sends the wake IPI before
// the HLT, where it is lost; and the other CPU cannot take that timer over
// while this one's M counts as spinning (the runtime keeps it so across
// TamaGo's idle hook). The ISR then waited for maxIdle: 7% of 4 KiB reads
// took 1.2-1.5 ms instead of 0.2 ms under TCG. So while an interrupt is
// taken but its service goroutine still sleeps, halts last at most
// wakeRecheck; and the halt happens only if irqLock still reads, with
// interrupts off, what that choice was made on.
func idle(pollUntil int64) {
	now := nanotime()
	seen := irqLock
	limit := int64(maxIdle)
	if seen && runtime.Asleep(irqHandlerG) {
		limit = wakeRecheck
	}
	if pollUntil == math.MaxInt64 || pollUntil-now > limit {
		pollUntil = now + limit
	}
	if pollUntil <= now {
		return
	}
	count := uint64(pollUntil-now) * lapicTimerHz / 1e9
	atomic.StoreUint32(lapicReg(LAPIC_TMRDIV), TMRDIV_1)
	atomic.StoreUint32(lapicReg(LAPIC_LVT_TIMER), amd64.IRQ_WAKEUP)
	atomic.StoreUint32(lapicReg(LAPIC_TMRINITCNT), uint32(max(1, min(count, math.MaxUint32))))
	haltUnlessExpired(lapicReg(LAPIC_TMRCURRCNT), &irqLock, seen)
}

// defined in idle_amd64.s

// haltUnlessExpired halts (sti; hlt) unless *count, the local APIC timer's
// current count, already reached 0, or *lock no longer reads seen; the
// checks run with interrupts off so that a timer expiring or an interrupt
// taken before the HLT cannot leave the CPU halted past its due time.
func haltUnlessExpired(count *uint32, lock *bool, seen bool)

// StartIdle installs idle once the local APIC timer is calibrated, and
// otherwise a governor that never halts (a halt could then only end with a
// device interrupt). The caller must have installed the IDT entries of
// vectors 32-255 (TamaGo's CPU.ServiceInterrupts) first: the wake vector
// arrives through them.
func StartIdle() {
	if lapicTimerHz == 0 {
		goos.Idle = func(int64) {}
		warnf("local APIC timer does not count: idle CPUs spin instead of halting")
		return
	}
	goos.Idle = idle
}

// LAPICTimerFrequency returns the calibrated local APIC timer rate, 0 when
// the timer does not count.
func LAPICTimerFrequency() uint64 { return lapicTimerHz }
