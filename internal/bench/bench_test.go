package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 200; i++ {
		v = append(v, time.Duration(i))
	}
	for _, tc := range []struct {
		p    int
		want time.Duration
	}{{50, 100}, {99, 198}, {100, 200}, {1, 2}, {0, 1}} {
		if got := Percentile(v, tc.p); got != tc.want {
			t.Errorf("p%d = %d, want %d", tc.p, got, tc.want)
		}
	}
	if Percentile(nil, 50) != 0 || Percentile([]time.Duration{7}, 99) != 7 {
		t.Error("percentile of nothing or of one value")
	}
}

func TestSummarizeAndParse(t *testing.T) {
	passes := []Pass{
		{Requests: 1000, Bytes: 1000 << 20, Elapsed: time.Second, Interrupts: 1000, ByVector: 990, Sync: 3, Mallocs: 1000, DIRQL: 40 * time.Millisecond},
		{Requests: 1200, Bytes: 1200 << 20, Elapsed: time.Second, Interrupts: 1200, ByVector: 1200, Mallocs: 1200, DIRQL: 48 * time.Millisecond},
		{Requests: 500, Bytes: 500 << 20, Elapsed: 500 * time.Millisecond, Interrupts: 500, ByVector: 483, Mallocs: 500, DIRQL: 20 * time.Millisecond},
	}
	lat := []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 900 * time.Microsecond}
	r := Summarize("seq-read", "DMA", 1<<20, passes, lat)
	mb := func(n float64) float64 { return n * (1 << 20) / 1e6 }
	if r.MBps.Median != mb(1000) || r.MBps.Min != mb(1000) || r.MBps.Max != mb(1200) ||
		r.IOPS.Median != 1000 || r.IOPS.Max != 1200 || r.Reqs != 2700 || r.Passes != 3 {
		t.Errorf("rates %+v %+v reqs %d", r.MBps, r.IOPS, r.Reqs)
	}
	if r.P50 != time.Millisecond || r.P99 != 3*time.Millisecond || r.Max != 3*time.Millisecond {
		t.Errorf("latency %v %v %v", r.P50, r.P99, r.Max)
	}
	if r.IntsPerReq != 1 || r.AllocsPerReq != 1 || r.DIRQLPerReq != 40*time.Microsecond || r.VectorPct != 99 || r.SyncPerReq != 3.0/2700 {
		t.Errorf("per request: %v ints %v allocs %v at DIRQL, %v%% by vector, %v sync", r.IntsPerReq, r.AllocsPerReq, r.DIRQLPerReq, r.VectorPct, r.SyncPerReq)
	}
	line := r.String()
	want := "result: seq-read DMA size 1048576: MB/s 1048.6 [1048.6 1258.3] IOPS 1000.0 [1000.0 1200.0] p50 1000.0us p99 3000.0us max 3000.0us ints/req 1.00 by-vector 99.0% sync/req 0.001 dirql/req 40.0us allocs/req 1.00 passes 3 reqs 2700"
	if line != want {
		t.Fatalf("line\n got %s\nwant %s", line, want)
	}
	back, ok := ParseResult(" " + line + "\r\n")
	if !ok || back.Test != "seq-read" || back.Mode != "DMA" || back.Size != 1<<20 || back.MBps.Max != 1258.3 ||
		back.IOPS.Median != 1000 || back.P99 != 3*time.Millisecond || back.DIRQLPerReq != 40*time.Microsecond ||
		back.AllocsPerReq != 1 || back.Passes != 3 || back.Reqs != 2700 || back.VectorPct != 99 || back.SyncPerReq != 0.001 {
		t.Errorf("parsed back %+v %v", back, ok)
	}
	if _, ok := ParseResult("bench: seq-read DMA size 4096: pass 1/3 12.0 MB/s"); ok {
		t.Error("a progress line parsed as a result")
	}
}

func TestSpreadEven(t *testing.T) {
	if s := SpreadOf([]float64{4, 1, 3, 2}); s != (Spread{2.5, 1, 4}) {
		t.Errorf("spread %+v", s)
	}
}
