//go:build tamago

package pc

import (
	"github.com/ataport/firmware/board/ioport"
)

// PMTimerHz is the ACPI power management timer's fixed rate (ACPI 6.4,
// 4.8.3.3 "Power Management Timer").
const PMTimerHz = 3579545

// calibrationTicks is how long the TSC is measured against the PM timer:
// 1/20 s, long enough for a 0.1% reading under TCG, short enough for boot.
const calibrationTicks = PMTimerHz / 20

// tscHz is the calibrated TSC frequency.
var tscHz uint64

// TSCFrequency returns the TSC frequency measured against the ACPI PM timer.
func TSCFrequency() uint64 {
	return tscHz
}

// calibrateTSC measures the TSC against the ACPI PM timer at port, whose
// counter is width (24 or 32) bits wide, and makes the runtime clock use
// it. Under TCG CPUID leaf 0x15 reports nothing and TamaGo only calibrates
// under KVM (PLATFORM.md), so without this time.Sleep is wrong.
func calibrateTSC(port uint16, width int) {
	mask := uint32(1<<width - 1)

	// Align to a timer edge so the measurement starts on a whole tick.
	start := ioport.In32(port) & mask
	for ioport.In32(port)&mask == start {
	}
	pmA := ioport.In32(port) & mask
	tscA := AMD64.Counter()

	var pmB uint32
	var tscB uint64
	for {
		pmB = ioport.In32(port) & mask
		tscB = AMD64.Counter()
		if (pmB-pmA)&mask >= calibrationTicks {
			break
		}
	}

	ticks := uint64((pmB - pmA) & mask)
	tscHz = (tscB - tscA) * PMTimerHz / ticks

	// Runtime time is nanoseconds since the TSC started (CPU reset).
	AMD64.TimerMultiplier = 1e9 / float64(tscHz)
	AMD64.TimerOffset = 0
}

// tscNanos converts a TSC reading to the runtime's time (nanotime) as
// AMD64.GetTime does.
func tscNanos(tsc uint64) int64 {
	return int64(float64(tsc)*AMD64.TimerMultiplier) + AMD64.TimerOffset
}
