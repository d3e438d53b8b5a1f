//go:build !tamago

package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/qemu"
)

// TestIRQLContract runs the firmware's irqtest: every check of the IRQL
// contract on the running machine must PASS.
func TestIRQLContract(t *testing.T) {
	m := qemu.Boot(t, qemu.Options{})
	out := m.Run("irqtest", 60*time.Second)
	t.Logf("irqtest:\n%s", out)
	if strings.Contains(out, "FAIL") || !strings.Contains(out, "irqtest: 8/8 checks passed") {
		t.Errorf("irqtest did not pass all checks:\n%q", out)
	}
	for _, want := range []string{
		"is held: IRR true, handler ran false; after Lower it ran 1 time(s)",
		"masked at the IOAPIC (read back true): 0 interrupts in 20 ms, IRR false before and false after; device signalled meanwhile: true",
		"counter 2000000, want 2000000",
		"ran 1 time(s) at CR8 2 (DISPATCH) with IF 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("irqtest output lacks %q", want)
		}
	}

	irql := m.Run("irql", 5*time.Second)
	if !regexp.MustCompile(`(?m)^cpu0: CR8  0 PASSIVE\s+IF 1`).MatchString(irql) ||
		!regexp.MustCompile(`(?m)^cpu1: CR8  0 PASSIVE\s+IF 1`).MatchString(irql) {
		t.Errorf("irql does not show both CPUs at PASSIVE with IF 1:\n%s", irql)
	}

	bench := m.Run("irql bench", 60*time.Second)
	t.Logf("irql bench:\n%s", bench)
	for _, row := range []string{"PASSIVE->DISPATCH", "PASSIVE->DIRQL5", "PASSIVE->HIGH", "SpinLock Acquire+Release", "cli+sti"} {
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
