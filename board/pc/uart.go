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
