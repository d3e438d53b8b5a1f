//go:build tamago

// Package pc is the board package for PC-compatible machines: QEMU's `pc`
// machine (i440FX + PIIX3) first, physical PCs with a legacy BIOS next.
// Everything machine-specific is discovered rather than assumed: the ACPI
// tables give the PM timer, the local APIC, the IOAPICs and the ISA interrupt
// overrides; PCI configuration space gives the controllers.
//
// References:
//   - ACPI Specification 6.4: RSDP, RSDT/XSDT, FADT, MADT, \_S5.
//   - PCI Local Bus Specification 3.0, 3.2.2.3.2 (configuration mechanism #1).
//   - PC16550D UART datasheet (National Semiconductor, June 1995).
//   - 8259A PIC datasheet (Intel, 1988), OCW1.
//   - Intel SDM Vol. 3A (2023), "Initializing IA-32e Mode".
package pc

import (
	"runtime/goos"
	_ "unsafe"

	"github.com/usbarmory/tamago/amd64"
	"github.com/usbarmory/tamago/dma"
	"github.com/usbarmory/tamago/soc/intel/uart"

	"github.com/ataport/firmware/board/pci"
)

// Memory layout. The Go runtime owns [ramStart, dmaStart); drivers take DMA
// buffers from [dmaStart, dmaStart+dmaSize). Together they end at 896 MiB
// so that a machine with 1 GiB of RAM, whose top holds the ACPI tables,
// boots: 512 MiB for Go (the firmware's heap is a few MiB; the largest
// trace takes 64 MiB per CPU) and 128 MiB for DMA (each ATA channel
// reserves a 256 KiB bounce buffer per request it can have in flight:
// about 50 MiB for six AHCI ports of 32 slots). Each way in checks the
// memory map before the firmware runs (boot/pvhentry.S under QEMU's
// -kernel, and both loaders); cmd/mkimage's tests check boot/layout.inc's
// FW_RAM_START and FW_RAM_END against these.
const (
	ramStart = 0x10000000
	dmaStart = 0x30000000
	dmaSize  = 0x08000000

	runtimeRAM = dmaStart - ramStart
)

// RuntimeRAM returns the bytes of RAM the Go runtime owns, heap, stacks and
// its own structures together.
//
// Context: any; does not block or allocate.
func RuntimeRAM() uint64 { return runtimeRAM }

// COM1 is the console UART's I/O base (PC/AT standard).
const COM1 = 0x3f8

var (
	// AMD64 is the bootstrap processor.
	AMD64 = &amd64.CPU{
		// required before Init()
		TimerMultiplier: 1,
	}

	// UART0 is the console.
	UART0 = &uart.UART{
		Index: 1,
		Base:  COM1,
		DTR:   true,
		RTS:   true,
	}
)

//go:linkname nanotime runtime/goos.Nanotime
func nanotime() int64 {
	return AMD64.GetTime()
}

// Init runs early in the runtime's start-up (goos.Hwinit1).
//
//go:linkname Init runtime/goos.Hwinit1
func Init() {
	AMD64.Init()
	initUART()
	goos.Exit = func(int32) { amd64.Fault() }
}

func init() {
	AMD64.EnableExceptions()
	// Discovery formats errors, which Hwinit1 cannot (it runs on the
	// system stack, where defer is fatal); nothing needs time before it.
	discover()
	AMD64.InitSMP(initLocalAPIC(smpCPUs()))
	calibrateLAPICTimer()
	dma.Init(dmaStart, dmaSize)
	functions = pci.Enumerate(PCI)
}
