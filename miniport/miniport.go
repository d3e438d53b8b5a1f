// Package miniport is the contract between the ATA port driver (package ata)
// and the controller drivers written against it (miniport/piix, later AHCI):
// it plays the part of the WDK header irb.h, which both sides of the Windows
// ATA port / miniport model include.
//
// It holds:
//   - Controller and Channel, the miniport's two interface tables
//     (IDE_CONTROLLER_INTERFACE and IDE_CHANNEL_INTERFACE);
//   - Request, the request block (IDE_REQUEST_BLOCK), with its closed set of
//     completion states (IRB_STATUS_*) and flags (IRB_FLAGS_*);
//   - Port, the services the port gives a miniport (the AtaPort* routines),
//     and PortIO, the I/O-port access among them;
//   - the ATA command set definitions both sides need: command opcodes,
//     STATUS and ERROR register bits with their decoding, transfer modes, and
//     the IDENTIFY DEVICE / IDENTIFY PACKET DEVICE data (like Linux's
//     include/linux/ata.h, shared by libata's core and its drivers).
//
// References:
//   - WDK km/irb.h (IDE_CONTROLLER_INTERFACE, IDE_CHANNEL_INTERFACE,
//     IDE_REQUEST_BLOCK, IDE_TRANSFER_MODE_SELECT) and the ATA port reference
//     pages (IdeHwBuildIo, IdeHwStartIo, AtaPortRequestSynchronizedRoutine...).
//   - ATA/ATAPI Command Set (ATA8-ACS), T13/1699-D revision 6a: the command
//     descriptions (clause 7), the Status and Error field descriptions, the
//     IDENTIFY DEVICE and IDENTIFY PACKET DEVICE data tables, and SET
//     FEATURES "Set transfer mode".
//   - The execution contract of this project: docs/DESIGN.md ("Who runs
//     where"). Every routine below carries it in a Context paragraph.
//
// # Who runs where
//
// The port calls the controller routines and Channel.Initialize and
// Channel.Control at PASSIVE; BuildIo at or below DISPATCH with IF=1, not
// synchronized with the ISR; StartIo, Interrupt and Pending at the channel's
// DIRQL holding the channel's interrupt spin lock; Reset and synchronized
// routines at DIRQL holding that lock with the channel's interrupt line
// masked at the IOAPIC. A miniport implementation checks its context at the
// entry of each routine (kernel.AssertLevel, the lock's HeldByThisCPU).
package miniport

// ChannelState is the answer of Controller.ChannelEnabled
// (ATA_CHANNEL_STATE: ChannelStateDisabled, ChannelStateEnabled,
// ChannelStateUnKnown).
type ChannelState uint8

// Channel states.
const (
	ChannelDisabled ChannelState = iota // the channel's decode is off: the port leaves it alone
	ChannelEnabled                      // the channel decodes its registers
	ChannelUnknown                      // the controller cannot tell; the port probes it
)

// AdapterAction is the action of Controller.AdapterControl
// (IDE_ADAPTER_CONTROL_ACTION).
type AdapterAction uint8

// Adapter control actions.
const (
	AdapterStart     AdapterAction = iota + 1 // IdeStart: make the controller decode and master the bus
	AdapterStop                               // IdeStop
	AdapterPowerUp                            // IdePowerUp
	AdapterPowerDown                          // IdePowerDown
)

// ControlAction is the action of Channel.Control (IDE_CONTROL_ACTION).
type ControlAction uint8

// Channel control actions.
const (
	ControlStart     ControlAction = iota + 1 // IdeStart: enable the channel's interrupt
	ControlStop                               // IdeStop
	ControlPowerUp                            // IdePowerUp
	ControlPowerDown                          // IdePowerDown
)

// String returns the action's irb.h name.
func (a ControlAction) String() string {
	switch a {
	case ControlStart:
		return "IdeStart"
	case ControlStop:
		return "IdeStop"
	case ControlPowerUp:
		return "IdePowerUp"
	case ControlPowerDown:
		return "IdePowerDown"
	}
	return "IdeControl?"
}

// String returns the action's irb.h name.
func (a AdapterAction) String() string {
	return ControlAction(a).String()
}

