//go:build tamago && linkprintk

package pc

import (
	_ "unsafe"
)

//go:linkname printk runtime/goos.Printk
func printk(c byte) {
	if c == '\n' {
		UART0.Tx('\r')
	}
	UART0.Tx(c)
}
