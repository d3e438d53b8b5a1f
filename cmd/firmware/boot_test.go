//go:build !tamago

package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/qemu"
)

// guestUptime runs uptime and returns the guest's time since reset, and
// the host's time when the answer arrived.
func guestUptime(t *testing.T, m *qemu.Machine) (time.Duration, time.Time) {
	t.Helper()
	out := strings.TrimSpace(m.Run("uptime", 5*time.Second))
	host := time.Now()
	d, err := time.ParseDuration(out)
	if err != nil {
		t.Fatalf("uptime: %q: %v", out, err)
	}
	return d, host
}

// TestBootAndShell boots to the prompt and checks the system commands:
// info (2 CPUs, a TSC frequency that keeps the guest's clock at the host's
// pace, versions), pci, acpi, disasm, sleep, errors, mem, help and halt.
func TestBootAndShell(t *testing.T) {
	m := qemu.Start(t, qemu.Options{})
	m.Expect(regexp.QuoteMeta(qemu.Prompt), 60*time.Second)
	t.Logf("boot to prompt (QEMU start to shell prompt, TCG): %v", time.Since(m.Started).Round(time.Millisecond))

	info := m.Run("info", 10*time.Second)
	if !regexp.MustCompile(`cpus:\s+2 in use`).MatchString(info) {
		t.Errorf("info does not report 2 CPUs:\n%s", info)
	}
	// SeaBIOS on QEMU 7.2 leaves xAPIC mode (TestX2APICAtEntry has x2APIC).
	expectLine(t, info, `(?m)^apic:\s+xAPIC on all 2 CPUs \(IA32_APIC_BASE read on each\); local APIC timer \d+ Hz`)
	mt := regexp.MustCompile(`tsc:\s+(\d+) Hz`).FindStringSubmatch(info)
	if mt == nil {
		t.Fatalf("info has no TSC frequency:\n%s", info)
	}
	// The guest's clock is its TSC divided by the frequency the firmware
	// calibrated, so it keeps the host's pace only if that frequency is the
	// TSC's real rate: over 2 s, a 5% error in it shows as 100 ms, against
	// a few ms of serial latency at each end.
	tsc, _ := strconv.ParseFloat(mt[1], 64)
	up0, host0 := guestUptime(t, m)
	m.Run("sleep 2s", 10*time.Second)
	up1, host1 := guestUptime(t, m)
	ratio := float64(up1-up0) / float64(host1.Sub(host0))
	t.Logf("TSC %.0f Hz calibrated; the guest clock ran %v while the host's ran %v: the TSC runs at %.0f Hz",
		tsc, up1-up0, host1.Sub(host0).Round(time.Millisecond), tsc*ratio)
	if ratio < 0.95 || ratio > 1.05 {
		t.Errorf("TSC calibrated at %.0f Hz runs at %.0f Hz: the guest clock ran %v while the host's ran %v, not within 5%%",
			tsc, tsc*ratio, up1-up0, host1.Sub(host0).Round(time.Millisecond))
	}
	for _, want := range []string{"board:", "loader:   PVH entry, no loader named (QEMU -kernel)", "versions: firmware", "Go go1.26", "TamaGo v1.26.0", "uptime:"} {
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

	start = time.Now()
	m.Halt(5 * time.Second)
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

// TestMachines boots each machine of README's "Tested machines" with its
// CPU count and memory size, and checks what each shows: the board, every
// CPU in use, the memory map the firmware read (RAM from 1 MiB to where the
// machine ends it below 4 GiB, and the RAM above 4 GiB exactly when there
// is some), the Go runtime in its fixed window whatever the memory size,
// and the storage: on pc a disk the firmware reads right, on q35 the AHCI
// controller driven by its miniport.
func TestMachines(t *testing.T) {
	for _, c := range []struct {
		machine, board string
		cpus           int
		mem            string
		low, high      uint64 // ends of RAM below and above 4 GiB (0: none above)
	}{
		{"pc", "QEMU pc (i440FX + PIIX3)", 1, "1G", 0x3ffe0000, 0},
		{"pc", "QEMU pc (i440FX + PIIX3)", 1, "2G", 0x7ffe0000, 0},
		{"pc", "QEMU pc (i440FX + PIIX3)", 2, "2G", 0x7ffe0000, 0},
		{"pc", "QEMU pc (i440FX + PIIX3)", 4, "2G", 0x7ffe0000, 0},
		{"pc", "QEMU pc (i440FX + PIIX3)", 2, "4G", 0xbffe0000, 0x140000000},
		{"pc", "QEMU pc (i440FX + PIIX3)", 2, "8G", 0xbffe0000, 0x240000000},
		{"q35", "QEMU q35 (Q35 + ICH9)", 2, "1G", 0x3ffdf000, 0},
		{"q35", "QEMU q35 (Q35 + ICH9)", 1, "2G", 0x7ffdf000, 0},
		{"q35", "QEMU q35 (Q35 + ICH9)", 2, "4G", 0x7ffdf000, 0x180000000},
		{"q35", "QEMU q35 (Q35 + ICH9)", 2, "8G", 0x7ffdf000, 0x280000000},
		{"q35", "QEMU q35 (Q35 + ICH9)", 4, "2G", 0x7ffdf000, 0},
	} {
		t.Run(fmt.Sprintf("%s/%dcpu/%s", c.machine, c.cpus, c.mem), func(t *testing.T) {
			opts := qemu.Options{Machine: c.machine, Mem: c.mem, SMP: fmt.Sprintf("%d,sockets=1,cores=%d", c.cpus, c.cpus)}
			var disk string
			if c.machine == "pc" {
				disk = randomImage(t, "disk.img", 4<<20, uint64(c.cpus))
				opts.Drives = []qemu.Drive{{File: disk}}
			}
			m := qemu.Boot(t, opts)

			info := m.Run("info", 10*time.Second)
			expectLine(t, info, `(?m)^board:\s+`+regexp.QuoteMeta(c.board)+`$`)
			expectLine(t, info, fmt.Sprintf(`(?m)^cpus:\s+%d in use \(GOMAXPROCS %d\)$`, c.cpus, c.cpus))
			expectLine(t, info, fmt.Sprintf(`(?m)^memmap:\s+0x000000100000-0x%012x RAM$`, c.low))
			high := regexp.MustCompile(`(?m)^memmap:\s+0x000100000000-0x([0-9a-f]{12}) RAM$`).FindStringSubmatch(info)
			switch {
			case c.high == 0 && high != nil:
				t.Errorf("RAM above 4 GiB in a machine of %s:\n%s", c.mem, info)
			case c.high != 0 && (high == nil || high[1] != fmt.Sprintf("%012x", c.high)):
				t.Errorf("no RAM 0x100000000-0x%x in the memory map:\n%s", c.high, info)
			}
			expectLine(t, info, `(?m)^ram:\s+0x10000000-0x30000000 Go runtime`)

			list := m.Run("ata", 10*time.Second)
			if c.machine == "pc" {
				expectLine(t, list, `(?m)^0:0 ATA\s+"QEMU HARDDISK" sectors 8192 `)
				if got, want := firmwareSum(t, m, "0:0", time.Minute), sum(readFile(t, disk)); got != want {
					t.Errorf("0:0: firmware SHA-256 %s, host %s", got, want)
				}
			} else {
				expectLine(t, list, `(?m)^ICH9 AHCI 00:1f\.2 8086:2922 `)
			}
			m.Halt(10 * time.Second)
		})
	}
}

// TestCPUTopologies boots the -smp forms users type besides TestMachines'
// sockets=1,cores=N: the bare count; CPUs that can be hot-plugged
// (maxcpus), which the MADT lists but does not enable, and which the boot
// once waited for for good; two sockets, of which TamaGo starts only the
// boot CPU's, which the firmware says in one warning; and eight cores, as
// many logical CPUs as a PC with four cores and Hyper-Threading has (QEMU's
// TCG CPU warns of threads=2), on which the runtime had not started an M
// on the last CPU when the boot waited to run there. Each
// boots to the shell, uses the CPUs it says, and reads a disk right.
func TestCPUTopologies(t *testing.T) {
	for _, c := range []struct {
		name, smp string
		cpus      int
		warn      string
	}{
		{"bare", "4", 4, ""},
		{"eight", "8,sockets=1,cores=8", 8, ""},      // hung at boot until session 24
		{"sixteen", "16,sockets=1,cores=16", 16, ""}, // 21 s at boot under TCG until session 25
		{"maxcpus", "2,maxcpus=4", 2, ""},
		{"sockets", "2,sockets=2,cores=1", 1, "warning: 1 of the MADT's 2 enabled CPUs in use: TamaGo starts the APs by APIC ID from 1 up, within the boot CPU's package (CPUID), and the firmware only IDs the MADT enables without a gap from 0"},
	} {
		t.Run(c.name, func(t *testing.T) { // no comma: the test's directory goes into -drive
			t.Parallel()
			disk := randomImage(t, "disk.img", 4<<20, 61)
			m := qemu.Boot(t, qemu.Options{SMP: c.smp, Drives: []qemu.Drive{{File: disk}}})
			expectLine(t, m.Log(), fmt.Sprintf(`(?m)^ataport firmware \S+ on QEMU pc \(i440FX \+ PIIX3\), %d CPUs,`, c.cpus))
			if c.warn != "" {
				expectLine(t, m.Log(), `(?m)^`+regexp.QuoteMeta(c.warn)+`\r?$`)
			} else if strings.Contains(m.Log(), "warning:") {
				t.Errorf("a warning at boot:\n%s", m.Log())
			}
			expectLine(t, m.Run("info", 10*time.Second), fmt.Sprintf(`(?m)^cpus:\s+%d in use \(GOMAXPROCS %d\)$`, c.cpus, c.cpus))
			if got, want := firmwareSum(t, m, "0:0", time.Minute), sum(readFile(t, disk)); got != want {
				t.Errorf("0:0: firmware SHA-256 %s, host %s", got, want)
			}
			m.Halt(10 * time.Second)
		})
	}
}

// TestTooLittleMemory boots machines whose RAM ends below the firmware's
// memory (0x10000000-0x38000000, board/pc/pc.go) by each way in: QEMU's
// own PVH entry, the BIOS loader and the UEFI loader, with 768 MiB and with
// QEMU's default 128 MiB, where the firmware's own segments are not even
// loaded. Each stops with one line naming that memory and the map it
// read, before anything runs in it.
func TestTooLittleMemory(t *testing.T) {
	for _, mem := range []string{"768M", "128M"} {
		for _, c := range []struct {
			name, want string
			start      func(t *testing.T) *qemu.Machine
		}{
			{"pvh", "PVH memory map", func(t *testing.T) *qemu.Machine {
				return qemu.Start(t, qemu.Options{Mem: mem})
			}},
			{"bios-image", "E820 memory map", func(t *testing.T) *qemu.Machine {
				return startFromImage(t, writeTempImage(t, "firmware.img", readImage(t)), qemu.Options{Mem: mem})
			}},
			{"uefi-image", "UEFI memory map", func(t *testing.T) *qemu.Machine {
				return startUEFI(t, writeTempImage(t, "firmware.img", readImage(t)), qemu.Options{Machine: "q35", Mem: mem})
			}},
		} {
			t.Run(c.name+"-"+mem, func(t *testing.T) {
				m := c.start(t)
				m.Expect(`(?m)^boot: memory 0x10000000-0x38000000 is not all RAM: the firmware needs it \(`+c.want+`\)\r*$`, 120*time.Second)
				if strings.Contains(m.Log(), "ataport firmware") || strings.Contains(m.Log(), "boot: loading firmware") && c.name == "bios-image" {
					t.Errorf("the firmware was loaded or started on %s of RAM:\n%s", mem, m.Log())
				}
			})
		}
	}
}

// TestNoACPI boots a machine without ACPI tables (QEMU's acpi=off): the
// board says so in one line and stops, where it panicked with a stack.
func TestNoACPI(t *testing.T) {
	m := qemu.Start(t, qemu.Options{Machine: "pc,acpi=off"})
	m.Expect(`(?m)^boot: acpi: RSDP not found in the EBDA \(0x[0-9a-f]+\) or 0xe0000-0xfffff: the firmware needs the ACPI tables \(MADT, FADT\)\r*$`, 60*time.Second)
	if log := m.Log(); strings.Contains(log, "panic") || strings.Contains(log, "goroutine") {
		t.Errorf("a panic without ACPI:\n%s", log)
	}
}

// TestNoRDRAND boots QEMU's default CPU model, qemu64, which has no
// RDRAND, by each way in: the firmware's entry stops with one line saying
// so, where the Go runtime would have died silently of a #UD in TamaGo's
// seeding before anything could print.
func TestNoRDRAND(t *testing.T) {
	const cpu = "qemu64"
	for _, c := range []struct {
		name  string
		start func(t *testing.T) *qemu.Machine
	}{
		{"pvh", func(t *testing.T) *qemu.Machine {
			return qemu.Start(t, qemu.Options{CPU: cpu})
		}},
		{"bios-image", func(t *testing.T) *qemu.Machine {
			return startFromImage(t, writeTempImage(t, "firmware.img", readImage(t)), qemu.Options{CPU: cpu})
		}},
		{"uefi-image", func(t *testing.T) *qemu.Machine {
			return startUEFI(t, writeTempImage(t, "firmware.img", readImage(t)), qemu.Options{Machine: "q35", CPU: cpu})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m := c.start(t)
			m.Expect(`(?m)^boot: the CPU has no RDRAND \(CPUID\.01H:ECX bit 30\), which the Go runtime needs; under QEMU use -cpu max\r*$`, 120*time.Second)
			if strings.Contains(m.Log(), "ataport firmware") {
				t.Errorf("the firmware started without RDRAND:\n%s", m.Log())
			}
		})
	}
}