// ControllerProperties are the controller-wide sizes the port needs before
// it sets up channels (the size fields of IDE_CONTROLLER_INTERFACE, with the
// channel count of IDE_CONTROLLER_CONFIGURATION).
type ControllerProperties struct {
	// Name names the controller kind in messages: "PIIX3".
	Name string

	// Channels is the number of channels, numbered from 0.
	Channels int

	// RequestExtensionSize and RequestExtensionAlign size the per-request
	// scratch (Request.Extension, the IrbExtension) the port reserves in
	// DMA memory for each request it will ever pass; 0 means none.
	RequestExtensionSize  int
	RequestExtensionAlign int
}

// ChannelInfo is what Controller.ChannelInit reports about a channel it
// initialised.
type ChannelInfo struct {
	// DMA reports whether the channel can do bus-master DMA.
	DMA bool

	// MaxTransfer is the largest data transfer of one request, in bytes,
	// that the channel accepts (for DMA, what its PRD table can describe);
	// 0 means no limit of the channel's own.
	MaxTransfer int

	// DMAAlignment is what the channel's DMA engine needs of a data
	// buffer: its physical address and its length a multiple of it (a
	// power of two; 2 for SFF-8038i bus masters, whose PRD base and byte
	// count are even). The port lets the engine move data straight to and
	// from the caller's memory when it meets that and DMALimit, and
	// through its own bounce buffer otherwise (storport's AlignmentMask
	// plays this part). 0: only through the bounce buffer.
	DMAAlignment int

	// DMALimit is the first physical address the DMA engine cannot reach
	// (4 GiB for the 32-bit base of a PRD); 0 means no limit.
	DMALimit uint64

	// PIOByDMA reports that the controller moves PIO data too with its
	// DMA engine, from the request's scatter/gather list (an AHCI HBA
	// does, from the PRD table; an SFF channel moves it with the CPU):
	// the port then hands PIO requests segments as it does DMA ones.
	PIOByDMA bool

	// QueueDepth is how many requests the channel takes at once: StartIo
	// is called again before earlier requests complete, up to this many
	// (an AHCI port's command slots). 0 or 1: one at a time, as on an SFF
	// channel.
	QueueDepth int
}

// Controller is the controller-level table of a miniport
// (IDE_CONTROLLER_INTERFACE).
type Controller interface {
	// Properties returns the controller's sizes.
	//
	// Context: PASSIVE, IF=1; may block.
	Properties() ControllerProperties

	// ChannelEnabled tells whether channel ch decodes its registers
	// (AtaControllerChannelEnabled).
	//
	// Context: PASSIVE, IF=1, no channel interrupt connected yet; may
	// block.
	ChannelEnabled(ch int) ChannelState

	// ChannelInit sets up channel ch and returns its channel table
	// (AtaChannelInitRoutine). port is the set of services for that
	// channel; the miniport keeps it.
	//
	// Context: PASSIVE, IF=1, the channel's interrupt not connected yet;
	// may block and allocate (common buffers included).
	ChannelInit(ch int, port Port) (Channel, ChannelInfo, error)

	// TransferModeSelect chooses the transfer modes of the devices of
	// channel ch within what the controller and each device support, and
	// programs the controller's timings for them
	// (AtaControllerTransferModeSelect). The port then sends each device
	// SET FEATURES for its selected modes.
	//
	// Context: PASSIVE, IF=1, no request in flight on the channel; may
	// block.
	TransferModeSelect(ch int, sel *TransferModeSelect) error

	// AdapterControl starts, stops or powers the controller
	// (AtaAdapterControl).
	//
	// Context: PASSIVE, IF=1; may block.
	AdapterControl(action AdapterAction) error
}

// ChannelDescriber is implemented by a Controller that can say in a few
// words what it knows of a channel, as "port 1, no device (PxSSTS.DET 0)".
// The port puts it in the line that reports a channel it leaves alone, and
// the shell's `ata` lists it under the controller. ataport has no such
// routine; msahci logs the same facts through its own tracing.
//
// Context: PASSIVE, IF=1; may allocate.
type ChannelDescriber interface {
	DescribeChannel(ch int) string
}

