//go:build !tamago

package ata

import "github.com/ataport/firmware/miniport"

// Off the firmware there is no port I/O or DMA region: Config.IO and
// Config.DMA must be given (the host tests give fakes).
var (
	defaultIO  miniport.PortIO
	defaultDMA Allocator
)
