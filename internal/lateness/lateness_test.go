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
