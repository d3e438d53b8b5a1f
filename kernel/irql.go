package kernel

import (
	"strconv"
	"time"

	"github.com/ataport/firmware/kernel/trace"
)

// rflagsIF is RFLAGS.IF, bit 9 (SDM Vol 1, 3.4.3 "EFLAGS Register").
const rflagsIF = 1 << 9

// Current returns the IRQL of the executing CPU, read from CR8 (the truth,
// not a shadow). An unpinned goroutine always reads PASSIVE, because only a
// pinned goroutine runs on a CPU whose level is raised.
//
// Context: any IRQL, any IF; does not block or allocate.
func Current() IRQL {
	return IRQL(readCR8() & 0xf)
}

// InterruptsEnabled reports RFLAGS.IF of the executing CPU.
//
// Context: any IRQL; does not block or allocate.
func InterruptsEnabled() bool {
	return readFlags()&rflagsIF != 0
}

// Raise raises the IRQL of the executing CPU to new and returns the previous
// level, to be given back to Lower (KeRaiseIrql). Leaving PASSIVE pins the
// calling goroutine to its CPU and records the section on that CPU; raising
// to HIGH also clears RFLAGS.IF. Raising to the current level changes
// nothing.
//
// Raise and Lower are the hottest calls of the port, so their common path
// is short: one call into assembly pins or unpins, writes CR8 and
// identifies the CPU (pinSetCR8, lowerCR8: under TCG the call into the
// runtime's procPin cost more than its body), the previous level comes
// from the CPU's shadow of CR8 (state), and whatever is rare (a misuse,
// vectors or DPCs waiting, HIGH) goes out of line, putting CR8 back first
// where it had to be checked before. Under
// QEMU's TCG every call and every atomic store costs more than the
// instructions around it; `irql bench` compares the pair with the bare CR8
// writes it wraps.
//
// Context: any IRQL at or below new, any IF; does not block or allocate.
// Panics, naming both levels, when new is below the current level or above
// HIGH, and when leaving PASSIVE on a CPU whose previous pinned section
// never ended (CR8 was lowered behind the kernel's back).
func Raise(new IRQL) (old IRQL) {
	if new >= HIGH {
		return raiseSlow(nil, new)
	}
	c := cpuOf(pinSetCR8(uint64(new)))
	w := c.state.Load()
	old = IRQL(w & stateLevel)
	if new <= old || w>>stateSectionShift != 0 && old == PASSIVE || c.anyPending() {
		return raiseSlow(c, new)
	}
	if old == PASSIVE {
		c.state.Store(uint32(new) | uint32(c.index+1)<<stateSectionShift)
	} else {
		c.state.Store(w&^stateLevel | uint32(new))
		procUnpin() // pinned once per section
	}
	trace.Record(trace.IRQL, uint64(old), uint64(new), 0, 0)
	return old
}

// raiseSlow is Raise to HIGH or above (c nil, nothing done yet), or, with
// CR8 already at new and the goroutine pinned once more, when the level
// does not rise, the section check fails or vectors accepted at the old
// level wait to be served before it rises.
//
// Context: as Raise.
//
//go:noinline
func raiseSlow(c *perCPU, new IRQL) IRQL {
	if c == nil {
		if new > HIGH {
			Bugcheck("kernel: Raise from " + Current().String() + " to " + new.String() + ": no such level")
		}
		procPin()
		c = this()
	} else {
		writeCR8(uint64(c.level())) // back to where it was, until checked
	}
	old := c.level()
	if old != PASSIVE || new <= old {
		procUnpin()
	}
	if new < old {
		Bugcheck("kernel: Raise from " + old.String() + " to " + new.String() + ": new level below the current one")
	}
	if new == old {
		return old
	}
	if old == PASSIVE {
		if c.section() != 0 {
			c.state.Store(0)
			procUnpin()
			Bugcheck("kernel: Raise from PASSIVE to " + new.String() + " on CPU " + strconv.Itoa(c.index) +
				": an earlier pinned section on this CPU never returned to PASSIVE")
		}
		c.state.Store(uint32(c.index+1) << stateSectionShift)
	}
	if c.anyPending() && InterruptsEnabled() {
		// Vectors this CPU accepted at old run before the level rises
		// above them, as they would have interrupted the caller.
		c.service(old)
	}
	if new == HIGH {
		cli()
		c.ifOff.Store(true)
	}
	writeCR8(uint64(new))
	c.setLevel(new)
	trace.Record(trace.IRQL, uint64(old), uint64(new), 0, 0)
	return old
}

