//go:build tamago

package pc

import (
	"math"
	"runtime/goos"
)

// maxIdle bounds a halt: TamaGo wakes a halted CPU only through an
// interrupt, so without a bound a goroutine made runnable on another CPU's
// queue could wait for the next device interrupt (a CPU that is pinned at
// DISPATCH or above never yields to it). Waking every millisecond lets the
// idle CPU steal such work.
const maxIdle = 1_000_000 // ns

// CPUID.01H:ECX.TSC-Deadline (SDM Vol. 2A, CPUID, Table 3-10).
const cpuidTSCDeadline = 1 << 24

// idle is the runtime's idle hook (goos.Idle): it halts the CPU until an
// interrupt or the earlier of the next runtime timer and maxIdle, armed
// through the local APIC's TSC-deadline timer (TamaGo's CPU.SetAlarm,
// vector IRQ_WAKEUP). Halting instead of spinning also leaves the host's
// CPUs to the other vCPU under QEMU TCG.
func idle(pollUntil int64) {
	now := nanotime()
	if pollUntil == math.MaxInt64 || pollUntil-now > maxIdle {
		pollUntil = now + maxIdle
	}
	if pollUntil <= now {
		return
	}
	AMD64.SetAlarm(pollUntil)
	AMD64.WaitInterrupt()
}

// initIdle installs idle where the CPU has the TSC-deadline timer, and
// otherwise a governor that never halts (a halt could then only end with a
// device interrupt).
func initIdle() {
	if _, _, ecx, _ := cpuid(1, 0); ecx&cpuidTSCDeadline != 0 {
		goos.Idle = idle
		return
	}
	goos.Idle = func(int64) {}
	warnf("no TSC-deadline timer: idle CPUs spin instead of halting")
}
