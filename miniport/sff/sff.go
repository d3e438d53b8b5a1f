// Package sff is the generic library for SFF ATA controllers: the legacy
// task-file register interface, PIO, and SFF-8038i bus-master DMA, written
// once for every miniport of that family (what libata-sff.c is to Linux's
// ata_piix). A controller driver such as miniport/piix supplies only its
// register bases, its PCI IDs, its timings and its errata, through Config
// and Hooks.
//
// References:
//   - AT Attachment 8 - ATA/ATAPI Architecture Model (ATA8-AAM) and
//     ATA8-APT (Parallel Transport), T13/1532-D: the command and control
//     block registers, device selection, the PIO data-in, PIO data-out,
//     non-data, DMA and PACKET protocols, and the software reset protocol.
//   - ATA/ATAPI Command Set (ATA8-ACS), T13/1699-D revision 6a: commands,
//     STATUS and ERROR (package miniport holds those definitions).
//   - SFF-8038i, "Bus Master Programming Interface for IDE ATA
//     Controllers", revision 1.0 (1996): the bus-master command, status and
//     descriptor table pointer registers, the Physical Region Descriptor and
//     the standard programming sequence, whose steps (1 prepare the PRD
//     table, 2 load its address and the direction and clear the status
//     bits, 3 issue the command, 4 set the start bit, 5 the transfer, 6 the
//     device's interrupt, 7 clear the start bit and read the status) the
//     code below cites by number.
//   - Linux libata (drivers/ata/libata-sff.c): ata_sff_dev_select,
//     ata_sff_tf_load, ata_bmdma_fill_sg, ata_bmdma_port_intr,
//     ata_sff_lost_interrupt, ata_bus_softreset, whose choices this package
//     follows where the standards leave room.
//
// Everything here may run at the channel's DIRQL: no function blocks,
// allocates or calls runtime.Gosched, and each wait is a bounded stall.
package sff

import (
	"time"

	"github.com/ataport/firmware/miniport"
)

// Command block registers, offsets from the command block base (0x1F0 or
// 0x170 in compatibility mode); ATA8-APT "I/O register descriptions". Where
// one offset is two registers the read one comes first.
const (
	DATA         = 0 // PIO data, 16 (or 32) bits wide
	ERROR        = 1 // read
	FEATURES     = 1 // write
	SECTOR_COUNT = 2 // COUNT; the interrupt reason of PACKET commands
	LBA_LOW      = 3
	LBA_MID      = 4 // byte count, bits 7:0, of PACKET commands
	LBA_HIGH     = 5 // byte count, bits 15:8, of PACKET commands
	DEVICE       = 6
	STATUS       = 7 // read: also acknowledges INTRQ
	COMMAND      = 7 // write
)

// Control block registers, offsets from the control block base (0x3F6 or
// 0x376 in compatibility mode); ATA8-APT "Alternate Status register" and
// "Device Control register".
const (
	ALT_STATUS     = 0 // read: STATUS without acknowledging INTRQ
	DEVICE_CONTROL = 0 // write
)

// DEVICE CONTROL register bits (ATA8-APT "Device Control register").
const (
	nIEN       = 1 << 1 // 1: the selected device does not assert INTRQ
	SRST       = 1 << 2 // software reset of both devices
	DEVCTL_OBS = 1 << 3 // bit 3, obsolete, written as one (libata ATA_DEVCTL_OBS)
	HOB        = 1 << 7 // reads of the command block return the previous (high-order) bytes
)

// Interrupt reason of PACKET commands, in SECTOR COUNT (ATA8-ACS PACKET,
// normal outputs).
const (
	CoD = 1 << 0 // 1: command packet or status; 0: user data
	IO  = 1 << 1 // 1: toward the host
)

// Floating-bus STATUS values: with no device, the pull-ups read 0xFF, and
// the pull-down on DD7 that ATA8-APT asks hosts for reads 0x7F.
const (
	statusFloat     = 0xff
	statusFloatDD7  = 0x7f
	selectDelayRead = 4 // ALT STATUS reads that cover the 400 ns after selection
)

// Ports are the register blocks of one channel: the command block, the
// control block and, when the channel has one, its SFF-8038i bus-master
// block.
type Ports struct {
	IO  miniport.PortIO
	Cmd uint16 // command block base
	Ctl uint16 // control block base (ALT STATUS / DEVICE CONTROL)
	BM  uint16 // bus-master block base (BMIBA + 8 * channel); 0: no bus master
}

