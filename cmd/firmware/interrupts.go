//go:build tamago

package main

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/board/pc"
	"github.com/ataport/firmware/cmd/firmware/shell"
	"github.com/ataport/firmware/internal/bench"
	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/kernel"
)

// startInterrupts brings up the IRQL kernel, the firmware's interrupt
// entry and the interrupt controllers from what the board found in the
// MADT, then the idle governor, which halts until the wake vector. No
// interrupt source is unmasked before the entry is in the IDT.
func startInterrupts() error {
	if err := kernel.Init(pc.APICIDs()); err != nil {
		return err
	}
	kernel.InstallEntry()
	ios, lapicBase := pc.IOAPICs()
	var cfgs []irq.IOAPICConfig
	for _, io := range ios {
		cfgs = append(cfgs, irq.IOAPICConfig{ID: io.ID, Base: io.Base, GSIBase: io.GSIBase})
	}
	if err := irq.Init(cfgs, lapicBase); err != nil {
		return err
	}
	if err := kernel.OnEachCPU(func() { pc.SetupWakeTimer(kernel.WakeVector) }); err != nil {
		return fmt.Errorf("wake timer set-up: %w", err)
	}
	pc.StartIdle(pc.IdleHooks{
		Vector:       kernel.WakeVector,
		Pending:      kernel.PendingVectors,
		Service:      kernel.ServiceIdle,
		Halt:         traceIdle,
		WakeAccepted: kernel.WakeAccepted,
	})
	kernel.SetSpinWait(pc.HaltBriefly)
	startTimerProbe()
	return nil
}

// timerProbePeriod is the period of the timer probe.
const timerProbePeriod = 10 * time.Millisecond

// startTimerProbe keeps a kernel timer expiring every timerProbePeriod, so
// that the timers' lateness (kernel.TimerLateness, `irq latency`) is
// measured all the time, under load as when idle, not only when a request
// times out.
func startTimerProbe() {
	var probe *kernel.Timer
	probe = kernel.NewTimer("timer probe", func() { probe.Set(timerProbePeriod) })
	probe.Set(timerProbePeriod)
}

// isaLine resolves an ISA IRQ through the MADT overrides.
func isaLine(n uint8) (irq.Line, error) {
	i, err := pc.ISAInterrupt(n)
	if err != nil {
		return irq.Line{}, err
	}
	return irq.Line{GSI: i.GSI, Trigger: i.Trigger, Polarity: i.Polarity}, nil
}

func addInterruptCommands(sh *shell.Shell) {
	sh.Add(shell.Cmd{Name: "irql", Help: "per CPU: CR8, IF, pinned, pending DPCs, halts in long lock spins", Handler: cmdIRQL})
	sh.Add(shell.Cmd{Name: "irql bench", Help: "cycles per Raise+Lower, spin lock, cli/sti, timer Set+Cancel and DPC (medians)", Handler: cmdIRQLBench})
	sh.Add(shell.Cmd{Name: "irq", Help: "connected lines: GSI, vector, DIRQL, trigger, mask read back, counts", Handler: cmdIRQ})
	sh.Add(shell.Cmd{Name: "irq mask", Args: "LINE DURATION",
		Help:    "mask a connected line at its IOAPIC for DURATION, losing the edges that arrive meanwhile (a fault for the driver to recover from)",
		MinArgs: 2, MaxArgs: 2, Handler: cmdIRQMask})
	sh.Add(shell.Cmd{Name: "irq latency", Help: "interrupt latency: self-IPI send to ISR, each line's acceptance to ISR; timer, idle wake and timer acceptance lateness", Handler: cmdIRQLatency})
	sh.Add(shell.Cmd{Name: "irq latency reset", Help: "start the records of timer, idle wake and timer acceptance lateness anew", Handler: func(c *shell.Context, _ []string) error {
		kernel.ResetTimerLateness()
		pc.ResetIdleWakeLateness()
		pc.ResetTimerAcceptLateness()
		return nil
	}})
	sh.Add(shell.Cmd{Name: "irqtest", Help: "prove the IRQL contract on this machine (PASS/FAIL per check)", Handler: cmdIRQTest})
}

