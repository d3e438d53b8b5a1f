//go:build tamago

package main

import (
	"time"

	"github.com/ataport/firmware/board/pc"
)

// console is the shell's terminal on COM1.
type console struct{}

// pollInterval bounds input latency when the UART is idle. QEMU and a real
// 16550 hold 16 bytes in the receive FIFO, 1.4 ms of input at 115200 baud,
// so polling at this rate loses nothing.
const pollInterval = 500 * time.Microsecond

// Read returns the bytes waiting in the UART, sleeping while there are
// none; without a UART it never returns.
func (console) Read(p []byte) (int, error) {
	for !pc.ConsolePresent() {
		time.Sleep(time.Hour)
	}
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
			return n, nil
		}
		time.Sleep(pollInterval)
	}
}

func (console) Write(p []byte) (int, error) {
	return pc.UART0.Write(p)
}
