//go:build tamago

package pc

import (
	"math"
	"runtime/goos"
	"sync/atomic"
	"time"

	"github.com/usbarmory/tamago/amd64"

	"github.com/ataport/firmware/board/mmio"
	"github.com/ataport/firmware/internal/lateness"
)

// maxIdle bounds a halt when there are several CPUs: TamaGo wakes a
// halted CPU only through an interrupt, so without a bound a goroutine made
// runnable on another CPU's queue could wait for the next device interrupt
// (a CPU that is pinned at DISPATCH or above never yields to it), and so
// could a stop of the world, which waits for every CPU's scheduler, and the
// timers of a CPU that computes. Waking every 4 ms (Linux's tick at
// HZ=250) lets the idle CPU steal such work and join the stop. A shorter
// bound costs the busy CPU under QEMU's TCG: each wake takes QEMU's big
// lock several times (the timer's expiry, the delivery, the EOI, the
// re-arm), which every port access of the busy CPU also takes; against
// 1 ms, 4 ms made PIO 5-13% and random DMA reads 5-9% faster in passes
// alternated inside one boot (docs/PERFORMANCE.md, session 17). A single CPU has no other queue and stops the world
// itself: it halts up to soloIdle, for its own timers and interrupts only.
const (
	maxIdle  = 4_000_000     // ns
	soloIdle = 1_000_000_000 // ns, below the timer's 32-bit count at 4 GHz
)

// idleBound is maxIdle, or soloIdle on one CPU (StartIdle).
var idleBound int64 = maxIdle

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

// lapicReg is the address of the executing CPU's local APIC register at
// off.
func lapicReg(off uint32) uintptr {
	return uintptr(amd64.LAPIC_BASE + off)
}

// calibrateLAPICTimer measures the local APIC timer against the TSC (the
// timer's input clock is the bus or core crystal clock, which no table
// gives). QEMU TCG has no TSC-deadline mode, so this timer is what lets an
// idle CPU halt.
func calibrateLAPICTimer() {
	mmio.Write32(lapicReg(LAPIC_TMRDIV), TMRDIV_1)
	mmio.Write32(lapicReg(LAPIC_LVT_TIMER), LVT_MASKED)
	mmio.Write32(lapicReg(LAPIC_TMRINITCNT), math.MaxUint32)
	t0 := AMD64.Counter()
	for AMD64.Counter()-t0 < tscHz/100 {
	}
	left := mmio.Read32(lapicReg(LAPIC_TMRCURRCNT))
	t1 := AMD64.Counter()
	mmio.Write32(lapicReg(LAPIC_TMRINITCNT), 0)
	if ticks := uint64(math.MaxUint32 - left); ticks > 0 {
		lapicTimerHz = ticks * tscHz / (t1 - t0)
	}
}

// IdleHooks connect the idle governor to the kernel's interrupt entry,
// which the board does not import.
type IdleHooks struct {
	// Vector is the wake vector the local APIC timer raises; its entry
	// only sends the EOI.
	Vector uint8
	// Pending returns the executing CPU's row of vectors accepted and not
	// yet served (kernel.PendingVectors); the CPU does not halt while any
	// bit is set.
	Pending func() *[4]uint64
	// Service runs the ISRs of those vectors and the DPCs they queue, and
	// reports whether it ran any (kernel.ServiceIdle).
	Service func() bool
	// Halt, when set, is told of each halt (true, before the HLT) and
	// wake (false, after it), for the event recorder (kernel/trace).
	Halt func(halt bool)
	// WakeAccepted returns the executing CPU's index and the TSC at which
	// its entry last accepted Vector (kernel.WakeAccepted), for
	// TimerAcceptLateness.
	WakeAccepted func() (cpu int, tsc uint64)
}

var hooks IdleHooks

// wakeLateness keeps how late halted CPUs resumed after the deadline they
// halted for (IdleWakeLateness).
var wakeLateness lateness.Log

// acceptLateness keeps how late CPUs, halted or busy, accepted their local
// APIC timer's vector after the deadline it was armed for
// (TimerAcceptLateness).
var acceptLateness lateness.Log

// wakeArms holds, by CPU index, when (nanotime) each CPU last armed its
// local APIC timer and for when; StartIdle sizes it. Only its own CPU reads
// and writes an element.
var wakeArms []lateness.Arming

