//go:build tamago

package irq

import (
	"math"
	"runtime"
	"time"
	_ "unsafe" // go:linkname

	"github.com/usbarmory/tamago/amd64"

	"github.com/ataport/firmware/kernel"
)

// TamaGo's interrupt service state (amd64/irq.go and exception.go of the
// pinned v1.26.0), reached by name because serviceInterrupts stands in for
// CPU.ServiceInterrupts: the assembly entry of vectors 32-255 wakes the
// goroutine irqHandlerG names and leaves the vector in isr, which
// currentVectorNumber decodes.

//go:linkname irqHandlerG github.com/usbarmory/tamago/amd64.irqHandlerG
var irqHandlerG uint

//go:linkname setIDT github.com/usbarmory/tamago/amd64.setIDT
func setIDT(start, end int)

//go:linkname currentVectorNumber github.com/usbarmory/tamago/amd64.currentVectorNumber
func currentVectorNumber() int

// Start starts the interrupt service goroutine, serviceInterrupts; from
// then on vectors 32-254 reach Dispatch.
//
// Context: PASSIVE, IF=1, after Init and after the board's CPU.Init; starts
// goroutines (allocates).
func Start(cpu *amd64.CPU) {
	kernel.AssertLevel("irq.Start", kernel.PASSIVE, kernel.PASSIVE)
	go serviceInterrupts(cpu)
}

// serviceInterrupts is TamaGo's CPU.ServiceInterrupts with Dispatch as its
// handler, but for how the EOI is sent. TamaGo starts a goroutine per
// interrupt for it (go cpu.ClearInterrupt()), whose closure is a heap
// allocation per interrupt, the only one left on the I/O path; here one
// helper goroutine, woken through a channel, sends them. The order is
// TamaGo's: the EOI of a vector goes out only once this goroutine sleeps
// again (ClearInterrupt waits for runtime.Asleep), so that the next vector
// finds it asleep and wakes it (runtime.WakeG), instead of being dropped.
//
// Context: PASSIVE goroutine, started once by Start; blocks.
func serviceInterrupts(cpu *amd64.CPU) {
	irqHandlerG, _ = runtime.GetG()
	eoi := make(chan struct{}, 1)
	go func() {
		for range eoi {
			cpu.ClearInterrupt()
		}
	}()
	setIDT(32, 255)
	for {
		eoi <- struct{}{}
		time.Sleep(math.MaxInt64) // until runtime.WakeG, from the vector's entry
		Dispatch(currentVectorNumber())
	}
}
