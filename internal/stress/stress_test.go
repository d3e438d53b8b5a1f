package stress

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func testConfig() Config {
	return Config{
		Seed: 42, Workers: 5, MaxSectors: 16,
		Targets: []Target{
			{Name: "0:0", LBA: 100, Count: 1000, SectorSize: 512},
			{Name: "1:0", LBA: 0, Count: 333, SectorSize: 512},
		},
	}
}

// TestReadOnlyTarget: a read-only target's workers never write; the others'
// streams are the same as without it.
func TestReadOnlyTarget(t *testing.T) {
	cfg := testConfig()
	cfg.Workers = 6
	cfg.Targets = append(cfg.Targets, Target{Name: "1:1", LBA: 16, Count: 200, SectorSize: 2048, ReadOnly: true})
	plan, err := Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[Kind]int{}
	for _, s := range plan {
		st := NewStream(cfg, s)
		for range 1000 {
			op := st.Next()
			if cfg.Targets[s.Target].ReadOnly {
				kinds[op.Kind]++
			}
		}
	}
	if kinds[Write] != 0 || kinds[Read] == 0 || kinds[Verify] <= kinds[Read] {
		t.Errorf("read-only target: %v operations by kind, want reads and more verifies, no writes", kinds)
	}
	if got := TargetLine(cfg, 2); got != "stress: target 2 1:1 lba 16 count 200 sector 2048 read-only" {
		t.Errorf("target line %q", got)
	}
	out := Header(cfg) + "\n"
	for i := range cfg.Targets {
		out += TargetLine(cfg, i) + "\n"
	}
	for _, s := range plan {
		out += WorkerLine(s, 0) + "\n"
	}
	rep, err := ParseReport(out)
	if err != nil || fmt.Sprint(rep.Config) != fmt.Sprint(cfg) {
		t.Errorf("parsed %+v (%v), want %+v", rep.Config, err, cfg)
	}
}

// Stripes are disjoint, cover each target exactly, and alternate targets.
func TestPlan(t *testing.T) {
	cfg := testConfig()
	plan, err := Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []Stripe{
		{0, 0, 100, 333}, {1, 1, 0, 166}, {2, 0, 433, 333}, {3, 1, 166, 167}, {4, 0, 766, 334},
	}
	if fmt.Sprint(plan) != fmt.Sprint(want) {
		t.Errorf("plan %v, want %v", plan, want)
	}
	for _, bad := range []Config{
		{Workers: 1},
		{Workers: 1, Targets: cfg.Targets},
		{Workers: 4, Targets: []Target{{Name: "x", Count: 3, SectorSize: 512}}},
	} {
		if _, err := Plan(bad); err == nil {
			t.Errorf("Plan(%+v) accepted", bad)
		}
	}
}

// A stream is a function of the seed, the worker and the index: writes and
// verifies stay in the stripe, reads in the target, counts within bounds,
// generations count the writes, and the mix has all three kinds.
func TestStream(t *testing.T) {
	cfg := testConfig()
	plan, _ := Plan(cfg)
	for _, s := range plan {
		a, b := NewStream(cfg, s), NewStream(cfg, s)
		tg := cfg.Targets[s.Target]
		var kinds [3]int
		gen := uint32(0)
		for i := 0; i < 2000; i++ {
			op, again := a.Next(), b.Next()
			if op != again {
				t.Fatalf("worker %d op %d differs between two streams: %+v %+v", s.Worker, i, op, again)
			}
			kinds[op.Kind]++
			lo, n := s.LBA, s.Count
			if op.Kind == Read {
				lo, n = tg.LBA, tg.Count
			}
			if op.Seq != uint64(i) || op.Count < 1 || op.Count > 16 || op.LBA < lo || op.LBA+uint64(op.Count) > lo+n {
				t.Fatalf("worker %d op %+v outside %d+%d", s.Worker, op, lo, n)
			}
			if op.Kind == Write {
				gen++
				if op.Gen != gen {
					t.Fatalf("write generation %d, want %d", op.Gen, gen)
				}
			}
		}
		for k, n := range kinds {
			if n < 400 {
				t.Errorf("worker %d: %d %v operations of 2000", s.Worker, n, Kind(k))
			}
		}
	}
}

