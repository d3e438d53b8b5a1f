package lateness

import (
	"slices"
	"testing"
	"time"
)

func TestLog(t *testing.T) {
	var l Log
	if r, w, n := l.Samples(); len(r) != 0 || w != 0 || n != 0 {
		t.Fatalf("empty log: %v %v %d", r, w, n)
	}
	for i := 1; i <= 5000; i++ {
		l.Record(time.Duration(i % 1000))
	}
	l.Record(time.Second)
	r, w, n := l.Samples()
	if len(r) != 4096 || w != time.Second || n != 5001 || !slices.Contains(r, time.Second) {
		t.Errorf("after 5001 samples: %d kept, worst %v, count %d, want 4096, 1s, 5001 with the last kept", len(r), w, n)
	}
	l.Reset()
	l.Record(3)
	if r, w, n := l.Samples(); len(r) != 1 || r[0] != 3 || w != 3 || n != 1 {
		t.Errorf("after Reset and one sample: %v %v %d", r, w, n)
	}
}

func TestArmingLate(t *testing.T) {
	a := Arming{At: 1000, Due: 5000}
	for _, tc := range []struct {
		accepted int64
		late     time.Duration
		ok       bool
	}{
		{500, 0, false},        // an earlier arming's, taken before this one began
		{1000, 0, false},       // at the arming itself: not after it
		{4990, 0, true},        // 10 ns early: the two clocks' calibration
		{5000, 0, true},        // on time
		{105000, 100000, true}, // the CPU kept from the interrupt 100 us
	} {
		if late, ok := a.Late(tc.accepted); late != tc.late || ok != tc.ok {
			t.Errorf("armed at 1000 for 5000, taken at %d: %v %v, want %v %v", tc.accepted, late, ok, tc.late, tc.ok)
		}
	}
	if _, ok := (Arming{}).Late(9000); ok {
		t.Error("nothing armed, yet an interrupt was counted")
	}
}
