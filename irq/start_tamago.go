//go:build tamago

package irq

import (
	"github.com/usbarmory/tamago/amd64"

	"github.com/ataport/firmware/kernel"
)

// Start starts the interrupt service goroutine, TamaGo's
// CPU.ServiceInterrupts with Dispatch as its handler; from then on vectors
// 32-254 reach Dispatch.
//
// Context: PASSIVE, IF=1, after Init and after the board's CPU.Init; starts
// a goroutine (allocates).
func Start(cpu *amd64.CPU) {
	kernel.AssertLevel("irq.Start", kernel.PASSIVE, kernel.PASSIVE)
	go cpu.ServiceInterrupts(Dispatch)
}
