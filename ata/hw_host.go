//go:build !tamago

package ata

import "github.com/ataport/firmware/miniport"

// Off the firmware there is no port I/O or DMA region: Config.IO and
// Config.DMA must be given (the host tests give fakes), and without
// Config.Phys DMA goes through the bounce buffers.
var (
	defaultIO   miniport.PortIO
	defaultDMA  Allocator
	defaultPhys func([]byte) (uint64, bool)
)
