// Package ata is the ATA port driver: it runs a miniport (package miniport
// and its implementations, such as miniport/piix) in the execution model of
// the Windows ATA port driver, made true on the interrupt hardware by
// packages kernel and irq, and offers the devices it finds to upper layers
// as block devices.
//
// The contract it keeps is docs/DESIGN.md "Who runs where":
//
//   - HwBuildIo runs at DISPATCH, pinned, from a submitter or the channel's
//     builder goroutine, with IF=1 and the line unmasked, not synchronized
//     with the ISR: the next request is built while the one in flight may
//     interrupt (DISPATCH masks no device vector).
//   - HwStartIo runs through Interrupt.Synchronize, at the channel's DIRQL
//     holding its interrupt spin lock; HwInterrupt is the ISR given to
//     irq.Connect and runs likewise.
//   - Synchronized routines and HwReset run through
//     Interrupt.SynchronizeMasked, with the line also masked at the IOAPIC.
//     After every masked section the pending hook (Channel.Pending of the
//     miniport) tells whether the device signalled meanwhile; its edge was
//     lost (PLATFORM.md), so the port runs the interrupt path itself and
//     counts a lost edge.
//   - A channel keeps up to the depth its miniport reports in flight
//     (ChannelInfo.QueueDepth: 32 AHCI slots; one on PIIX), started in
//     order as BuildIo accepts them; a FunctionReset or a PACKET command
//     waits until none is, and a failed PACKET command holds the queue
//     until its REQUEST SENSE (sense.go).
//   - Completions are retired in one DPC per channel, at DISPATCH, in
//     batches; the waiting callers, at PASSIVE, are woken from there.
//   - Each request has a timeout (one kernel.Timer per channel, which also
//     looks at the channel every 250 ms while requests are in flight): a
//     device that shows it finished gets its interrupt serviced (a lost
//     interrupt); at a deadline the channel is reset with its line masked,
//     the requests past their deadline fail once with a timeout error, the
//     others in flight go back to the queue, and the channel's queue waits
//     while the worker goroutine re-identifies and re-programs the
//     devices; the block API then tries the request again, a bounded
//     number of times (recovery.go).
//
// Every call into the miniport is recorded, with its IRQL (CR8), IF, the
// line's mask read back from the IOAPIC, whether this CPU held the
// interrupt lock, the CPU and the time, in a fixed ring per channel written
// without allocating; Controller.Contexts aggregates the records per
// routine, the proof that the contract holds on a running machine.
//
// References:
//   - WDK irb.h and the ATA port reference (IdeHwBuildIo, IdeHwStartIo,
//     AtaPortRequestSynchronizedRoutine, AtaPortNotification...).
//   - ATA/ATAPI Command Set (ATA8-ACS), T13/1699-D revision 6a; ATA8-APT.
//   - SCSI Multimedia Commands (MMC-5) and SBC-3 for READ (10) and READ
//     CAPACITY (10) of ATAPI devices.
//   - Linux libata (libata-core.c, libata-sff.c): lba_28_ok,
//     ata_sff_dev_classify, ata_sff_lost_interrupt, whose choices the port
//     follows.
package ata