// Channel is the channel-level table of a miniport (IDE_CHANNEL_INTERFACE):
// one value per channel, returned by Controller.ChannelInit.
type Channel interface {
	// Initialize configures the miniport for one device found on the
	// channel (IdeHwInitialize): it is called after the device answered
	// IDENTIFY and after its transfer modes were set.
	//
	// Context: PASSIVE, IF=1, line unmasked, no lock held, no request of
	// this device in flight; may block.
	Initialize(dev *DeviceParameters) error

	// BuildIo prepares req without touching state shared with the ISR
	// (IdeHwBuildIo): task-file checks, the PRD table, everything that
	// needs no lock. To change state the ISR also reads it calls
	// Port.RequestSynchronizedRoutine. It returns true to have the port
	// start req; false after setting req.Status, which completes req.
	//
	// Context: PASSIVE or DISPATCH, IF=1, line unmasked, no lock held,
	// not synchronized with Interrupt (the ISR of the request in flight
	// may run meanwhile, on this CPU or another); must not block or
	// allocate. At most one BuildIo runs per channel at a time.
	BuildIo(req *Request) bool

	// StartIo programs the channel for req, which BuildIo accepted
	// (IdeHwStartIo). It returns true when req is started (the miniport
	// completes it later, or already did, through Port.Complete); false
	// after setting req.Status when it could not start it (StatusBusy has
	// the port retry later).
	//
	// Context: the channel's DIRQL, IF=1, line unmasked (the TPR masks
	// it on this CPU), channel interrupt lock held; must not block or
	// allocate. Never runs at the same time as Interrupt.
	StartIo(req *Request) bool

	// Interrupt services the channel's interrupt (IdeHwInterrupt) and
	// reports whether the channel's device interrupted. It completes the
	// request in flight through Port.Complete when it is done.
	//
	// Context: the channel's DIRQL, IF=1, the vector in service at the
	// local APIC, channel interrupt lock held; must not block or allocate.
	Interrupt() bool

	// Pending reports whether the channel's device has signalled an
	// interrupt that Interrupt has not serviced yet: the port asks after
	// every masked section (an edge arriving on a masked edge-triggered
	// line is lost, PLATFORM.md) and when a request times out, and runs
	// the interrupt path when it says yes (libata's lost-interrupt check,
	// ata_sff_lost_interrupt). It has no IDE_CHANNEL_INTERFACE
	// counterpart.
	//
	// Context: the channel's DIRQL, IF=1, channel interrupt lock held;
	// must not block or allocate, and must not change the device's state.
	Pending() bool

	// Reset resets the channel and its devices and stops any transfer
	// (IdeHwReset). The port then completes the request that was in
	// flight itself; Reset forgets it without completing it, after
	// recording the registers it found into it.
	//
	// Context: the channel's DIRQL, IF=1, line masked at the IOAPIC,
	// channel interrupt lock held; must not block or allocate; its waits
	// are bounded stalls.
	Reset() bool

	// Control starts, stops or powers the channel (IdeHwControl).
	//
	// Context: PASSIVE, IF=1, line unmasked, no request in flight; may
	// block.
	Control(action ControlAction) error
}

// DeviceType is the kind of device found at a target.
type DeviceType uint8

// Device types.
const (
	DeviceNone  DeviceType = iota // nothing answers
	DeviceATA                     // ATA device (general feature set)
	DeviceATAPI                   // ATAPI device (PACKET feature set)
)

// String returns "none", "ATA" or "ATAPI".
func (t DeviceType) String() string {
	switch t {
	case DeviceATA:
		return "ATA"
	case DeviceATAPI:
		return "ATAPI"
	}
	return "none"
}

// DeviceParameters describe one device to Channel.Initialize
// (IDE_DEVICE_PARAMETERS).
type DeviceParameters struct {
	Target   int           // 0 (device 0, master) or 1 (device 1, slave)
	Type     DeviceType    // ATA or ATAPI
	Modes    TransferModes // the modes selected: one PIO mode, at most one DMA mode
	Identify *Identify     // the device's parsed IDENTIFY data
	Name     string        // the device's name in messages: "ata0.1"

	// Multiple is the DRQ data block of READ/WRITE MULTIPLE (EXT), in
	// sectors, as the port set it with SET MULTIPLE MODE (MaxBlockXfer);
	// 0: the device takes no multiple commands.
	Multiple int
}

// TransferModeSelect carries the devices of one channel to
// Controller.TransferModeSelect and the modes it chose back
// (IDE_TRANSFER_MODE_SELECT).
type TransferModeSelect struct {
	// Inputs, per target.
	Present   [2]bool          // DevicePresent
	ATAPI     [2]bool          // !FixedDisk
	Supported [2]TransferModes // DeviceTransferModeSupported, from IDENTIFY
	IORDY     [2]bool          // the device supports IORDY flow control (word 49 bit 11)

	// Output, per target: the selected PIO mode and, when a DMA mode is
	// usable, that one too (DeviceTransferModeSelected).
	Selected [2]TransferModes
}
