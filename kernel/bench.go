package kernel

import (
	"fmt"
	"slices"
	"time"
)

// BenchRow is one figure of `irql bench`: the cost of an operation in TSC
// cycles over many samples.
type BenchRow struct {
	Name        string
	Median, Min uint64
}

func (r BenchRow) String() string {
	return fmt.Sprintf("%-36s median %5d cycles  min %5d", r.Name, r.Median, r.Min)
}

// Benchmark measures the IRQL primitives in cycles of tsc (the CPU's time
// stamp counter): Raise+Lower from PASSIVE to DISPATCH, to dirql and to
// HIGH, an uncontended spin lock and interrupt lock, and for comparison a
// bare cli/sti pair and the bare pair of CR8 writes that Raise+Lower to
// DISPATCH wraps; then, in rounds of their own, a Timer Set and Cancel and
// a DPC queued at DISPATCH and run by the Lower. Each figure is the median
// (and minimum) of samples timed operations, less the least cost of
// timing an empty operation (timeRounds).
//
// Context: PASSIVE, IF=1; may block between samples.
func Benchmark(samples int, dirql IRQL, tsc func() uint64) []BenchRow {
	AssertMayBlock("kernel.Benchmark")
	var sl SpinLock
	sl.Name = "bench"
	il := InterruptLock{Level: dirql}
	il.Name = "bench interrupt"

	// The primitives, and beside them the bare instructions they wrap.
	primitives := []benchOp{
		{"Raise+Lower PASSIVE->DISPATCH", func() { Lower(Raise(DISPATCH)) }},
		{"Raise+Lower PASSIVE->" + dirql.String(), func() { Lower(Raise(dirql)) }},
		{"Raise+Lower PASSIVE->HIGH", func() { Lower(Raise(HIGH)) }},
		{"SpinLock Acquire+Release", func() { sl.Release(sl.Acquire()) }},
		{"InterruptLock Acquire+Release", func() { il.Release(il.Acquire()) }},
		{"cli+sti (no IRQL change)", func() { cli(); sti() }},
		// What Raise+Lower to DISPATCH cannot do without: the two CR8
		// writes alone (no pinning, no checks, no safe point).
		{"bare CR8 write pair (DISPATCH, PASSIVE)", func() { writeCR8(uint64(DISPATCH)); writeCR8(uint64(PASSIVE)) }},
	}
	// What the port adds per request, timed in rounds of their own after
	// the primitives'. Timed among them, or only created before them,
	// these made Raise+Lower read 1.7-2.0x the bare pair instead of
	// 1.4x in alternated boots of one build (session 11; why the bench's
	// own Go timer and DPC slow the primitives was not found).
	rows := timeRounds(samples, tsc, primitives)
	tm := NewTimer("bench", func() {})
	dpc := NewDPC("bench", func() {})
	perRequest := []benchOp{
		// A request alone in flight arms the channel's timer in StartIo
		// and cancels it in the DPC.
		{"Timer Set+Cancel", func() { tm.Set(time.Second); tm.Cancel() }},
		// An ISR's completion: a DPC queued, then run by the lowering.
		{"Raise DISPATCH+DPC Queue+Lower (runs it)", func() { old := Raise(DISPATCH); dpc.Queue(); Lower(old) }},
	}
	return append(rows, timeRounds(samples, tsc, perRequest)...)
}

// benchOp is one operation Benchmark times.
type benchOp struct {
	name string
	fn   func()
}

// timeRounds times ops in rounds. The operations take turns, one sample
// each, so that every figure is taken under the same conditions: under TCG
// a CR8 write takes QEMU's big lock, and what the other vCPUs do meanwhile
// moves the cost of a block of samples taken alone by a factor of two. One
// more, empty, operation is timed in every round: the cost of the timing
// itself (the two tsc reads and the call of op), taken off every figure.
func timeRounds(samples int, tsc func() uint64, ops []benchOp) []BenchRow {
	d := make([][]uint64, len(ops))
	for j := range d {
		d[j] = make([]uint64, samples)
	}
	empty := make([]uint64, samples)
	for i := 0; i < samples; i++ {
		for j, o := range ops {
			d[j][i] = timeOp(tsc, o.fn)
		}
		empty[i] = timeOp(tsc, func() {})
	}
	overhead := slices.Min(empty)
	rows := make([]BenchRow, 0, len(ops))
	for j, o := range ops {
		slices.Sort(d[j])
		rows = append(rows, BenchRow{Name: o.name, Median: sub(d[j][samples/2], overhead), Min: sub(d[j][0], overhead)})
	}
	return rows
}

// timeOp times one call of op. It is not inlined, so that every operation,
// the empty one too, is called the same way: through a function value.
//
//go:noinline
func timeOp(tsc func() uint64, op func()) uint64 {
	t0 := tsc()
	op()
	return tsc() - t0
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}