// Lower lowers the IRQL of the executing CPU to new, the value an earlier
// Raise returned (KeLowerIrql). Lowering from HIGH sets RFLAGS.IF again.
// Going below DISPATCH first runs the DPCs queued on this CPU, at DISPATCH
// with IF=1, then wakes the CPUs that were given targeted DPCs; reaching
// PASSIVE checks that the pinned section started on this CPU and unpins the
// goroutine. Lowering to the current level changes nothing. Vectors
// accepted above new run once CR8 reads new, before Lower returns.
//
// Context: any IRQL at or above new, any IF; does not block or allocate
// itself (the DPCs it runs must not either). Panics, naming both levels, when
// new is above the current level, and when a pinned section ends on a CPU
// where it did not start.
func Lower(new IRQL) {
	if new > HIGH {
		lowerSlow(this(), new)
		return
	}
	// Lowering to PASSIVE unpins in the call that writes CR8, as the
	// section that Raise pinned ends. Until Lower returns the goroutine
	// still cannot leave this CPU: Go preempts only on entry to a function
	// that checks its stack (TamaGo has no asynchronous preemption), and
	// the code below calls none before procPin, which does not check,
	// pins it again: on every path but the common one. The host fake,
	// where neither holds, keeps the pin until the end instead
	// (lowerCR8Unpins).
	c := cpuOf(lowerCR8(uint64(new)))
	w := c.state.Load()
	cur := IRQL(w & stateLevel)
	if new >= cur || cur == HIGH || new == PASSIVE && w>>stateSectionShift != uint32(c.index+1) {
		if new == PASSIVE && lowerCR8Unpins {
			procPin() // balanced again if it was not pinned (cur PASSIVE)
		}
		if new != cur { // equal: CR8 was rewritten with its value
			lowerSlow(c, new)
		}
		return
	}
	if new == PASSIVE {
		c.state.Store(0)
	} else {
		c.state.Store(w&^stateLevel | uint32(new))
	}
	if c.anyPending() || c.pending.Load() != 0 || trace.On(trace.ClassIRQL) {
		if new == PASSIVE && lowerCR8Unpins {
			procPin()
		}
		trace.Record(trace.IRQL, uint64(cur), uint64(new), 0, 0)
		lowered(c, new)
		return
	}
	if new == PASSIVE && !lowerCR8Unpins {
		procUnpin()
	}
}

// lowerSlow is Lower when new is above the current level or not a level,
// or the level comes down from HIGH, or the section check fails. Unless new
// is not a level, CR8 already reads new.
//
// Context: as Lower.
//
//go:noinline
func lowerSlow(c *perCPU, new IRQL) {
	cur := c.level()
	if new > cur {
		if new <= HIGH {
			writeCR8(uint64(cur))
		}
		Bugcheck("kernel: Lower from " + cur.String() + " to " + new.String() + ": new level above the current one")
	}
	writeCR8(uint64(cur)) // back to where it was: DPCs run at DISPATCH first
	me := c.index
	if new >= DISPATCH {
		c.lowerTo(new, cur)
		if c.anyPending() {
			c.service(new)
		}
		return
	}
	if cur > DISPATCH {
		c.lowerTo(DISPATCH, cur)
	}
	if cur >= DISPATCH {
		if c.anyPending() {
			c.service(DISPATCH)
		}
		drainDPCs(c)
	}
	if new == PASSIVE {
		if got := c.section(); got != int32(me+1) {
			Bugcheck("kernel: Lower from " + cur.String() + " to PASSIVE on CPU " + strconv.Itoa(me) +
				": the pinned section did not start on this CPU")
		}
		c.state.Store(c.state.Load() &^ stateSection)
	}
	writeCR8(uint64(new))
	c.setLevel(new)
	trace.Record(trace.IRQL, uint64(min(cur, DISPATCH)), uint64(new), 0, 0)
	lowered(c, new)
}

