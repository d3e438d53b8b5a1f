//go:build !tamago

package main

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/qemu"
)

// hostTSC reads the host CPU's nominal frequency for comparison with the
// firmware's calibration; under TCG the guest TSC runs at the host's rate.
func hostTSC(t *testing.T) float64 {
	out, err := exec.Command("sh", "-c", "grep -m1 'cpu MHz' /proc/cpuinfo").Output()
	if err != nil {
		t.Skipf("host CPU frequency unknown: %v", err)
	}
	f := strings.TrimSpace(string(out[strings.IndexByte(string(out), ':')+1:]))
	mhz, err := strconv.ParseFloat(f, 64)
	if err != nil {
		t.Skipf("host CPU frequency %q: %v", f, err)
	}
	return mhz * 1e6
}

func TestBootAndShell(t *testing.T) {
	m := qemu.Start(t, qemu.Options{})
	m.Expect(regexp.QuoteMeta(qemu.Prompt), 60*time.Second)
	t.Logf("boot to prompt (QEMU start to shell prompt, TCG): %v", time.Since(m.Started).Round(time.Millisecond))

	info := m.Run("info", 10*time.Second)
	if !regexp.MustCompile(`cpus:\s+2 in use`).MatchString(info) {
		t.Errorf("info does not report 2 CPUs:\n%s", info)
	}
	mt := regexp.MustCompile(`tsc:\s+(\d+) Hz`).FindStringSubmatch(info)
	if mt == nil {
		t.Fatalf("info has no TSC frequency:\n%s", info)
	}
	guest, _ := strconv.ParseFloat(mt[1], 64)
	host := hostTSC(t)
	if guest < host*0.75 || guest > host*1.25 {
		t.Errorf("TSC %0.f Hz is not within 25%% of the host's %0.f Hz", guest, host)
	}
	for _, want := range []string{"board:", "versions: firmware", "Go go1.26", "TamaGo v1.26.0", "uptime:"} {
		if !strings.Contains(info, want) {
			t.Errorf("info lacks %q:\n%s", want, info)
		}
	}

	pci := m.Run("pci", 10*time.Second)
	if !regexp.MustCompile(`00:01\.1 8086:7010 class 01/01`).MatchString(pci) {
		t.Errorf("pci does not show the PIIX3 IDE function:\n%s", pci)
	}

	acpi := m.Run("acpi", 10*time.Second)
	if !regexp.MustCompile(`PM timer.*port 0x608`).MatchString(acpi) {
		t.Errorf("acpi shows no PM timer port:\n%s", acpi)
	}

	dis := m.Run("disasm kernel.Raise 12", 20*time.Second)
	if !regexp.MustCompile(`(?m)^0x[0-9a-f]+ <[^>]*kernel\.Raise\+0x0>\s+[0-9a-f]+\s+\S+`).MatchString(dis) {
		t.Errorf("disasm prints no instructions of kernel.Raise:\n%s", dis)
	}

	start := time.Now()
	m.Run("sleep 1s", 10*time.Second)
	if d := time.Since(start); d < 900*time.Millisecond || d > 1100*time.Millisecond {
		t.Errorf("sleep 1s took %v on the host", d)
	}

	bad := m.Run("frobnicate 1 2", 5*time.Second)
	if strings.TrimSpace(bad) != `unknown command "frobnicate" (try help)` {
		t.Errorf("bad command output %q", bad)
	}
	usage := m.Run("sleep", 5*time.Second)
	if !strings.Contains(usage, "usage: sleep DURATION") {
		t.Errorf("usage error output %q", usage)
	}
	if out := m.Run("mem 0xdead0000 16", 5*time.Second); !strings.Contains(out, "outside") {
		t.Errorf("mem outside RAM was not refused: %q", out)
	}
	if out := m.Run("mem 0xf0000 32", 5*time.Second); !regexp.MustCompile(`000f0000  [0-9a-f]{2} `).MatchString(out) {
		t.Errorf("mem of the BIOS area printed no dump: %q", out)
	}
	help := m.Run("help", 5*time.Second)
	if !regexp.MustCompile(`(?m)^disasm SYMBOL\|ADDR \[N\]\n    disassemble `).MatchString(help) {
		t.Errorf("help lacks disasm's usage and description:\n%s", help)
	}
	for _, l := range strings.Split(help, "\n") {
		if len(l) > 79 {
			t.Errorf("help line of %d columns does not fit an 80-column terminal: %q", len(l), l)
		}
	}
	if out := m.Run("help ata bench", 5*time.Second); !strings.Contains(out, "[-tests seq-read,seq-write,rand-read]") {
		t.Errorf("help ata bench lacks the full usage:\n%s", out)
	}

	m.Send("halt\r")
	start = time.Now()
	if code := m.Wait(5 * time.Second); code != 0 {
		t.Errorf("QEMU exit status %d after halt, want 0", code)
	}
	t.Logf("halt to QEMU exit: %v", time.Since(start).Round(time.Millisecond))
}

// TestBootWith8259 boots the default `pc` machine with the 8259 PIC and PIT
// explicitly on: the board must mask the PIC before enabling interrupts.
func TestBootWith8259(t *testing.T) {
	m := qemu.Boot(t, qemu.Options{Machine: "pc,pic=on,pit=on"})
	if out := m.Run("uptime", 5*time.Second); !regexp.MustCompile(`\d`).MatchString(out) {
		t.Errorf("uptime: %q", out)
	}
}
