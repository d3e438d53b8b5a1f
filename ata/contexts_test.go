package ata

import (
	"testing"

	"github.com/ataport/firmware/kernel"
)

func TestContextRecords(t *testing.T) {
	var c contexts
	c.init()
	c.record(RoutineStartIo, false, true, 3)
	old := kernel.Raise(kernel.DISPATCH)
	c.recordAt(RoutineBuildIo, kernel.DISPATCH, true, kernel.CPU(), true, false, 7, true, false)
	kernel.Lower(old)
	recs := c.records()
	if len(recs) != 2 || recs[0].Routine != RoutineStartIo || recs[0].Tag != 3 || !recs[0].LockHeld || recs[0].CR8 != kernel.PASSIVE ||
		recs[1].Routine != RoutineBuildIo || recs[1].CR8 != kernel.DISPATCH || !recs[1].Masked || !recs[1].Overlap || recs[1].SameCPU || recs[1].Tag != 7 {
		t.Fatalf("records %+v", recs)
	}
	var all [numRoutines]ContextRow
	c.addRows(&all)
	c.addRows(&all)
	got := rows(&all)
	if len(got) != 2 || got[0].Routine != RoutineBuildIo || got[0].Count != 2 || got[0].Overlap != 2 ||
		got[1].Routine != RoutineStartIo || got[1].MinCR8 != 0 || got[1].MaxCR8 != 0 || got[1].LockHeld != SeenTrue || got[1].Masked != SeenFalse {
		t.Fatalf("rows %+v", got)
	}
	want := "HwBuildIo            CR8 DISPATCH..DISPATCH IF 1    masked 1    lock 0    calls 2 ISR-during 2 (same CPU 0)"
	if s := got[0].String(); s != want {
		t.Errorf("row\n got %q\nwant %q", s, want)
	}
	for i := 0; i < ringSize+10; i++ {
		c.record(RoutineInterrupt, false, true, -1)
	}
	if recs := c.records(); len(recs) != ringSize || recs[len(recs)-1].Tag != -1 {
		t.Errorf("ring of %d", len(recs))
	}
}
