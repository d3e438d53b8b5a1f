//go:build tamago

package main

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/ataport/firmware/board/apicbase"
	"github.com/ataport/firmware/board/pc"
	"github.com/ataport/firmware/board/pvh"
	"github.com/ataport/firmware/cmd/firmware/shell"
	"github.com/ataport/firmware/kernel"
)

// commit is set by the Makefile (-X main.commit).
var commit = "unknown"

func tamagoVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/usbarmory/tamago" {
				return d.Version
			}
		}
	}
	return "unknown"
}

func addSystemCommands(sh *shell.Shell) {
	sh.Add(shell.Cmd{Name: "info", Help: "board, boot loader, CPU, TSC, local APIC, memory, versions and uptime", Handler: cmdInfo})
	sh.Add(shell.Cmd{Name: "date", Help: "wall-clock time (from the CMOS RTC at boot)", Handler: cmdDate})
	sh.Add(shell.Cmd{Name: "uptime", Help: "time since CPU reset", Handler: cmdUptime})
	sh.Add(shell.Cmd{Name: "sleep", Args: "DURATION", Help: "sleep for a Go duration (e.g. 1s, 250ms)", MinArgs: 1, MaxArgs: 1, Handler: cmdSleep})
	sh.Add(shell.Cmd{Name: "acpi", Help: "ACPI tables, PM timer, MADT entries, S5 and reset", Handler: cmdACPI})
	sh.Add(shell.Cmd{Name: "pci", Help: "PCI functions with IDs, class and BARs", Handler: cmdPCI})
	sh.Add(shell.Cmd{Name: "mem", Args: "ADDR [LEN]", Help: "hex dump of physical memory (RAM and known device windows)", MinArgs: 1, MaxArgs: 2, Handler: cmdMem})
	sh.Add(shell.Cmd{Name: "disasm", Args: "SYMBOL|ADDR [N]", Help: "disassemble N (20) instructions of the firmware", MinArgs: 1, MaxArgs: 2, Handler: cmdDisasm})
	sh.Add(shell.Cmd{Name: "halt", Help: "power off through ACPI S5", Handler: cmdHalt})
	sh.Add(shell.Cmd{Name: "reboot", Help: "reset (ACPI reset register, then the 8042)", Handler: cmdReboot})
}

// infoMetrics are what `info` reports of the heap, runtime.MemStats's
// HeapAlloc, Sys and NumGC as runtime/metrics has them (objects in spans a
// CPU still caches count once the span goes back), because ReadMemStats
// stops the world, and TamaGo's runtime can then panic ("Task exceeds
// available resources"; README Known problems).
var infoMetrics = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/gc/cycles/total:gc-cycles"},
}

// apicModes says in which mode every CPU's local APIC runs, from its
// IA32_APIC_BASE read on that CPU, and in which the boot firmware left the
// boot CPU's when it was not xAPIC (board/pc initLocalAPIC switches it).
func apicModes() (string, error) {
	bases := make([]uint64, kernel.NumCPU())
	if err := kernel.OnEachCPU(func() { bases[kernel.CPU()] = pc.APICBase() }); err != nil {
		return "", fmt.Errorf("apic: IA32_APIC_BASE: %w", err)
	}
	var s string
	if !slices.ContainsFunc(bases, func(v uint64) bool { return apicbase.ModeOf(v) != apicbase.XAPIC }) {
		s = fmt.Sprintf("xAPIC on all %d CPUs (IA32_APIC_BASE read on each)", len(bases))
	} else {
		for cpu, v := range bases {
			s += fmt.Sprintf("cpu%d %v (%#x) ", cpu, apicbase.ModeOf(v), v)
		}
		s = strings.TrimSpace(s)
	}
	if entry := pc.APICBaseAtEntry(); apicbase.ModeOf(entry) != apicbase.XAPIC {
		s += fmt.Sprintf("; %v at entry (%#x), switched by the firmware", apicbase.ModeOf(entry), entry)
	}
	return s, nil
}