func cmdIRQL(c *shell.Context, _ []string) error {
	fmt.Fprintf(c, "this shell: CR8 %d (%v) IF %v\n", kernel.Current(), kernel.Current(), kernel.InterruptsEnabled())
	for _, s := range kernel.States() {
		fmt.Fprintf(c, "cpu%d: CR8 %2d %-9v IF %d pinned %-5v DPCs pending %d spin halts %d\n",
			s.CPU, s.CR8, s.CR8, b2i(s.IF), s.Pinned, s.PendingDPCs, s.SpinHalts)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func cmdIRQ(c *shell.Context, _ []string) error {
	fmt.Fprintf(c, "%-16s %4s %6s %-8s %-6s %-11s %-6s %10s %8s\n", "name", "GSI", "vector", "DIRQL", "trig", "polarity", "masked", "count", "not mine")
	for _, i := range irq.Lines() {
		l := i.Line()
		gsi, trig, pol, masked := "-", "-", "-", "-"
		if i.HasLine() {
			gsi = fmt.Sprint(l.GSI)
			trig, pol = l.Trigger.String(), l.Polarity.String()
			masked = fmt.Sprint(i.Masked())
		}
		s := i.Stats()
		fmt.Fprintf(c, "%-16s %4s %#6x %-8v %-6s %-11s %-6s %10d %8d\n", i.Name(), gsi, i.Vector(), i.Level(), trig, pol, masked, s.Count, s.NotMine)
	}
	t := irq.Totals()
	fmt.Fprintf(c, "unexpected vectors %d, spurious %d\n", t.Unexpected, t.Spurious)
	fmt.Fprintln(c, consoleInput())
	for _, e := range kernel.EntryStats() {
		var n uint64
		for _, a := range e.Accepted {
			n += uint64(a)
		}
		fmt.Fprintf(c, "cpu%d: %d vectors accepted by the entry, %d NMIs\n", e.CPU, n, e.NMIs)
	}
	return nil
}

// maxMask bounds `irq mask`, so that a typo cannot leave a disk's line
// masked for hours.
const maxMask = 10 * time.Minute

// cmdIRQMask masks a line for a time and returns at once; `irq` shows the
// line masked meanwhile.
func cmdIRQMask(c *shell.Context, args []string) error {
	d, err := shell.ParseDuration("DURATION", args[1])
	if err != nil {
		return err
	}
	if d > maxMask {
		return fmt.Errorf("DURATION: %v is longer than %v", d, maxMask)
	}
	var names []string
	for _, i := range irq.Lines() {
		if i.Name() != args[0] {
			names = append(names, i.Name())
			continue
		}
		if err := i.MaskFor(d); err != nil {
			return err
		}
		fmt.Fprintf(c, "%s: GSI %d masked for %v\n", i.Name(), i.Line().GSI, d)
		return nil
	}
	return fmt.Errorf("no line %q (lines: %s)", args[0], strings.Join(names, " "))
}

// latencySamples is how many self-IPIs `irq latency` times, in batches of
// latencyBatch at DISPATCH (a millisecond or two under TCG) with a yield
// point at PASSIVE between two.
const (
	latencySamples = 1000
	latencyBatch   = 50
)

// cmdIRQLatency prints, in TSC cycles and microseconds: for each connected
// line, the time from the interrupt entry's acceptance of its latest
// interrupts to their ISR; the time from a self-IPI's ICR write to its ISR
// (on the BSP at DISPATCH, where the vector is accepted at once and served
// at the safe point that ends the send); and how late the latest kernel
// timers ran after their deadlines (the timer probe keeps one running),
// how late halted CPUs woke after theirs, and how late CPUs took their
// local APIC timer's interrupt: timers late while the other two are on
// time were held by a goroutine computing on their CPU; wakes and
// acceptances as late as the timers point at the host not running the
// CPU. The self-IPIs run in batches with a yield point between two, where
// the BSP's expired timers run: all of them at DISPATCH at once held the
// BSP for some 12 ms under TCG, and on one CPU its timers with it. The
// three records are read before them all the same.
func cmdIRQLatency(c *shell.Context, _ []string) error {
	hz := pc.TSCFrequency()
	var lateness []bench.Latency
	for _, r := range []struct {
		name   string
		record func() ([]time.Duration, time.Duration, uint64)
	}{
		{"kernel timers, deadline to expiry", kernel.TimerLateness},
		{"idle CPUs, deadline to wake from halt", pc.IdleWakeLateness},
		{"all CPUs, local APIC timer deadline to acceptance", pc.TimerAcceptLateness},
	} {
		recent, worst, n := r.record()
		lateness = append(lateness, bench.Lateness(r.name, toCycles(recent, hz), toCycles([]time.Duration{worst}, hz)[0], n, hz))
	}
	// The device lines first: the self-IPIs below take room in the same
	// per-CPU record of dispatch latencies.
	for _, i := range irq.Lines() {
		if !i.HasLine() {
			continue
		}
		lat := kernel.DispatchLatencies(i.Vector())
		fmt.Fprintln(c, bench.Latencies(fmt.Sprintf("%s vector %#x, accepted to ISR", i.Name(), i.Vector()), lat, hz))
	}
	var start, at atomic.Uint64
	intr, err := irq.ConnectVector("irq latency", testDIRQL, func() bool {
		at.Store(pc.AMD64.Counter())
		return true
	})
	if err != nil {
		return err
	}
	samples := make([]uint64, 0, latencySamples)
	var y kernel.Yielder
	for len(samples) < latencySamples && err == nil {
		kernel.RunOnCPU(0, func() {
			for range latencyBatch {
				at.Store(0)
				start.Store(pc.AMD64.Counter())
				if err = irq.SelfIPI(intr.Vector()); err != nil {
					return
				}
				for at.Load() == 0 {
					kernel.ServicePoint()
				}
				samples = append(samples, at.Load()-start.Load())
			}
		})
		y.Point()
	}
	intr.Disconnect()
	if err != nil {
		return err
	}
	fmt.Fprintln(c, bench.Latencies(fmt.Sprintf("self-IPI %v vector %#x, send to ISR", testDIRQL, intr.Vector()), samples, hz))
	for _, l := range lateness {
		fmt.Fprintln(c, l)
	}
	return nil
}

// toCycles converts durations to cycles of a hz clock.
func toCycles(d []time.Duration, hz uint64) []uint64 {
	c := make([]uint64, len(d))
	for k, v := range d {
		c[k] = uint64(v.Seconds() * float64(hz))
	}
	return c
}

func cmdIRQLBench(c *shell.Context, _ []string) error {
	for _, r := range kernel.Benchmark(10001, 5, pc.AMD64.Counter) {
		fmt.Fprintln(c, r)
	}
	return nil
}
