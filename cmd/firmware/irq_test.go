//go:build !tamago

package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/qemu"
)

// TestIRQLContract runs the firmware's irqtest on one, two and four CPUs:
// every check of the IRQL contract on the running machine must PASS, but
// the spin lock shared by two CPUs, which one CPU reports as skipped.
func TestIRQLContract(t *testing.T) {
	for _, tc := range []struct{ smp, summary string }{
		{"1", "irqtest: 9/9 checks passed, 2 skipped"},
		{"2,sockets=1,cores=2", "irqtest: 11/11 checks passed, 0 skipped"},
		{"4,sockets=1,cores=4", "irqtest: 11/11 checks passed, 0 skipped"},
	} {
		t.Run("smp"+tc.smp[:1], func(t *testing.T) { irqlContract(t, tc.smp, tc.summary) })
	}
}

func irqlContract(t *testing.T, smp, summary string) {
	m := qemu.Boot(t, qemu.Options{SMP: smp})
	out := m.Run("irqtest", 60*time.Second)
	t.Logf("irqtest:\n%s", out)
	if strings.Contains(out, "FAIL") || !strings.Contains(out, summary) {
		t.Errorf("irqtest did not pass all checks, want %q:\n%q", summary, out)
	}
	wants := []string{
		"is held: IRR true, handler ran false; after Lower it ran 1 time(s)",
		"masked at the IOAPIC (read back true): 0 interrupts in 20 ms, IRR false before and false after; device signalled meanwhile: true",
		"ran 1 time(s) at CR8 2 (DISPATCH) with IF 1",
		"is taken and its ISR runs before the RTC ISR returns: true",
		"is held: 0 RTC ISRs in 5-100 ms, its vector requested in the IRR true; it runs after the higher ISR returns: true",
	}
	if smp == "1" {
		wants = append(wants, "SKIP: a spin lock shared by two CPUs needs two CPUs; this machine has one")
	} else {
		wants = append(wants, "counter 2000000, want 2000000")
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("irqtest output lacks %q", want)
		}
	}

	// No CPU is left raised or with interrupts off. One `irql` is a
	// snapshot, and a CPU may be at DISPATCH for a moment then (a timer's
	// DPC), so each CPU must be seen at PASSIVE with IF 1 in one of up to
	// 20 snapshots; a level left raised shows in all of them.
	cpus, _ := strconv.Atoi(smp[:1])
	seen := make([]bool, cpus)
	var irql string
	for try := 0; try < 20 && slices.Contains(seen, false); try++ {
		irql = m.Run("irql", 5*time.Second)
		for c := range seen {
			seen[c] = seen[c] || regexp.MustCompile(`(?m)^cpu`+strconv.Itoa(c)+`: CR8  0 PASSIVE\s+IF 1`).MatchString(irql)
		}
	}
	for c, ok := range seen {
		if !ok {
			t.Errorf("irql never showed cpu%d at PASSIVE with IF 1 in 20 snapshots; the last:\n%s", c, irql)
		}
	}

	bench := m.Run("irql bench", 60*time.Second)
	t.Logf("irql bench:\n%s", bench)
	for _, row := range []string{"PASSIVE->DISPATCH", "PASSIVE->DIRQL5", "PASSIVE->HIGH", "SpinLock Acquire+Release", "cli+sti", "Timer Set+Cancel", "DPC Queue"} {
		if !regexp.MustCompile(regexp.QuoteMeta(row) + `.*median\s+\d+ cycles`).MatchString(bench) {
			t.Errorf("irql bench lacks %q:\n%s", row, bench)
		}
	}

	// The raise routine writes CR8 through kernel.writeCR8.
	raise := m.Run("disasm kernel.Raise 400", 20*time.Second)
	if !strings.Contains(raise, "CALL github.com/ataport/firmware/kernel.writeCR8(SB)") {
		t.Errorf("disasm kernel.Raise shows no call of writeCR8:\n%s", raise)
	}
	w := m.Run("disasm kernel.writeCR8 3", 10*time.Second)
	if !regexp.MustCompile(`440f22c0\s+MOV[LQ] AX, CR8`).MatchString(w) {
		t.Errorf("disasm kernel.writeCR8 shows no CR8 write:\n%s", w)
	}
}