// Status reads STATUS, which also acknowledges the device's INTRQ.
//
// Context: any IRQL; with a request in flight, the channel's DIRQL holding
// its interrupt lock. Does not block or allocate.
func (p *Ports) Status() uint8 {
	return p.IO.In8(p.Cmd + STATUS)
}

// AltStatus reads ALT STATUS: STATUS without acknowledging INTRQ.
//
// Context: any IRQL; does not block or allocate.
func (p *Ports) AltStatus() uint8 {
	return p.IO.In8(p.Ctl + ALT_STATUS)
}

// Error reads ERROR.
//
// Context: as Status.
func (p *Ports) Error() uint8 {
	return p.IO.In8(p.Cmd + ERROR)
}

// Pause waits the 400 ns a device may take to present a valid STATUS after
// a device selection or a command write (ATA8-APT, "the host shall wait 400
// ns before reading STATUS"), by reading ALT STATUS four times, each ISA
// I/O read lasting at least 100 ns; it returns the last value read.
//
// Context: any IRQL; does not block or allocate.
func (p *Ports) Pause() uint8 {
	var st uint8
	for i := 0; i < selectDelayRead; i++ {
		st = p.AltStatus()
	}
	return st
}

// Select selects device dev (0 or 1) and waits out the 400 ns (libata
// ata_sff_dev_select), returning ALT STATUS of the device now selected.
//
// Context: any IRQL; the channel idle (ATA8-APT forbids changing DEV while
// BSY or DRQ is set). Does not block or allocate.
func (p *Ports) Select(dev uint8) uint8 {
	v := uint8(miniport.DeviceOBS)
	if dev != 0 {
		v |= miniport.DeviceDEV
	}
	p.IO.Out8(p.Cmd+DEVICE, v)
	return p.Pause()
}

// Floating reports whether st is what a bus that no device drives reads.
func Floating(st uint8) bool {
	return st == statusFloat || st == statusFloatDD7
}

// LoadTaskFile writes tf for device dev, without the command (libata
// ata_sff_tf_load): for a 48-bit command the previous (HOB) bytes of
// FEATURES, SECTOR COUNT and the LBA registers go first, then the current
// ones, since each register is a two-deep FIFO (ATA8-APT "48-bit Address
// feature set" register usage); then DEVICE with the DEV bit of dev.
//
// Context: any IRQL; the channel idle with dev selected. Does not block or
// allocate.
func (p *Ports) LoadTaskFile(tf *miniport.TaskFile, lba48 bool, dev uint8) {
	io, base := p.IO, p.Cmd
	if lba48 {
		io.Out8(base+FEATURES, tf.Previous.Features)
		io.Out8(base+SECTOR_COUNT, tf.Previous.Count)
		io.Out8(base+LBA_LOW, tf.Previous.LBALow)
		io.Out8(base+LBA_MID, tf.Previous.LBAMid)
		io.Out8(base+LBA_HIGH, tf.Previous.LBAHigh)
	}
	io.Out8(base+FEATURES, tf.Current.Features)
	io.Out8(base+SECTOR_COUNT, tf.Current.Count)
	io.Out8(base+LBA_LOW, tf.Current.LBALow)
	io.Out8(base+LBA_MID, tf.Current.LBAMid)
	io.Out8(base+LBA_HIGH, tf.Current.LBAHigh)
	d := tf.Current.Device &^ miniport.DeviceDEV
	if dev != 0 {
		d |= miniport.DeviceDEV
	}
	io.Out8(base+DEVICE, d)
}

// ReadTaskFile reads the current task file registers into r, with STATUS
// (through ALT STATUS, leaving INTRQ alone) in r.Command and ERROR in
// r.Features.
//
// Context: any IRQL; does not block or allocate.
func (p *Ports) ReadTaskFile(r *miniport.Registers) {
	io, base := p.IO, p.Cmd
	r.Features = io.In8(base + ERROR)
	r.Count = io.In8(base + SECTOR_COUNT)
	r.LBALow = io.In8(base + LBA_LOW)
	r.LBAMid = io.In8(base + LBA_MID)
	r.LBAHigh = io.In8(base + LBA_HIGH)
	r.Device = io.In8(base + DEVICE)
	r.Command = p.AltStatus()
}

