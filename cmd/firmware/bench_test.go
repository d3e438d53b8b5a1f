//go:build !tamago

package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/bench"
	"github.com/ataport/firmware/internal/qemu"
)

// TestBenchCommand runs `ata bench` briefly and checks what it shows, not
// how fast: a result line per test and mode; a 1 MiB DMA request is one
// command into the caller's buffer (one interrupt), a 1 MiB PIO request
// moves 16-sector DRQ blocks (128 interrupts); random reads allocate
// nothing per request; writes stay within -lba/-count; a read-only device
// refuses the write test, and a disk too small for a request says so.
func TestBenchCommand(t *testing.T) {
	img := randomImage(t, "bench.img", 32<<20, 31)
	before := readFile(t, img)
	tiny := randomImage(t, "tiny.img", 4096, 32)
	m := qemu.Boot(t, qemu.Options{Drives: []qemu.Drive{{File: img}, {File: tiny, Bus: 1}}})

	out := m.Run("ata bench 0:0 -tests seq-write", 10*time.Second)
	expectLine(t, out, "(?m)^error: 0:0 is read-only: writes are refused until `ata rw on 0:0`")
	out = m.Run("ata bench 1:0", 10*time.Second)
	expectLine(t, out, `(?m)^error: 1:0 has 8 sectors from LBA 0, too few for a 1048576-byte request\r?$`)
	m.Run("ata rw on 0:0", 10*time.Second)
	const lba, count = 8192, 8192
	out = m.Run("ata bench 0:0 -lba 8192 -count 8192 -time 200ms", 3*time.Minute)
	t.Logf("ata bench:\n%s", out)
	results := map[string]bench.Result{}
	for _, l := range strings.Split(out, "\n") {
		if r, ok := bench.ParseResult(l); ok {
			results[r.Test+" "+r.Mode] = r
		}
	}
	for _, name := range []string{"seq-read DMA", "seq-write DMA", "rand-read DMA", "seq-read PIO", "seq-write PIO", "rand-read PIO"} {
		r, ok := results[name]
		switch {
		case !ok:
			t.Errorf("no result for %s", name)
		case r.Passes != 3 || r.Reqs == 0 || r.MBps.Min > r.MBps.Median || r.MBps.Median > r.MBps.Max || r.P50 > r.P99 || r.P99 > r.Max:
			t.Errorf("%s: inconsistent result %+v", name, r)
		}
	}
	for name, want := range map[string]float64{"seq-read DMA": 1, "seq-write DMA": 1, "seq-read PIO": 128, "seq-write PIO": 128, "rand-read PIO": 1} {
		if r := results[name]; r.IntsPerReq != want {
			t.Errorf("%s: %.2f interrupts per request, want %v", name, r.IntsPerReq, want)
		}
	}
	if r := results["rand-read DMA"]; r.AllocsPerReq > 0.05 {
		t.Errorf("rand-read DMA: %.2f allocations per request, want none", r.AllocsPerReq)
	}
	m.Halt(30 * time.Second)

	after := readFile(t, img)
	if !bytes.Equal(before[:lba*512], after[:lba*512]) || !bytes.Equal(before[(lba+count)*512:], after[(lba+count)*512:]) {
		t.Error("ata bench wrote outside -lba 8192 -count 8192")
	}
}