// lowered serves, once CR8 reads new, the vectors accepted and the DPCs
// queued meanwhile, and unpins at PASSIVE.
//
// Context: Lower's, with CR8 at new below HIGH.
//
//go:noinline
func lowered(c *perCPU, new IRQL) {
	if c.anyPending() || c.pending.Load() != 0 {
		c.service(new)
	}
	if new == PASSIVE {
		procUnpin()
	}
}

// lowerTo writes level lv, coming down from cur >= lv, into CR8 and the
// shadow, setting IF when leaving HIGH.
//
// Context: pinned, at cur; does not block or allocate.
func (c *perCPU) lowerTo(lv, cur IRQL) {
	writeCR8(uint64(lv))
	c.setLevel(lv)
	trace.Record(trace.IRQL, uint64(cur), uint64(lv), 0, 0)
	if cur == HIGH {
		c.ifOff.Store(false)
		sti()
	}
}

// Bugcheck reports a broken contract (KeBugCheck) from any level: it first
// returns the executing CPU to PASSIVE (CR8 0, IF set, pinned section closed,
// goroutine unpinned), because the Go runtime refuses to unwind a panic
// while the goroutine is pinned ("panic holding locks"), then panics with
// msg. Every misuse check of this package and of package irq panics
// through it. Spin locks the caller holds stay held.
//
// Context: any IRQL, any IF; does not return.
func Bugcheck(msg string) {
	if Current() > PASSIVE {
		c := this()
		writeCR8(uint64(PASSIVE))
		c.state.Store(0)
		if !InterruptsEnabled() {
			c.ifOff.Store(false)
			sti()
		}
		procUnpin()
	}
	panic(msg)
}

// AssertLevel panics unless the current IRQL is within min..max, with a
// message naming routine, the current level and the range:
// "kernel: <routine> at DIRQL5, must be PASSIVE..DISPATCH". Routines call it
// first thing to check their Context paragraph.
//
// Context: any IRQL; does not block or allocate unless it panics.
func AssertLevel(routine string, min, max IRQL) {
	if cur := Current(); cur < min || cur > max {
		Bugcheck(levelMessage(routine, cur, min, max))
	}
}

// AssertMayBlock panics, naming routine, unless the current IRQL is
// PASSIVE; everything that may block (sleep, wait on a channel or a mutex,
// wait for I/O) calls it at entry. Blocking is refused at DISPATCH and above
// by the model, and at APC too because every level above PASSIVE pins the
// goroutine, and the Go scheduler cannot park a pinned goroutine.
//
// Context: any IRQL; does not block or allocate unless it panics.
func AssertMayBlock(routine string) {
	if cur := Current(); cur != PASSIVE {
		Bugcheck(levelMessage(routine, cur, PASSIVE, PASSIVE) + " (it may block)")
	}
}

// Sleep blocks the calling goroutine for d (time.Sleep) after checking that
// it may block.
//
// Context: PASSIVE, IF=1; blocks. Panics above PASSIVE.
func Sleep(d time.Duration) {
	AssertMayBlock("kernel.Sleep")
	time.Sleep(d)
}

// Stall busy-waits for d on the monotonic clock (the TSC on TamaGo) without
// yielding the CPU (KeStallExecutionProcessor). The wait is bounded by d.
// Every turn is a safe point (ServicePoint): ISRs of vectors above the
// level, accepted meanwhile, run during the stall, as they would interrupt
// it.
//
// Context: any IRQL, any IF; does not block or allocate.
func Stall(d time.Duration) {
	start := time.Now()
	for {
		ServicePoint()
		if time.Since(start) >= d {
			return
		}
	}
}

func levelMessage(routine string, cur, min, max IRQL) string {
	want := min.String()
	if max != min {
		want += ".." + max.String()
	}
	return "kernel: " + routine + " at " + cur.String() + ", must be " + want
}

// checkReturnLevel panics, naming what, when a callback did not return at
// level lv with IF=1.
//
// Context: lv; does not block or allocate unless it panics.
func checkReturnLevel(what string, lv IRQL) {
	if cur := Current(); cur != lv {
		Bugcheck("kernel: " + what + " returned at " + cur.String() + ", must return at " + lv.String())
	}
	if !InterruptsEnabled() {
		Bugcheck("kernel: " + what + " returned with IF=0")
	}
}
