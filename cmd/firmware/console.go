//go:build tamago

package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/board/pc"
	"github.com/ataport/firmware/internal/ring"
	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/kernel"
)

// console is the shell's terminal on COM1.
type console struct{}

// consoleDIRQL is the level of COM1's line: the lowest device level, so
// that typing never holds back a disk's interrupt.
const consoleDIRQL = kernel.DIRQLMin

// consoleIRQ is COM1's ISA IRQ (PC/AT standard).
const consoleIRQ = 4

// pollInterval bounds input latency when the UART has no interrupt line.
// QEMU and a real 16550 hold 16 bytes in the receive FIFO, 1.4 ms of input
// at 115200 baud, so polling at this rate loses nothing.
const pollInterval = 500 * time.Microsecond

// safetyPoll is how often a reader that waits for input looks at the
// UART itself: when two looks in a row find it asserting its interrupt and
// the ISR did not run in between, the edge was lost (or the BSP held it
// back that long) and the look takes the bytes. con.polled counts them.
const safetyPoll = 100 * time.Millisecond

// con is the console's receive side: the ISR moves the bytes from the
// UART's FIFO into ring and queues dpc, which wakes the reader.
var con struct {
	intr  *irq.Interrupt // nil: no interrupt, Read polls the UART
	ring  ring.Bytes
	dpc   *kernel.DPC
	ready chan struct{}

	// seen is the ISR's count at the latest look of the safety poll
	// that found the UART asserting its interrupt, unseen when the latest
	// found it quiet; under the line's interrupt lock.
	seen uint64

	received atomic.Uint64 // bytes the ISR took
	polled   atomic.Uint64 // bytes the safety poll took
	overruns atomic.Uint64 // bytes the UART lost: its FIFO was full
}

// startConsole connects COM1's line and enables its receive interrupt.
// Without a UART it does nothing; when the line cannot be connected, the
// console keeps polling and the error says why.
//
// Context: PASSIVE, after startInterrupts; may block and allocate.
func startConsole() error {
	if !pc.ConsolePresent() {
		return nil
	}
	line, err := isaLine(consoleIRQ)
	if err != nil {
		return err
	}
	con.seen = unseen
	con.ready = make(chan struct{}, 1)
	con.dpc = kernel.NewDPC("com1", func() {
		select {
		case con.ready <- struct{}{}:
		default:
		}
	})
	i, err := irq.Connect("com1", line, consoleDIRQL, consoleISR)
	if err != nil {
		return err
	}
	con.intr = i
	pc.EnableConsoleInterrupt()
	return nil
}

// consoleISR is COM1's ISR.
//
// Context: consoleDIRQL, IF=1, the line's interrupt lock held; does not
// block or allocate.
func consoleISR() bool {
	claimed, n, over := pc.ServiceConsole(putConsole)
	con.received.Add(uint64(n))
	con.overruns.Add(uint64(over))
	if n > 0 {
		con.dpc.Queue()
	}
	return claimed
}

// putConsole queues one received byte; con.ring counts what it drops.
func putConsole(b byte) { con.ring.Put(b) }

// unseen marks con.seen as not set.
const unseen = ^uint64(0)

// pollConsole is the safety poll. It runs under the line's interrupt lock,
// so that it and the ISR take bytes in turn.
//
// Context: PASSIVE; spins for the interrupt lock.
func pollConsole() {
	con.intr.Synchronize(func() {
		if !pc.ConsoleAsserting() {
			con.seen = unseen
			return
		}
		if n := con.intr.Stats().Count; n != con.seen {
			con.seen = n
			return
		}
		con.seen = unseen
		_, n, over := pc.ServiceConsole(putConsole)
		con.polled.Add(uint64(n))
		con.overruns.Add(uint64(over))
	})
}

// Read returns the bytes received, waiting for the receive interrupt while
// there are none; without a UART it never returns.
//
// Context: PASSIVE, the shell's goroutine (the ring's one consumer); blocks.
func (console) Read(p []byte) (int, error) {
	for !pc.ConsolePresent() {
		time.Sleep(time.Hour)
	}
	if con.intr == nil {
		return pollRead(p), nil
	}
	for {
		if n := con.ring.Read(p); n > 0 {
			return n, nil
		}
		select {
		case <-con.ready:
		case <-time.After(safetyPoll):
			pollConsole()
		}
	}
}

// pollRead reads the UART itself, sleeping pollInterval while it holds
// nothing.
func pollRead(p []byte) int {
	for {
		n := 0
		for n < len(p) {
			c, ok := pc.UART0.Rx()
			if !ok {
				break
			}
			p[n] = c
			n++
		}
		if n > 0 {
			return n
		}
		time.Sleep(pollInterval)
	}
}

// consolePoll is the shell's Poll: the next byte received, without
// waiting.
//
// Context: PASSIVE, the shell's goroutine; does not block.
func consolePoll() (byte, bool) {
	if con.intr == nil {
		return pc.UART0.Rx()
	}
	return con.ring.Get()
}

func (console) Write(p []byte) (int, error) {
	return pc.UART0.Write(p)
}

// consoleInput says how the console's input arrived, for `irq`.
func consoleInput() string {
	switch {
	case !pc.ConsolePresent():
		return "com1 input: no UART"
	case con.intr == nil:
		return fmt.Sprintf("com1 input: polled every %v (no interrupt line)", pollInterval)
	}
	return fmt.Sprintf("com1 input: %d bytes by the ISR, %d by the safety poll (interrupt lost), %d lost by the UART (overrun), %d dropped (queue full)",
		con.received.Load(), con.polled.Load(), con.overruns.Load(), con.ring.Dropped())
}