// idle is the runtime's idle hook (goos.Idle), called by the scheduler on
// the M's g0 stack when this CPU has nothing to run. It first serves the
// interrupts this CPU accepted, and returns at once when that ran anything
// (their DPCs may have made goroutines runnable); otherwise it halts until
// an interrupt or the earlier of the next runtime timer (pollUntil; 0 means
// none) and idleBound, armed on this CPU's local APIC timer in one-shot mode
// with the wake vector. Halting instead of spinning also leaves the host's
// CPUs to QEMU's I/O thread under TCG. The halt happens only if, with
// interrupts off, no vector is pending and the timer has not expired;
// then STI;HLT lets an interrupt arriving after the check end the HLT.
// After the HLT, the interrupt that ended it is served here, and a CPU that
// resumed at or after its deadline records how late (IdleWakeLateness).
// The timer is left running: a CPU that halts again soon re-arms it (under
// TCG each local APIC access takes QEMU's big lock, and a PIO read halts
// 128 times per MiB), and one that does not takes one wake vector, which
// the entry only EOIs.
func idle(pollUntil int64) {
	if hooks.Service() {
		return
	}
	now := nanotime()
	if pollUntil == 0 || pollUntil-now > idleBound {
		pollUntil = now + idleBound
	}
	if pollUntil <= now {
		return
	}
	armTimer(now, pollUntil)
	if hooks.Halt != nil {
		hooks.Halt(true)
	}
	haltUnlessPending(lapicReg(LAPIC_TMRCURRCNT), hooks.Pending())
	if hooks.Halt != nil {
		hooks.Halt(false)
	}
	if t := nanotime(); t >= pollUntil {
		wakeLateness.Record(time.Duration(t - pollUntil))
	}
	hooks.Service()
}

// spinHaltTime bounds each halt of a CPU waiting for a held lock
// (HaltBriefly).
const spinHaltTime = 20_000 // ns

// HaltBriefly halts the executing CPU until an interrupt or spinHaltTime,
// whichever comes first; it returns at once when the local APIC timer does
// not count or a vector is pending. The kernel calls it between turns of a
// long spin on a held lock (kernel.SetSpinWait): under QEMU with more vCPUs
// than host cores the holder may be a vCPU thread the host descheduled,
// and a halted vCPU gives its host core back.
//
// Context: IF=1, pinned, at a level below the wake vector's class (the
// timer's interrupt must be able to end the HLT); not from the idle hook
// (it would replace the deadline idle halts for).
func HaltBriefly() {
	if !halting.Load() {
		return
	}
	now := nanotime()
	armTimer(now, now+spinHaltTime)
	haltUnlessPending(lapicReg(LAPIC_TMRCURRCNT), hooks.Pending())
	disarmTimer()
}

// armTimer starts the executing CPU's local APIC timer in one-shot mode to
// raise the wake vector at due, now being the current nanotime: writing the
// initial count (re)starts it, on the divider and LVT SetupWakeTimer wrote.
// It first records how late this CPU accepted the vector of its previous
// arming, if that vector came (noteAcceptance).
//
// Context: the idle hook or pinned, IF=1; does not block or allocate.
func armTimer(now, due int64) {
	cpu := noteAcceptance()
	count := uint64(due-now) * lapicTimerHz / 1e9
	mmio.Write32(lapicReg(LAPIC_TMRINITCNT), uint32(max(1, min(count, math.MaxUint32))))
	wakeArms[cpu] = lateness.Arming{At: now, Due: due}
}

// noteAcceptance records in acceptLateness how late the executing CPU's
// entry accepted the wake vector after the deadline of the CPU's latest
// arming, when it accepted one after that arming (lateness.Arming.Late;
// a CPU that never accepted it reads TSC 0, before any arming), and
// returns the CPU's index. The entry stamps the acceptance whether the
// CPU halted or ran anything below the vector's class, so a late one is
// time the CPU could not take an interrupt: the host not running the
// virtual CPU, the emulator's timer firing late, or the firmware with
// interrupts off or at HIGH (the entry, the check before a halt, an IPI's
// send: microseconds).
func noteAcceptance() int {
	cpu, tsc := hooks.WakeAccepted()
	if late, ok := wakeArms[cpu].Late(tscNanos(tsc)); ok {
		acceptLateness.Record(late)
	}
	return cpu
}

