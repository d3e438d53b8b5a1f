//go:build tamago

package pc

import "github.com/ataport/firmware/board/ioport"

// PC16550D registers used to set the line up (datasheet, Table II).
const (
	LCR      = 3
	LCR_DLAB = 7
	LCR_8N1  = 0x03
	DLL      = 0
	DLM      = 1
	FCR      = 2
	// FIFO enable, clear both FIFOs, receive trigger at 1 byte.
	FCR_ENABLE_CLEAR = 0x07
	IER              = 1
	LSR              = 5
	SCR              = 7
)

// consolePresent is false when no UART answers at COM1.
var consolePresent bool

// ConsolePresent reports whether a UART answered at COM1. Without one the
// bus floats: LSR reads 0xff and "data ready" would feed the shell an
// endless stream of 0xff bytes.
func ConsolePresent() bool { return consolePresent }

// initUART programs COM1 for 115200 8N1 with FIFOs: a boot loader or BIOS
// may have left any rate, and the serial console is the only user interface.
func initUART() {
	base := uint16(COM1)
	ioport.Out8(base+SCR, 0x5a)
	consolePresent = ioport.In8(base+SCR) == 0x5a && ioport.In8(base+LSR) != 0xff
	if !consolePresent {
		return
	}
	ioport.Out8(base+IER, 0)
	ioport.Out8(base+LCR, 1<<LCR_DLAB)
	ioport.Out8(base+DLL, 1) // 115200 = 1.8432 MHz / 16 / 1
	ioport.Out8(base+DLM, 0)
	ioport.Out8(base+LCR, LCR_8N1)
	ioport.Out8(base+FCR, FCR_ENABLE_CLEAR)
	UART0.Init()
}

// PC16550D receive-side registers and bits (datasheet, Table II and 8.4
// "Line Status Register", 8.5 "Interrupt Identification Register", 8.6
// "Interrupt Enable Register"). MCR OUT2, which gates the UART's INTRPT
// pin onto ISA IRQ 4 on a PC, is set by UART0.Init.
const (
	RBR       = 0
	IIR       = 2
	MSR       = 6
	IER_ERBFI = 0 // enable received data available (and character timeout)
	IER_ELSI  = 2 // enable receiver line status
	// IIR bit 0 is 0 while an interrupt is pending; bits 3:1 say which,
	// in priority order (Table IV).
	IIR_NOPEND = 0x01
	IIR_ID     = 0x0e
	IIR_RLS    = 0x06 // receiver line status: read LSR
	IIR_RDA    = 0x04 // received data available: read RBR
	IIR_CTI    = 0x0c // character timeout: read RBR
	IIR_THRE   = 0x02 // transmitter empty: reading IIR cleared it
	IIR_MS     = 0x00 // modem status: read MSR
	LSR_DR     = 0
	LSR_OE     = 1
)

// consoleRounds bounds the interrupt identifications one ServiceConsole
// reads, and consoleDrain the bytes it takes per identification (a FIFO
// holds 16): a UART that never stops asserting cannot hold the CPU.
const (
	consoleRounds = 8
	consoleDrain  = 64
)

// EnableConsoleInterrupt makes COM1 assert its interrupt while it holds a
// received byte or a receive error (IER ERBFI and ELSI); a byte already
// waiting asserts it at once.
//
// Context: PASSIVE, with the console's line connected first; does not
// block.
func EnableConsoleInterrupt() {
	ioport.Out8(COM1+IER, 1<<IER_ERBFI|1<<IER_ELSI)
}

// ConsoleAsserting reports whether COM1 asserts its interrupt (IIR).
//
// Context: the console line's DIRQL with its interrupt lock held; does not
// block or allocate.
func ConsoleAsserting() bool {
	return ioport.In8(COM1+IIR)&IIR_NOPEND == 0
}

// ServiceConsole serves COM1's interrupt: it reads the interrupt
// identification until none is pending (so that the INTRPT pin is low
// again and the next byte makes a new edge on the ISA line), passes each
// received byte to put, and counts the receiver overruns the line status
// reported (bytes the UART lost because its FIFO was full). claimed is
// whether any interrupt was pending. Without a pending interrupt it reads
// one register and returns, so it also serves as a poll.
//
// Context: the console line's DIRQL with its interrupt lock held (the
// ISR, or Interrupt.Synchronize); does not block or allocate.
func ServiceConsole(put func(byte)) (claimed bool, n, overruns int) {
	base := uint16(COM1)
	for range consoleRounds {
		iir := ioport.In8(base + IIR)
		if iir&IIR_NOPEND != 0 {
			return claimed, n, overruns
		}
		claimed = true
		switch iir & IIR_ID {
		case IIR_RLS, IIR_RDA, IIR_CTI:
			for range consoleDrain {
				lsr := ioport.In8(base + LSR)
				if lsr&(1<<LSR_OE) != 0 {
					overruns++
				}
				if lsr&(1<<LSR_DR) == 0 {
					break
				}
				put(ioport.In8(base + RBR))
				n++
			}
		case IIR_MS:
			ioport.In8(base + MSR)
		}
	}
	return claimed, n, overruns
}
