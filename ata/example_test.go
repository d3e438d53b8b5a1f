package ata_test

import (
	"fmt"

	"github.com/ataport/firmware/ata"
	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/miniport/piix"
)

// The board's wiring of the PIIX3 of QEMU's pc machine (PCI 00:01.1), after
// kernel.Init, irq.Init, irq.Start and dma.Init. read32 and write32 stand
// for the board's configuration space access at 00:01.1.
func ExampleAttach() {
	var read32 func(off uint8) uint32
	var write32 func(off uint8, v uint32)

	mp, err := piix.New(piix.PCI{
		Bus: 0, Device: 1, Function: 1,
		Vendor: 0x8086, DeviceID: 0x7010,
		Class: read32(0x08) >> 8, BAR4: read32(0x20),
		SubVendor: uint16(read32(0x2c)), SubDevice: uint16(read32(0x2c) >> 16),
		Read32: read32, Write32: write32,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var lines []ata.Line
	for _, gsi := range piix.CompatIRQ {
		lines = append(lines, ata.Line{Line: irq.Line{GSI: gsi, Trigger: irq.Edge, Polarity: irq.ActiveHigh}, DIRQL: 5})
	}
	c, err := ata.Attach(mp, ata.Config{Lines: lines, Log: func(s string) { fmt.Println(s) }})
	if err != nil {
		fmt.Println(err) // channels that failed; c holds those that came up
	}
	for _, d := range c.Devices() {
		fmt.Println(d.Name(), d, d.Type(), d.Identify().Model, d.Size(), d.Modes(), d.Mode())
	}
	if d, ok := c.Device("0:0"); ok {
		buf := make([]byte, 4096)
		if _, err := d.ReadAt(buf, 0); err != nil {
			fmt.Println(err)
		}
	}
	for _, ch := range c.Channels() {
		fmt.Printf("%s %+v\n", ch.Name(), ch.Stats())
	}
	for _, row := range c.Contexts() {
		fmt.Println(row)
	}
}