var (
	// wakeTimers counts the CPUs whose local APIC timer SetupWakeTimer
	// set up.
	wakeTimers atomic.Int32
	// halting is set once StartIdle installed idle: every CPU's timer
	// can end a halt.
	halting atomic.Bool
)

// SetupWakeTimer sets the executing CPU's local APIC timer up to raise
// vector, one-shot, counting at the calibrated rate (divide by 1): what
// idle and HaltBriefly then arm with one write of the initial count.
//
// Context: once on every CPU, pinned there, before StartIdle; does not
// block.
func SetupWakeTimer(vector uint8) {
	mmio.Write32(lapicReg(LAPIC_TMRDIV), TMRDIV_1)
	mmio.Write32(lapicReg(LAPIC_TMRINITCNT), 0)
	mmio.Write32(lapicReg(LAPIC_LVT_TIMER), uint32(vector))
	wakeTimers.Add(1)
}

// disarmTimer stops the executing CPU's local APIC timer.
func disarmTimer() {
	mmio.Write32(lapicReg(LAPIC_TMRINITCNT), 0)
}

// defined in idle_amd64.s

// haltUnlessPending halts (sti; hlt) unless the register at count, the
// local APIC timer's current count, already reached 0, or a bit of
// *pending is set; the checks run with interrupts off so that a timer
// expiring or an interrupt taken before the HLT cannot leave the CPU
// halted past its due time.
func haltUnlessPending(count uintptr, pending *[4]uint64)

// StartIdle installs idle once the local APIC timer is calibrated and set
// up on every CPU (SetupWakeTimer with h.Vector), and otherwise a governor
// that only serves interrupts and never halts (a halt could then only end
// with a device interrupt). The kernel's interrupt entry must be installed
// first: the wake vector arrives through it.
func StartIdle(h IdleHooks) {
	hooks = h
	switch {
	case lapicTimerHz == 0:
		warnf("local APIC timer does not count: idle CPUs spin instead of halting")
	case int(wakeTimers.Load()) != len(APICIDs()):
		warnf("local APIC timer set up on %d of %d CPUs: idle CPUs spin instead of halting", wakeTimers.Load(), len(APICIDs()))
	default:
		if len(APICIDs()) == 1 {
			idleBound = soloIdle
		}
		wakeArms = make([]lateness.Arming, len(APICIDs()))
		halting.Store(true)
		goos.Idle = idle
		return
	}
	goos.Idle = func(int64) { hooks.Service() }
}

// LAPICTimerFrequency returns the calibrated local APIC timer rate, 0 when
// the timer does not count.
func LAPICTimerFrequency() uint64 { return lapicTimerHz }

// IdleWakeLateness returns how late halted CPUs resumed after the deadline
// they halted for (the next runtime timer, or idleBound): up to the latest
// 4096 wake-ups, the worst since ResetIdleWakeLateness, and their count.
// A halted CPU runs nothing, so this is the lateness of the machine under
// the firmware (the local APIC timer's delivery, and under an emulator the
// host's scheduling of the virtual CPU), none of the firmware's own.
//
// Context: PASSIVE; allocates.
func IdleWakeLateness() (recent []time.Duration, worst time.Duration, n uint64) {
	return wakeLateness.Samples()
}

// ResetIdleWakeLateness starts the record of IdleWakeLateness anew.
//
// Context: any; does not block.
func ResetIdleWakeLateness() { wakeLateness.Reset() }

// TimerAcceptLateness returns how late CPUs accepted their local APIC
// timer's interrupt after the deadline it was armed for (idle's and
// HaltBriefly's timers, whether the CPU was still halted or already busy
// when it fired): up to the latest 4096, the worst since
// ResetTimerAcceptLateness, and their count. It is what IdleWakeLateness
// cannot see, a busy virtual CPU the host did not run, together with the
// short sections the firmware runs with interrupts off or at HIGH
// (noteAcceptance). A CPU that runs without halting for longer than the
// idle bound arms no timer, so it is sampled only around its halts.
//
// Context: PASSIVE; allocates.
func TimerAcceptLateness() (recent []time.Duration, worst time.Duration, n uint64) {
	return acceptLateness.Samples()
}

// ResetTimerAcceptLateness starts the record of TimerAcceptLateness anew.
//
// Context: any; does not block.
func ResetTimerAcceptLateness() { acceptLateness.Reset() }
