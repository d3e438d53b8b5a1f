//go:build tamago

package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ataport/firmware/cmd/firmware/shell"
	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/kernel/trace"
	"github.com/ataport/firmware/miniport"
)

// The marker lines around `trace dump`'s JSON, for the host to cut it out
// of the console (cmd/tracerun, trace_test.go).
const (
	traceBegin = "--- trace json begin ---"
	traceEnd   = "--- trace json end ---"
)

func addTraceCommands(sh *shell.Shell) {
	for _, c := range []shell.Cmd{
		{Name: "trace", Help: "the recorder's state: classes, events kept and dropped per CPU", Handler: cmdTrace},
		{Name: "trace start", Args: "[CLASSES] [-size N]", Help: "record events of CLASSES (irql,intr,sync,dpc,timer,idle,req,lock; all by default), N per CPU (16384)", MaxArgs: 3, Handler: cmdTraceStart},
		{Name: "trace stop", Help: "stop recording; the events stay for show and dump", Handler: cmdTraceStop},
		{Name: "trace show", Args: "[N]", Help: "the last N events (50) as text, in time order", MaxArgs: 1, Handler: cmdTraceShow},
		{Name: "trace dump", Help: "the events as Chrome trace-event JSON (ui.perfetto.dev) between marker lines", Handler: cmdTraceDump},
	} {
		sh.Add(c)
	}
}

func cmdTraceStart(c *shell.Context, args []string) error {
	classes, size := uint32(0), 0
	for i := 0; i < len(args); i++ {
		if args[i] == "-size" {
			if i+1 == len(args) {
				return fmt.Errorf("-size: missing N")
			}
			n, err := shell.ParseCount("N", args[i+1], 1<<21) // 64 MiB per CPU
			if err != nil {
				return err
			}
			size, i = int(n), i+1
			continue
		}
		for _, name := range strings.Split(args[i], ",") {
			cl, ok := trace.ParseClass(name)
			if !ok {
				return fmt.Errorf("CLASSES: no class %q (irql,intr,sync,dpc,timer,idle,req,lock)", name)
			}
			classes |= 1 << cl
		}
	}
	if classes == 0 {
		classes = trace.AllClasses
	}
	trace.Start(classes, size, kernel.NumCPU())
	return cmdTrace(c, nil)
}

func cmdTraceStop(c *shell.Context, _ []string) error {
	trace.Stop()
	return cmdTrace(c, nil)
}

func cmdTrace(c *shell.Context, _ []string) error {
	s := trace.Stat()
	var on []string
	for cl := trace.Class(0); cl < trace.NumClasses; cl++ {
		if s.Classes&(1<<cl) != 0 {
			on = append(on, cl.String())
		}
	}
	if s.Classes == 0 {
		fmt.Fprintln(c, "trace: none since boot (`trace start` begins one)")
		return nil
	}
	state := "stopped"
	if trace.Running() {
		state = "recording"
	}
	fmt.Fprintf(c, "trace: %s, classes %s, %d events per CPU\n", state, strings.Join(on, ","), s.Size)
	for i := range s.Recorded {
		fmt.Fprintf(c, "cpu%d: %d events, %d dropped\n", i, s.Recorded[i], s.Dropped[i])
	}
	return nil
}

func cmdTraceShow(c *shell.Context, args []string) error {
	n := uint64(50)
	if len(args) == 1 {
		var err error
		if n, err = shell.ParseCount("N", args[0], 1<<30); err != nil {
			return err
		}
	}
	if err := traceStarted(); err != nil {
		return err
	}
	s := trace.Read()
	if len(s.Events) == 0 {
		fmt.Fprintln(c, "trace: no events recorded")
		return nil
	}
	return s.Text(c, int(n), traceNames())
}

// traceStarted says, for the commands that read a trace, that there is
// none to read.
func traceStarted() error {
	if trace.Stat().Classes == 0 {
		return fmt.Errorf("no trace since boot: `trace start` begins one")
	}
	return nil
}

// cmdTraceDump writes the trace as JSON between the marker lines, with
// a summary line after the end marker.
func cmdTraceDump(c *shell.Context, _ []string) error {
	if err := traceStarted(); err != nil {
		return err
	}
	s := trace.Read()
	fmt.Fprintln(c, traceBegin)
	err := s.WriteJSON(c, traceNames())
	fmt.Fprintln(c, traceEnd)
	fmt.Fprintf(c, "trace: %d events, %d dropped, cut %v, TSC %.0f Hz\n", len(s.Events), s.Dropped, s.Cut, s.Hz)
	return err
}

// traceNames names vectors by their connected interrupt, channels as the
// ATA port does, and commands as ATA8-ACS.
func traceNames() trace.Names {
	vec := map[uint8]string{}
	for _, i := range irq.Lines() {
		vec[i.Vector()] = i.Name()
	}
	return trace.Names{
		Vector:  func(v uint8) string { return vec[v] },
		Channel: func(ch uint8) string { return "ata" + strconv.Itoa(int(ch)) },
		Command: func(c uint8) string { return miniport.Command(c).String() },
	}
}

// traceIdle is the idle governor's halt hook (pc.IdleHooks).
//
// Context: the scheduler's idle hook on g0, PASSIVE, IF=1; does not block
// or allocate.
func traceIdle(halt bool) {
	if halt {
		trace.Record(trace.IdleHalt, 0, 0, 0, 0)
	} else {
		trace.Record(trace.IdleWake, 0, 0, 0, 0)
	}
}