// ReadTaskFileHOB reads the previous (high-order) bytes of a 48-bit
// command's registers into r (libata ata_sff_tf_read): DEVICE CONTROL with
// HOB set makes the LBA and COUNT registers read their previous contents
// (ATA8-APT "Device Control register", HOB), then HOB is cleared again with
// nIEN clear. Only COUNT and the LBA bytes are read.
//
// Context: the channel's DIRQL with its interrupt lock held, the device
// not busy; does not block or allocate.
func (p *Ports) ReadTaskFileHOB(r *miniport.Registers) {
	io, base := p.IO, p.Cmd
	io.Out8(p.Ctl+DEVICE_CONTROL, DEVCTL_OBS|HOB)
	r.Count = io.In8(base + SECTOR_COUNT)
	r.LBALow = io.In8(base + LBA_LOW)
	r.LBAMid = io.In8(base + LBA_MID)
	r.LBAHigh = io.In8(base + LBA_HIGH)
	io.Out8(p.Ctl+DEVICE_CONTROL, DEVCTL_OBS)
}

// Exec writes the command register (libata ata_sff_exec_command) and waits
// out the 400 ns before STATUS is valid.
//
// Context: any IRQL; the task file loaded. Does not block or allocate.
func (p *Ports) Exec(c miniport.Command) {
	p.IO.Out8(p.Cmd+COMMAND, uint8(c))
	p.Pause()
}

// SetInterrupt writes DEVICE CONTROL with nIEN clear (on) or set (off).
//
// Context: any IRQL; does not block or allocate.
func (p *Ports) SetInterrupt(on bool) {
	v := uint8(DEVCTL_OBS)
	if !on {
		v |= nIEN
	}
	p.IO.Out8(p.Ctl+DEVICE_CONTROL, v)
}

// Software reset timings (ATA8-APT "Software reset protocol").
const (
	SRSTPulse  = 5 * time.Microsecond // SRST stays set at least 5 us
	SRSTSettle = 2 * time.Millisecond // after clearing SRST, before STATUS is read
)

// SoftReset resets both devices of the channel by pulsing SRST (ATA8-APT
// software reset protocol; libata ata_bus_softreset), with nIEN clear:
//
//  1. select device 0 (libata selects it before the reset too);
//  2. write DEVICE CONTROL with SRST set;
//  3. stall at least 5 us;
//  4. write DEVICE CONTROL with SRST clear;
//  5. stall at least 2 ms before anyone reads STATUS.
//
// The devices then hold BSY for up to 31 s; waiting for that is the
// caller's business (the port retries commands that find BSY). Step 1
// makes STATUS read device 0 meanwhile. A device ignores writes to the
// command block registers while the selected device shows BSY (QEMU's
// ide_ioport_write does, and ATA8-APT forbids them), and an absent device 1
// reads STATUS 0: with device 1 left selected by the BIOS, a probe of
// device 0 right after the reset had its selection ignored and read device
// 1's 0, "no device", whenever the reset took longer than the probe to
// come (seen under load on QEMU, once in tens of boots).
//
// Context: any IRQL (the channel's DIRQL with the line masked, from
// Channel.Reset); does not block or allocate; stalls about 2 ms.
func (p *Ports) SoftReset(stall func(time.Duration)) {
	p.Select(0)                                      // 1
	p.IO.Out8(p.Ctl+DEVICE_CONTROL, DEVCTL_OBS|SRST) // 2
	stall(SRSTPulse)                                 // 3
	p.IO.Out8(p.Ctl+DEVICE_CONTROL, DEVCTL_OBS)      // 4
	stall(SRSTSettle)                                // 5
}

// LostInterrupt reports whether the device has finished what it was doing
// although no interrupt was serviced: ALT STATUS shows it not busy (libata
// ata_sff_lost_interrupt, which then logs "lost interrupt" and runs the
// normal completion path). It returns the status it read.
//
// Context: any IRQL; does not block or allocate, and does not acknowledge
// INTRQ.
func (p *Ports) LostInterrupt() (bool, uint8) {
	st := p.AltStatus()
	return st&miniport.BSY == 0 && !Floating(st), st
}
