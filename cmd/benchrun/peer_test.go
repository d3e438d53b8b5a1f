package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestPeerPairing(t *testing.T) {
	out := "result: seq-read PIO size 1048576: MB/s 30.0 [28.0 31.0] IOPS 28.6 [26.7 29.6] p50 35000.0us p99 40000.0us max 41000.0us ints/req 128.00 by-vector 100.0% sync/req 0.000 dirql/req 22000.0us allocs/req 0.00 passes 3 reqs 90\r\n" +
		"result: seq-write PIO size 1048576: MB/s 20.0 [19.0 21.0] IOPS 19.1 [18.1 20.0] p50 52000.0us p99 60000.0us max 61000.0us ints/req 128.00 by-vector 100.0% sync/req 0.000 dirql/req 22000.0us allocs/req 0.00 passes 3 reqs 60\r\n"
	fw := parse(out, Env{})
	linux, err := linuxRecord([]byte("[linux-peer] noise\n{\"mode\":\"dma\",\"seq_read_MBps\":1}\n{\"mode\":\"pio\",\"seq_read_MBps\":25.0,\"seq_write_MBps\":25.0}\n"), "pio")
	if err != nil {
		t.Fatal(err)
	}
	r1, err := pairRound(1, "pio", fw, linux)
	if err != nil {
		t.Fatal(err)
	}
	if len(r1) != 2 || r1[0].Test != "pio seq-read 1M" || r1[0].Ratio != 1.2 || r1[1].Test != "pio seq-write 1M" || r1[1].Ratio != 0.8 || r1[0].Target != 1.0 {
		t.Fatalf("round 1: %+v", r1)
	}
	r2 := []PeerRound{{Round: 2, Test: "pio seq-read 1M", Ratio: 0.9, Target: 1}, {Round: 3, Test: "pio seq-read 1M", Ratio: 1.5, Target: 1}, {Round: 4, Test: "pio seq-read 1M", Ratio: 1.1, Target: 1}}
	s := summarize(append(r1, r2...))
	if len(s) != 2 {
		t.Fatalf("summaries: %+v", s)
	}
	// reads: 0.9 1.1 1.2 1.5
	if r := s[0]; r.Test != "pio seq-read 1M" || r.Rounds != 4 || math.Abs(r.Ratio.Median-1.15) > 1e-9 || r.Ratio.Min != 0.9 || r.Ratio.Max != 1.5 || r.Met != 3 {
		t.Errorf("reads: %+v", r)
	}
	if r := s[1]; r.Rounds != 1 || r.Ratio.Median != 0.8 || r.Met != 0 {
		t.Errorf("writes: %+v", r)
	}

	if _, err := pairRound(1, "pio", fw[:1], linux); err == nil {
		t.Error("a missing firmware result paired")
	}
	if _, err := pairRound(1, "pio", fw, map[string]any{"mode": "pio", "seq_read_MBps": 25.0}); err == nil {
		t.Error("a missing Linux figure paired")
	}
	if _, err := linuxRecord([]byte("{\"mode\":\"dma\"}\n"), "pio"); err == nil {
		t.Error("found a pio record in a dma run")
	}
	if _, err := peerModes("pio,sata"); err == nil {
		t.Error("accepted mode sata")
	}
}

// TestPeerRetry: a Linux boot that fails is booted once more, and the
// failure is reported; two failures in a row end the round.
func TestPeerRetry(t *testing.T) {
	for _, fails := range []int{0, 1, 2} {
		boots := 0
		var log strings.Builder
		rec, err := peerRetry(func() (map[string]any, error) {
			boots++
			if boots <= fails {
				return nil, fmt.Errorf("linux-peer: exit status 1 (boot %d)", boots)
			}
			return map[string]any{"mode": "dma"}, nil
		}, &log)
		wantBoots := min(fails+1, 2)
		switch {
		case boots != wantBoots:
			t.Errorf("%d failures: %d boots, want %d", fails, boots, wantBoots)
		case fails < 2 && (err != nil || rec["mode"] != "dma"):
			t.Errorf("%d failures: %v, %v", fails, rec, err)
		case fails == 2 && (err == nil || !strings.Contains(err.Error(), "boot 2")):
			t.Errorf("%d failures: error %v, want the second boot's", fails, err)
		case (fails > 0) != strings.Contains(log.String(), "booting Linux once more"):
			t.Errorf("%d failures: log %q", fails, log.String())
		}
	}
}
