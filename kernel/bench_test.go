package kernel

import (
	"testing"
	"time"
)

func TestBenchmarkRows(t *testing.T) {
	tsc := func() uint64 { return uint64(time.Now().UnixNano()) }
	rows := Benchmark(101, 5, tsc)
	want := []string{
		"Raise+Lower PASSIVE->DISPATCH", "Raise+Lower PASSIVE->DIRQL5", "Raise+Lower PASSIVE->HIGH",
		"SpinLock Acquire+Release", "InterruptLock Acquire+Release", "cli+sti (no IRQL change)",
		"bare CR8 write pair (DISPATCH, PASSIVE)", "Timer Set+Cancel", "Raise DISPATCH+DPC Queue+Lower (runs it)",
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		if r.Name != want[i] || r.Min > r.Median {
			t.Errorf("row %d = %+v", i, r)
		}
	}
	if Current() != PASSIVE || !InterruptsEnabled() {
		t.Errorf("left at %v IF=%v", Current(), InterruptsEnabled())
	}
}
