//go:build !tamago

package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/qemu"
)

// contextRow is one line of `ata contexts`.
type contextRow struct {
	channel, routine     string
	count                uint64
	minCR8, maxCR8       int
	ifSeen, masked, lock string
	overlap, sameCPU     uint64
}

func parseContexts(t *testing.T, out string) []contextRow {
	t.Helper()
	var rows []contextRow
	rx := regexp.MustCompile(`^(ata\d+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)$`)
	for _, l := range strings.Split(out, "\n") {
		m := rx.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(m[i], 10, 64); return v }
		rows = append(rows, contextRow{m[1], m[2], n(3), int(n(4)), int(n(5)), m[6], m[7], m[8], n(9), n(10)})
	}
	if len(rows) == 0 {
		t.Fatalf("ata contexts printed no rows:\n%s", out)
	}
	return rows
}

// TestContextsUnderLoad runs a mixed read/write load on two devices of two
// channels, one in DMA and one in PIO, from several goroutines on both
// CPUs, and checks every call the port made into the miniport against
// DESIGN.md: BuildIo at or below DISPATCH with IF=1; StartIo and the ISR at
// the channel's DIRQL holding its lock; synchronized routines at DIRQL,
// holding the lock, with the line masked at the IOAPIC (read back); DPCs at
// DISPATCH with IF=1; and an interrupt taken by a CPU in the middle of
// BuildIo, which happens only because BuildIo runs with interrupts on.
func TestContextsUnderLoad(t *testing.T) {
	a := randomImage(t, "a.img", 32<<20, 21)
	b := randomImage(t, "b.img", 32<<20, 22)
	m := qemu.Boot(t, qemu.Options{Drives: []qemu.Drive{{File: a, Bus: 0}, {File: b, Bus: 1}}})
	for _, cmd := range []string{"ata rw on 0:0", "ata rw on 1:0", "ata mode 1:0 pio"} {
		m.Run(cmd, 10*time.Second)
	}
	out := m.Run("ata stress 0:0 1:0 -time 5s -workers 4", 2*time.Minute)
	t.Logf("stress:\n%s", out)
	expectLine(t, out, `(?m)^stress: \d+ ops .* 0 errors, 0 corrupted sectors`)

	checkContexts(t, m.Run("ata contexts", 10*time.Second), 5,
		[]string{"HwBuildIo", "HwStartIo", "HwInterrupt", "SynchronizedRoutine", "CompletionDPC"}, true)
}

// checkContexts checks every row of `ata contexts` against DESIGN.md, for
// channels connected at dirql; the routines of want must have rows, and
// with sameCPU an interrupt must have been taken during a BuildIo by the
// CPU running it.
func checkContexts(t *testing.T, ctx string, dirql int, want []string, needSameCPU bool) {
	t.Helper()
	t.Logf("ata contexts:\n%s", ctx)
	d := strconv.Itoa(dirql)
	seen := map[string]bool{}
	var sameCPU uint64
	for _, r := range parseContexts(t, ctx) {
		seen[r.routine] = true
		bad := func(what string) { t.Errorf("%s %s (%d calls): %s", r.channel, r.routine, r.count, what) }
		if r.ifSeen != "1" {
			bad("IF " + r.ifSeen + ", want always 1")
		}
		switch r.routine {
		case "HwBuildIo":
			if r.maxCR8 > 2 {
				bad("CR8 up to " + strconv.Itoa(r.maxCR8) + ", want at most DISPATCH (2)")
			}
			if r.lock != "0" || r.masked != "0" {
				bad("lock " + r.lock + " masked " + r.masked + ", want neither")
			}
			sameCPU += r.sameCPU
		case "HwStartIo", "HwInterrupt":
			if r.minCR8 != dirql || r.maxCR8 != dirql || r.lock != "1" {
				bad("CR8 " + strconv.Itoa(r.minCR8) + ".." + strconv.Itoa(r.maxCR8) + " lock " + r.lock + ", want DIRQL " + d + " with the lock")
			}
		case "SynchronizedRoutine", "HwReset":
			if r.minCR8 != dirql || r.maxCR8 != dirql || r.lock != "1" || r.masked != "1" {
				bad("CR8 " + strconv.Itoa(r.minCR8) + ".." + strconv.Itoa(r.maxCR8) + " lock " + r.lock + " masked " + r.masked + ", want DIRQL " + d + ", the lock, the line masked")
			}
		case "CompletionDPC":
			if r.minCR8 != 2 || r.maxCR8 != 2 {
				bad("CR8 " + strconv.Itoa(r.minCR8) + ".." + strconv.Itoa(r.maxCR8) + ", want DISPATCH")
			}
		}
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("ata contexts has no %s row", w)
		}
	}
	if needSameCPU && sameCPU == 0 {
		t.Errorf("no interrupt was taken by the CPU running BuildIo during it")
	}
}
