//go:build tamago

// Command firmware is the ATA port firmware: a TamaGo unikernel for PC
// machines that drives ATA disks through the ATA port / miniport model and
// offers a debug shell on the serial console (COM1, 115200 8N1).
package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/ataport/firmware/board/pc"
	"github.com/ataport/firmware/cmd/firmware/shell"
)

func main() {
	fmt.Printf("\nataport firmware %s on %s, %d CPUs, TSC %d MHz\n",
		commit, pc.BoardName(), pc.NumCPU(), pc.TSCFrequency()/1000000)
	for _, w := range pc.Warnings() {
		fmt.Printf("warning: %s\n", w)
	}
	// A collection stops the world twice, and restarting it can panic
	// TamaGo's runtime (README "Known problems"): collect only when the
	// runtime's memory fills, not at every doubling of a heap of a few MiB.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(int64(pc.RuntimeRAM() / 4 * 3))
	if err := startInterrupts(); err != nil {
		fmt.Printf("interrupts: %v\n", err)
	} else {
		if err := startConsole(); err != nil {
			fmt.Printf("console: polling COM1 every %v: %v\n", pollInterval, err)
		}
		startATA()
	}

	sh := &shell.Shell{
		In:     console{},
		Out:    console{},
		Poll:   consolePoll,
		Prompt: "ata> ",
		OnPanic: func(v any, stack []byte) {
			os.Stdout.Write(stack)
		},
	}
	addSystemCommands(sh)
	addInterruptCommands(sh)
	addATACommands(sh)
	addTraceCommands(sh)
	addBenchCommands(sh)
	addFaultCommands(sh)

	fmt.Printf("firmware entry to shell in %v; type help\n", pc.SinceEntry().Round(time.Millisecond))
	err := sh.Run()
	fmt.Printf("shell stopped: %v\n", err)
	pc.PowerOff()
}