func cmdInfo(c *shell.Context, _ []string) error {
	brand, family, model, stepping := pc.CPUModel()
	fmt.Fprintf(c, "board:    %s\n", pc.BoardName())
	fmt.Fprintf(c, "loader:   %s\n", pc.Loader())
	fmt.Fprintf(c, "cpu:      %s %s (family %#x model %#x stepping %d)\n", pc.CPUVendor(), brand, family, model, stepping)
	fmt.Fprintf(c, "cpus:     %d in use (GOMAXPROCS %d)\n", pc.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(c, "tsc:      %d Hz (calibrated against the ACPI PM timer)\n", pc.TSCFrequency())
	modes, err := apicModes()
	if err != nil {
		return err
	}
	fmt.Fprintf(c, "apic:     %s; local APIC timer %d Hz (idle CPUs halt on it)\n", modes, pc.LAPICTimerFrequency())
	rs, re := runtime.MemRegion()
	ts, te := runtime.TextRegion()
	fmt.Fprintf(c, "ram:      %#x-%#x Go runtime (text %#x-%#x)\n", rs, re, ts, te)
	ds, de := pc.DMARegion()
	fmt.Fprintf(c, "dma:      %#x-%#x driver buffers\n", ds, de)
	for _, r := range pc.MemoryMap() {
		fmt.Fprintf(c, "memmap:   %#012x-%#012x %s\n", r.Addr, r.End(), pvh.TypeName(r.Type))
	}
	metrics.Read(infoMetrics)
	fmt.Fprintf(c, "heap:     %d KiB in use, %d KiB from system, %d GCs\n",
		infoMetrics[0].Value.Uint64()>>10, infoMetrics[1].Value.Uint64()>>10, infoMetrics[2].Value.Uint64())
	fmt.Fprintf(c, "versions: firmware %s, Go %s, TamaGo %s\n", commit, runtime.Version(), tamagoVersion())
	fmt.Fprintf(c, "uptime:   %v\n", pc.Uptime().Round(time.Millisecond))
	return nil
}

func cmdDate(c *shell.Context, _ []string) error {
	fmt.Fprintln(c, time.Now().UTC().Format(time.RFC3339Nano))
	return nil
}

func cmdUptime(c *shell.Context, _ []string) error {
	fmt.Fprintln(c, pc.Uptime().Round(time.Millisecond))
	return nil
}

func cmdSleep(c *shell.Context, args []string) error {
	d, err := shell.ParseDuration("DURATION", args[0])
	if err != nil {
		return err
	}
	deadline := time.Now().Add(d)
	for left := time.Until(deadline); left > 0; left = time.Until(deadline) {
		if c.Interrupted() {
			return shell.ErrInterrupted
		}
		time.Sleep(min(left, 50*time.Millisecond))
	}
	return nil
}

func cmdMem(c *shell.Context, args []string) error {
	addr, err := shell.ParseAddr("ADDR", args[0], 1<<32-1)
	if err != nil {
		return err
	}
	n := uint64(256)
	if len(args) > 1 {
		if n, err = shell.ParseSize("LEN", args[1], 1<<20); err != nil {
			return err
		}
	}
	if n == 0 {
		return errors.New("LEN: must be at least 1")
	}
	w, err := pc.FindWindow(addr, n)
	if err != nil {
		return err
	}
	buf := make([]byte, n)
	if _, err := (pc.PhysMem{}).ReadAt(buf, int64(addr)); err != nil {
		return err
	}
	fmt.Fprintf(c, "%s\n", w)
	shell.HexDump(c, addr, buf)
	return nil
}

func cmdHalt(c *shell.Context, _ []string) error {
	fmt.Fprintln(c, "powering off (ACPI S5)")
	return pc.PowerOff()
}

func cmdReboot(c *shell.Context, _ []string) error {
	fmt.Fprintln(c, "resetting")
	return pc.Reset()
}

func cmdACPI(c *shell.Context, _ []string) error {
	t := pc.ACPI()
	for _, l := range t.Lines() {
		fmt.Fprintln(c, l)
	}
	if port, err := t.FADT.PMTimerPort(); err == nil {
		fmt.Fprintf(c, "PM timer: I/O port %#x, %d bits\n", port, t.FADT.PMTimerWidth())
	}
	return nil
}

func cmdPCI(c *shell.Context, _ []string) error {
	for _, f := range pc.PCIFunctions() {
		fmt.Fprintln(c, f)
	}
	return nil
}
