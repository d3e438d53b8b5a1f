package bench

import "testing"

func TestLatenciesAndParse(t *testing.T) {
	var s []uint64
	for i := 100; i >= 1; i-- {
		s = append(s, uint64(i)*1000)
	}
	l := Latencies("ata0 vector 0x60, accepted to ISR", s, 1e9)
	if l.P50 != 50000 || l.P99 != 99000 || l.Max != 100000 || l.Samples != 100 {
		t.Fatalf("%+v", l)
	}
	line := l.String()
	want := "latency: ata0 vector 0x60, accepted to ISR: p50 50000 cycles 50.0us p99 99000 cycles 99.0us max 100000 cycles 100.0us samples 100"
	if line != want {
		t.Fatalf("line\n got %s\nwant %s", line, want)
	}
	back, p50, p99, mx, ok := ParseLatency(line + "\r")
	if !ok || back.Name != l.Name || back.P99 != 99000 || back.Samples != 100 || p50 != 50 || p99 != 99 || mx != 100 {
		t.Errorf("parsed back %+v %v %v %v %v", back, p50, p99, mx, ok)
	}
	if e := Latencies("none", nil, 1e9); e.Samples != 0 || e.P50 != 0 {
		t.Errorf("no samples: %+v", e)
	}
	if l := Lateness("timers", []uint64{3, 1, 2}, 9, 3, 1e9); l.Max != 9 || l.Of != 0 || l.Samples != 3 {
		t.Errorf("a lateness record with all its samples kept: %+v", l)
	}
	lt := Lateness("kernel timers, deadline to expiry", s, 250000, 60000, 1e9)
	if lt.P50 != 50000 || lt.Max != 250000 || lt.Of != 60000 {
		t.Fatalf("a lateness record with its worst and most samples gone: %+v", lt)
	}
	line = lt.String()
	want = "latency: kernel timers, deadline to expiry: p50 50000 cycles 50.0us p99 99000 cycles 99.0us max 250000 cycles 250.0us samples 100 of 60000"
	if line != want {
		t.Fatalf("line\n got %s\nwant %s", line, want)
	}
	if back, _, _, mx, ok := ParseLatency(line); !ok || back.Of != 60000 || back.Samples != 100 || mx != 250 {
		t.Errorf("parsed back %+v max %v %v", back, mx, ok)
	}
	if _, _, _, _, ok := ParseLatency("result: seq-read"); ok {
		t.Error("another line parsed as a latency")
	}
}