// The record accepts exactly the last acknowledged write, or a failed one
// since; original contents only where no acknowledged write went.
func TestRecord(t *testing.T) {
	cfg := testConfig()
	s := Stripe{Worker: 2, Target: 0, LBA: 200, Count: 10}
	r := NewRecord(cfg, s)
	sector := func(gen uint32, lba uint64) []byte {
		b := make([]byte, 512)
		Fill(cfg.Seed, Op{Worker: 2, Gen: gen, LBA: lba, Count: 1}, b, 512)
		return b
	}
	initial := make([]byte, 512)
	if v := r.Check(203, initial, nil); v != Unknown {
		t.Errorf("unwritten sector without its original contents: %v", v)
	}
	if v := r.Check(203, initial, initial); v != Match {
		t.Errorf("unwritten sector holding its original contents: %v", v)
	}
	r.Apply(Op{Worker: 2, Kind: Write, LBA: 202, Count: 4, Gen: 1}, true)
	r.Apply(Op{Worker: 2, Kind: Write, LBA: 204, Count: 4, Gen: 2}, false)
	r.Apply(Op{Worker: 2, Kind: Verify, LBA: 200, Count: 10}, true)
	for _, tc := range []struct {
		lba  uint64
		data []byte
		want Verdict
	}{
		{202, sector(1, 202), Match},
		{202, initial, Corrupt},        // an acknowledged write lost
		{202, sector(1, 203), Corrupt}, // the right write, at the wrong place
		{202, sector(2, 202), Corrupt}, // a failed write that did not cover it
		{204, sector(1, 204), Match},   // the failed write did not land
		{204, sector(2, 204), Match},   // or did
		{206, sector(2, 206), Match},
		{206, initial, Unknown}, // the failed write may not have landed
		{207, sector(3, 207), Unknown},
		{210, sector(1, 210), Unknown}, // outside the stripe
	} {
		if v := r.Check(tc.lba, tc.data, nil); v != tc.want {
			t.Errorf("lba %d: %v, want %v", tc.lba, v, tc.want)
		}
	}
	if v := r.Check(206, initial, initial); v != Match {
		t.Errorf("failed write over original contents: %v", v)
	}
	if v := r.Check(207, sector(3, 207), initial); v != Corrupt {
		t.Errorf("unknown write over original contents: %v", v)
	}
	if g, f := r.Acked(204); g != 1 || f != 1 {
		t.Errorf("Acked(204) = %d, %d", g, f)
	}
	r.Apply(Op{Worker: 2, Kind: Write, LBA: 204, Count: 1, Gen: 3}, true)
	if v := r.Check(204, sector(2, 204), nil); v != Corrupt {
		t.Errorf("a later acknowledged write forgets the failed one: %v", v)
	}
}

// Distinct writes have distinct contents, in every sector.
func TestContentDistinct(t *testing.T) {
	seen := map[string]string{}
	b := make([]byte, 512)
	for w := 0; w < 4; w++ {
		for g := uint32(1); g < 50; g++ {
			Fill(7, Op{Worker: w, Gen: g, LBA: 9, Count: 1}, b, 512)
			k := string(b)
			if o, dup := seen[k]; dup {
				t.Fatalf("worker %d gen %d has the contents of %s", w, g, o)
			}
			seen[k] = fmt.Sprint(w, g)
		}
	}
}

// What the firmware prints, the host parses, and replaying it rebuilds the
// firmware's records exactly.
func TestReportRoundTrip(t *testing.T) {
	cfg := testConfig()
	plan, _ := Plan(cfg)
	var out strings.Builder
	fmt.Fprintf(&out, "ata> ata stress ...\r\n%s\r\n", Header(cfg))
	for i := range cfg.Targets {
		fmt.Fprintf(&out, "%s\r\n", TargetLine(cfg, i))
	}
	var want []*Record
	for _, s := range plan {
		st, rec := NewStream(cfg, s), NewRecord(cfg, s)
		n := uint64(100 + 37*s.Worker)
		for i := uint64(0); i < n; i++ {
			op := st.Next()
			ok := op.Seq%11 != 3
			if !ok {
				fmt.Fprintf(&out, "%s\r\n", FailedLine(op, errors.New("ata0.0: WRITE DMA lba 1 count 2: timeout")))
			}
			rec.Apply(op, ok)
		}
		want = append(want, rec)
		fmt.Fprintf(&out, "%s\r\n", WorkerLine(s, n))
	}
	rep, err := ParseReport(out.String())
	if err != nil {
		t.Fatal(err)
	}
	got, err := rep.Replay()
	if err != nil {
		t.Fatal(err)
	}
	for w := range want {
		if fmt.Sprint(got[w].acked, got[w].maybe) != fmt.Sprint(want[w].acked, want[w].maybe) {
			t.Errorf("worker %d: replayed record differs", w)
		}
	}
	if _, err := ParseReport(strings.Replace(out.String(), "stress: worker 3 target", "stress: worker 3 targte", 1)); err == nil {
		t.Error("a missing worker line was accepted")
	}
}