import (
	"errors"
	"fmt"
	"time"

	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// Line is the interrupt of one channel.
type Line struct {
	Line  irq.Line    // the line: ISA IRQ 14 and 15 are GSI 14 and 15, edge, active high, unless the MADT overrides them
	DIRQL kernel.IRQL // the level to connect it at, DIRQLMin..DIRQLMax
}

// Allocator reserves DMA memory (TamaGo's dma.Reserve on the firmware).
type Allocator interface {
	// Reserve returns size bytes aligned to align, for good.
	//
	// Context: PASSIVE; may block.
	Reserve(size, align int) (miniport.DMABuffer, error)
}

// ConnectFunc connects an ISR to a line (irq.Connect on the firmware).
type ConnectFunc func(name string, line irq.Line, dirql kernel.IRQL, isr irq.ISR) (Interrupt, error)

// Config configures Attach. The zero value of each field but Lines has a
// default.
type Config struct {
	// Lines gives the interrupt of each channel, by channel index.
	Lines []Line

	// FirstChannel numbers the controller's first channel in names:
	// "ata<n>", and "<n>:<target>" for devices.
	FirstChannel int

	// Timeout bounds each command; 10 s by default.
	Timeout time.Duration

	// BusyTimeout bounds how long a device may hold BSY before a
	// command can start; 31 s by default (ATA8-APT: the longest BSY
	// after a reset).
	BusyTimeout time.Duration

	// MaxTransfer is the size of each request's bounce buffer, the most
	// one command moves through it; 256 KiB by default (512 sectors:
	// transfers past 256 sectors use 48-bit commands). It is lowered to
	// what the miniport accepts. Commands that move their data straight
	// to or from the caller's memory (direct.go) move up to what the
	// miniport accepts.
	MaxTransfer int

	// Phys returns the physical address at which a DMA engine reaches p,
	// memory a caller gave Device.ReadAt or WriteAt, and whether it does;
	// on the firmware, whose memory is identity-mapped, the identity.
	// Without it (off the firmware) DMA goes through the bounce buffers.
	//
	// Context: PASSIVE; must not block or allocate.
	Phys func(p []byte) (uint64, bool)

	// Requests is the number of request blocks of each channel, the
	// number of callers served at once; 4 by default.
	Requests int

	// IO is the port I/O; the x86 IN/OUT instructions on the firmware.
	IO miniport.PortIO

	// DMA reserves DMA memory; TamaGo's dma package on the firmware.
	DMA Allocator

	// Connect connects the channels' ISRs; irq.Connect by default.
	Connect ConnectFunc

	// Log, when set, receives one line per device found and per
	// discovery problem.
	Log func(string)
}

// Defaults of Config.
const (
	defaultTimeout     = 10 * time.Second
	defaultBusyTimeout = 31 * time.Second
	defaultMaxTransfer = 256 << 10
	defaultRequests    = 4
)

// Controller is a controller attached to the port: the miniport and its
// channels.
type Controller struct {
	mp       miniport.Controller
	props    miniport.ControllerProperties
	channels []*Channel
	ctx      contexts // controller-level calls
}

// Attach starts the controller mp and its channels, and finds their
// devices:
//
//  1. AdapterControl(AdapterStart);
//  2. for each channel that ChannelEnabled does not report disabled:
//     ChannelInit, the request blocks and their DMA memory, the interrupt
//     (cfg.Lines), HwControl(IdeStart), then device discovery (reset,
//     signatures, IDENTIFY, TransferModeSelect, SET FEATURES,
//     HwInitialize).
//
// It returns the controller with the channels that came up, and an error
// joining the problems of those that did not.
//
// Context: PASSIVE, IF=1, after irq.Init and dma.Init; blocks (discovery
// waits for the devices).
func Attach(mp miniport.Controller, cfg Config) (*Controller, error) {
	kernel.AssertMayBlock("ata.Attach")
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = defaultBusyTimeout
	}
	if cfg.MaxTransfer <= 0 {
		cfg.MaxTransfer = defaultMaxTransfer
	}
	if cfg.Requests <= 0 {
		cfg.Requests = defaultRequests
	}
	if cfg.Requests > 255 {
		return nil, errors.New("ata: Attach: more than 255 request blocks per channel (and the port's own)")
	}
	if cfg.IO == nil {
		cfg.IO = defaultIO
	}
	if cfg.DMA == nil {
		cfg.DMA = defaultDMA
	}
	if cfg.Connect == nil {
		cfg.Connect = connectIRQ
	}
	if cfg.Phys == nil {
		cfg.Phys = defaultPhys
	}
	if cfg.IO == nil || cfg.DMA == nil {
		return nil, errors.New("ata: Attach: Config.IO and Config.DMA are required off the firmware")
	}
	c := &Controller{mp: mp, props: mp.Properties()}
	c.ctx.init()
	// 1.
	c.ctx.record(RoutineAdapterControl, false, false, -1)
	if err := mp.AdapterControl(miniport.AdapterStart); err != nil {
		return nil, fmt.Errorf("ata: %s: AdapterControl(IdeStart): %w", c.props.Name, err)
	}
	// 2.
	var errs []error
	for i := 0; i < c.props.Channels; i++ {
		c.ctx.record(RoutineChannelEnabled, false, false, -1)
		if mp.ChannelEnabled(i) == miniport.ChannelDisabled {
			if cfg.Log != nil {
				why := "disabled by the controller"
				if d, ok := mp.(miniport.ChannelDescriber); ok {
					why = d.DescribeChannel(i) + ": not attached"
				}
				cfg.Log(fmt.Sprintf("ata%d: %s", cfg.FirstChannel+i, why))
			}
			continue
		}
		ch, err := c.attachChannel(i, cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.channels = append(c.channels, ch)
	}
	return c, errors.Join(errs...)
}

// attachChannel brings up channel i.
//
// Context: PASSIVE; blocks.
func (c *Controller) attachChannel(i int, cfg Config) (*Channel, error) {
	ch := &Channel{
		ctl: c, index: i, number: cfg.FirstChannel + i,
		io: cfg.IO, alloc: cfg.DMA, logf: cfg.Log,
		timeout: cfg.Timeout, busyTimeout: cfg.BusyTimeout, maxXfer: cfg.MaxTransfer,
	}
	ch.name = fmt.Sprintf("ata%d", ch.number)
	if i >= len(cfg.Lines) {
		return nil, fmt.Errorf("ata: %s: no interrupt line in Config.Lines", ch.name)
	}
	c.ctx.record(RoutineChannelInit, false, false, -1)
	mpch, info, err := c.mp.ChannelInit(i, ch)
	if err != nil {
		return nil, fmt.Errorf("ata: %s: ChannelInit: %w", ch.name, err)
	}
	ch.mp, ch.info = mpch, info
	ch.depth = max(1, info.QueueDepth)
	ch.dio.init(cfg.Phys, info)
	if info.MaxTransfer > 0 && info.MaxTransfer < ch.maxXfer {
		ch.maxXfer = info.MaxTransfer
	}
	ch.maxXfer &^= 4095
	if ch.maxXfer < 4096 {
		return nil, fmt.Errorf("ata: %s: transfers of %d bytes are too small", ch.name, ch.maxXfer)
	}
	if err := ch.setup(cfg.Requests, c.props); err != nil {
		return nil, err
	}
	intr, err := cfg.Connect(ch.name, cfg.Lines[i].Line, cfg.Lines[i].DIRQL, ch.isr)
	if err != nil {
		return nil, fmt.Errorf("ata: %s: %w", ch.name, err)
	}
	ch.intr = intr
	intr.SetPending(ch.pendingFn)
	ch.start()
	ch.record(RoutineControl, -1)
	if err := ch.mp.Control(miniport.ControlStart); err != nil {
		return nil, fmt.Errorf("ata: %s: HwControl(IdeStart): %w", ch.name, err)
	}
	ch.discover()
	return ch, nil
}

var (
	_ Interrupt     = (*irq.Interrupt)(nil)
	_ miniport.Port = (*Channel)(nil)
)

// connectIRQ is the default ConnectFunc: irq.Connect.
func connectIRQ(name string, line irq.Line, dirql kernel.IRQL, isr irq.ISR) (Interrupt, error) {
	i, err := irq.Connect(name, line, dirql, isr)
	if err != nil {
		return nil, err
	}
	return i, nil
}

// Name returns the controller kind: "PIIX3".
func (c *Controller) Name() string { return c.props.Name }

// ChannelCount returns the number of channels the controller has, those
// that did not come up included: the numbers its channels take in names.
func (c *Controller) ChannelCount() int { return c.props.Channels }

// Channels returns the channels that came up.
func (c *Controller) Channels() []*Channel { return append([]*Channel(nil), c.channels...) }

// Devices returns the devices of all channels, in channel and target order.
//
// Context: PASSIVE; allocates.
func (c *Controller) Devices() []*Device {
	var out []*Device
	for _, ch := range c.channels {
		out = append(out, ch.Devices()...)
	}
	return out
}

// Device returns the device named "channel:target" ("0:1") or "ata0.1".
//
// Context: PASSIVE; allocates.
func (c *Controller) Device(name string) (*Device, bool) {
	for _, d := range c.Devices() {
		if d.Name() == name || d.String() == name {
			return d, true
		}
	}
	return nil, false
}

// Contexts returns, per routine called into the miniport (and for the
// port's completion DPC), the lowest and highest IRQL seen, the values of
// IF, of the line's mask and of "interrupt lock held" seen, and the number
// of calls; for HwBuildIo also how often an ISR of the channel ran during
// it. The lead prints it as `ata contexts`.
//
// Context: PASSIVE; allocates.
func (c *Controller) Contexts() []ContextRow {
	var all [numRoutines]ContextRow
	c.ctx.addRows(&all)
	for _, ch := range c.channels {
		ch.ctx.addRows(&all)
	}
	return rows(&all)
}
