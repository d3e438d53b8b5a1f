package miniport

import "time"

// Function is what a request asks for (IDE_REQUEST_BLOCK.Function,
// IRB_FUNCTION_*).
type Function uint8

// Request functions.
const (
	// FunctionATA runs the ATA command in Request.TaskFile
	// (IRB_FUNCTION_ATA_COMMAND).
	FunctionATA Function = iota + 1

	// FunctionATAPI sends the packet in Request.Cdb with the PACKET
	// command (IRB_FUNCTION_ATAPI_COMMAND).
	FunctionATAPI

	// FunctionMiniport runs the miniport operation named by
	// Request.Miniport (IRB_FUNCTION_MINIPORT_COMMAND).
	FunctionMiniport

	// FunctionFlush flushes the target's write cache with the command the
	// device supports, FLUSH CACHE EXT or FLUSH CACHE; the miniport writes
	// the one it used into Request.TaskFile (IRB_FUNCTION_ADAPTER_FLUSH).
	FunctionFlush

	// FunctionReset resets the channel; the port carries it out itself
	// with Channel.Reset and never passes it to BuildIo or StartIo
	// (IRB_FUNCTION_LUN_RESET).
	FunctionReset
)

// String returns the irb.h name of f.
func (f Function) String() string {
	switch f {
	case FunctionATA:
		return "IRB_FUNCTION_ATA_COMMAND"
	case FunctionATAPI:
		return "IRB_FUNCTION_ATAPI_COMMAND"
	case FunctionMiniport:
		return "IRB_FUNCTION_MINIPORT_COMMAND"
	case FunctionFlush:
		return "IRB_FUNCTION_ADAPTER_FLUSH"
	case FunctionReset:
		return "IRB_FUNCTION_LUN_RESET"
	}
	return "IRB_FUNCTION_?"
}

// MiniportFunction is the operation of a FunctionMiniport request.
type MiniportFunction uint8

// Miniport operations.
const (
	// MiniportProbe selects Request.Target and reads its registers
	// without issuing a command: the miniport completes the request in
	// StartIo with the task file it read in Request.TaskFile.Current
	// (signature in Count/LBALow/LBAMid/LBAHigh, STATUS in Command) and
	// AtaStatus; StatusSelectionTimeout when nothing drives the bus,
	// StatusBusy while the device holds BSY.
	MiniportProbe MiniportFunction = iota + 1
)

// Status is the completion state of a request (IDE_REQUEST_BLOCK.IrbStatus,
// IRB_STATUS_*): a closed set. A request is Pending until it completes, and
// it completes exactly once.
type Status uint8

// Request states. The values up to StatusBusy are irb.h's.
const (
	StatusPending            Status = 0x00 // IRB_STATUS_PENDING: not completed
	StatusSuccess            Status = 0x01 // IRB_STATUS_SUCCESS
	StatusDataLengthMismatch Status = 0x02 // IRB_STATUS_DATALENGTH_MISMATCH: fewer or more bytes than asked
	StatusDeviceError        Status = 0x03 // IRB_STATUS_DEVICE_ERROR: ERR or DF in STATUS, see AtaStatus/AtaError
	StatusInvalidRequest     Status = 0x04 // IRB_STATUS_INVALID_REQUEST: the miniport refused the request
	StatusBusReset           Status = 0x05 // IRB_STATUS_BUS_RESET: aborted by a channel reset
	StatusSelectionTimeout   Status = 0x06 // IRB_STATUS_SELECTION_TIMEOUT: no device answers at the target
	StatusBusy               Status = 0x07 // IRB_STATUS_BUSY: the device holds BSY (or lacks DRDY); retry later

	// Additions of this project.
	StatusTimeout      Status = 0x08 // the port's timer expired before the request completed
	StatusHostBusError Status = 0x09 // the controller reported a bus-master error (libata AC_ERR_HOST_BUS)
)

var statusNames = [...]string{
	StatusPending:            "pending",
	StatusSuccess:            "success",
	StatusDataLengthMismatch: "data length mismatch",
	StatusDeviceError:        "device error",
	StatusInvalidRequest:     "invalid request",
	StatusBusReset:           "bus reset",
	StatusSelectionTimeout:   "selection timeout",
	StatusBusy:               "busy",
	StatusTimeout:            "timeout",
	StatusHostBusError:       "host bus error",
}

// String returns a short description: "device error", "timeout"...
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status?"
}

// Flags qualify a request (IDE_REQUEST_BLOCK.IrbFlags, IRB_FLAGS_*; the bit
// values are irb.h's).
type Flags uint32

// Request flags.
const (
	FlagDRDYRequired   Flags = 0x0001 // IRB_FLAGS_DRDY_REQUIRED: start only when STATUS shows DRDY
	FlagDMA            Flags = 0x0002 // IRB_FLAGS_USE_DMA: move the data by bus-master DMA
	Flag48Bit          Flags = 0x0008 // IRB_FLAGS_48BIT: TaskFile.Previous is valid (48-bit command)
	FlagReturnTaskFile Flags = 0x0020 // IRB_FLAGS_RETURN_RESULTS: read the task file back into TaskFile on completion
	FlagDataIn         Flags = 0x0040 // IRB_FLAGS_DATA_IN: device to host
	FlagDataOut        Flags = 0x0080 // IRB_FLAGS_DATA_OUT: host to device

	// FlagQueued (an addition of this project) asks for a READ or WRITE
	// DMA EXT to run as a native queued command, READ/WRITE FPDMA
	// QUEUED (SATA 2.6 §13.6.4-5): the miniport builds it from the task
	// file's LBA and count, with the tag of the slot it picks, and never
	// mixes it with non-queued commands on the device.
	FlagQueued Flags = 0x10000
)

// Registers are the command block registers of one half of a task file
// (IDE_REGISTERS). The irb.h names are in brackets.
type Registers struct {
	Features uint8 // FEATURES (bFeaturesReg); ERROR when read back
	Count    uint8 // SECTOR COUNT (bSectorCountReg)
	LBALow   uint8 // LBA LOW (bSectorNumberReg)
	LBAMid   uint8 // LBA MID (bCylLowReg)
	LBAHigh  uint8 // LBA HIGH (bCylHighReg)
	Device   uint8 // DEVICE (bDriveHeadReg)
	Command  uint8 // COMMAND (bCommandReg); STATUS when read back
}

// TaskFile is a command's task file (IDE_TASK_FILE): Current is what a
// 28-bit command uses, Previous the high-order bytes of a 48-bit command
// (written first, read back with HOB set).
type TaskFile struct {
	Current  Registers
	Previous Registers
}

// DEVICE register bits (ATA8-ACS "Device field"; ATA8-APT
// "Device register").
const (
	DeviceLBA = 1 << 6 // LBA addressing
	DeviceDEV = 1 << 4 // device 1 (slave) selected
	DeviceOBS = 0xa0   // bits 7 and 5, obsolete, written as one by legacy hosts
)

// LBA28Limit is the first LBA a 28-bit command cannot reach.
const LBA28Limit = 1 << 28

// LBA48Limit is the first LBA a 48-bit command cannot reach.
const LBA48Limit = 1 << 48

// SetLBA28 loads a 28-bit LBA command's address and sector count into
// t.Current (ATA8-ACS, 28-bit LBA commands): LBA[7:0] in LBA LOW,
// LBA[15:8] in LBA MID, LBA[23:16] in LBA HIGH, LBA[27:24] in DEVICE[3:0]
// with the LBA bit, and count 256 written as 0. It reports false, leaving t
// unchanged, when count is not 1..256 or the range passes LBA 2^28-1.
func (t *TaskFile) SetLBA28(lba uint64, count int) bool {
	if count < 1 || count > 256 || lba >= LBA28Limit || lba+uint64(count) > LBA28Limit {
		return false
	}
	t.Current.Count = uint8(count) // 256 -> 0
	t.Current.LBALow = uint8(lba)
	t.Current.LBAMid = uint8(lba >> 8)
	t.Current.LBAHigh = uint8(lba >> 16)
	t.Current.Device = DeviceLBA | uint8(lba>>24)&0x0f
	t.Previous = Registers{}
	return true
}

// SetLBA48 loads a 48-bit LBA command's address and sector count
// (ATA8-ACS, 48-bit Address feature set): Current holds LBA[23:0] and
// COUNT[7:0], Previous LBA[47:24] and COUNT[15:8]; count 65536 is written
// as 0. DEVICE gets only the LBA bit. It reports false, leaving t
// unchanged, when count is not 1..65536 or the range passes LBA 2^48-1.
func (t *TaskFile) SetLBA48(lba uint64, count int) bool {
	if count < 1 || count > 65536 || lba >= LBA48Limit || lba+uint64(count) > LBA48Limit {
		return false
	}
	t.Current.Count = uint8(count) // 65536 -> 0
	t.Previous.Count = uint8(count >> 8)
	t.Current.LBALow = uint8(lba)
	t.Current.LBAMid = uint8(lba >> 8)
	t.Current.LBAHigh = uint8(lba >> 16)
	t.Previous.LBALow = uint8(lba >> 24)
	t.Previous.LBAMid = uint8(lba >> 32)
	t.Previous.LBAHigh = uint8(lba >> 40)
	t.Current.Device = DeviceLBA
	t.Previous.Device = 0
	return true
}

// Segment is one physically contiguous piece of a request's data buffer
// (an IDE_SCATTER_GATHER_ELEMENT).
type Segment struct {
	Addr   uint64 // physical address
	Length int    // bytes
}

// DMABuffer is memory a device may reach by DMA: Buf seen by the CPU,
// starting at physical address Addr (identity mapped on the firmware).
type DMABuffer struct {
	Addr uint64
	Buf  []byte
}

// Request is a request block (IDE_REQUEST_BLOCK). The port fills it, passes
// it to BuildIo and StartIo, and the miniport completes it by setting Status
// (and AtaStatus/AtaError) and calling Port.Complete, or, in BuildIo and
// StartIo, by returning false. Its status becomes a Go error only at the
// port's block API.
type Request struct {
	Function Function         // what to do
	Miniport MiniportFunction // the operation of a FunctionMiniport request
	Target   uint8            // TargetId: 0 (device 0) or 1 (device 1)
	Tag      uint8            // QueueTag: the port's index of this request block
	Flags    Flags            // IrbFlags
	Timeout  time.Duration    // TimeOutValue: the port fails the request with StatusTimeout after it

	// TaskFile is the ATA command (IdeTaskFile). With FlagReturnTaskFile
	// the miniport reads the registers back into it on completion, and
	// also when an ATA command ends with ERR, whose error outputs (the
	// LBA of the first failing sector, ATA8-ACS "Normal and Error Output
	// field descriptions") the port reports; TaskFileReturned then says
	// so.
	TaskFile TaskFile

	// Cdb and CdbLength are the ATAPI packet of a FunctionATAPI request.
	Cdb       [16]byte
	CdbLength uint8

	// Data is the data buffer (DataBuffer, DataTransferLength); for DMA
	// its physical segments come from Port.ScatterGather.
	Data []byte

	// Extension is the per-request miniport scratch in DMA memory
	// (IrbExtension), ControllerProperties.RequestExtensionSize bytes:
	// PIIX keeps the request's PRD table there.
	Extension DMABuffer

	// Completion, set by the miniport (or by the port for StatusTimeout).
	Status      Status // IrbStatus
	AtaStatus   uint8  // STATUS at completion
	AtaError    uint8  // ERROR at completion (meaningful with ERR in AtaStatus)
	HostStatus  uint8  // the controller's status at completion: BMISX for SFF bus masters
	Transferred int    // bytes moved (DataTransferLength on return)

	// TaskFileReturned reports that TaskFile holds the registers read
	// back at completion (Previous too for a 48-bit command), not the
	// command as issued.
	TaskFileReturned bool
}

// ErrorLBA returns the LBA a completed ATA command's returned task file
// holds (ATA8-ACS error outputs: the address of the first failing sector
// of a read or write), decoded as a 48-bit address for a 48-bit command
// and a 28-bit one otherwise. It reports false when the task file was not
// read back.
func (r *Request) ErrorLBA() (uint64, bool) {
	if !r.TaskFileReturned {
		return 0, false
	}
	c, p := &r.TaskFile.Current, &r.TaskFile.Previous
	lba := uint64(c.LBALow) | uint64(c.LBAMid)<<8 | uint64(c.LBAHigh)<<16
	if r.Flags&Flag48Bit != 0 {
		return lba | uint64(p.LBALow)<<24 | uint64(p.LBAMid)<<32 | uint64(p.LBAHigh)<<40, true
	}
	return lba | uint64(c.Device&0x0f)<<24, true
}

// DataDirection returns the request's data direction (FlagDataIn,
// FlagDataOut or 0) and whether the request is consistent: one direction
// at most, and data exactly when there is a direction. Both miniports'
// BuildIo refuse what is not (StatusInvalidRequest).
func (r *Request) DataDirection() (dir Flags, ok bool) {
	dir = r.Flags & (FlagDataIn | FlagDataOut)
	return dir, dir != FlagDataIn|FlagDataOut && (dir != 0) == (len(r.Data) != 0)
}

// SetFlush turns a FunctionFlush request into the device's flush command:
// FLUSH CACHE EXT when ext, FLUSH CACHE otherwise (ATA8-ACS 7.14, 7.15),
// non-data and not DMA.
func (r *Request) SetFlush(ext bool) {
	cmd := FLUSH_CACHE
	if ext {
		cmd = FLUSH_CACHE_EXT
	}
	r.TaskFile = TaskFile{}
	r.TaskFile.Current.Command = uint8(cmd)
	r.Flags &^= FlagDMA | Flag48Bit
}

// PacketValid reports whether a FunctionATAPI request can go to a device
// whose command packets are packetSize bytes (0: not known): no data to
// the device (this library sends none to PACKET devices) and a 12- or
// 16-byte packet of the device's length.
func (r *Request) PacketValid(packetSize int) bool {
	return r.Flags&FlagDataOut == 0 && (r.CdbLength == 12 || r.CdbLength == 16) &&
		(packetSize == 0 || int(r.CdbLength) == packetSize)
}

// packetChunk is the most a PIO PACKET command's byte count limit asks for
// per DRQ chunk: 63 KiB, as libata's atapi_xlat, not the FFFEh the field
// holds. A chunk whose length is a multiple of 4 ends at a doubleword of
// every sector: QEMU serves a CD's data one sector at a time, and with
// FFFEh a chunk ended 2046 bytes into a sector, after which the next
// chunk's first 32-bit read of DATA crossed the end of that sector, read 0
// and moved nothing (hw/ide/core.c ide_data_readl), until the command
// timed out.
const packetChunk = 63 * 1024

// SetPacket loads the task file of the PACKET command that carries a
// FunctionATAPI request's packet (ATA8-ACS PACKET): FEATURES DMA when the
// data move by DMA, and the byte count limit, the buffer's length up to
// packetChunk, in LBA MID and LBA HIGH.
func (r *Request) SetPacket() {
	limit := min(len(r.Data), packetChunk)
	r.TaskFile = TaskFile{}
	t := &r.TaskFile.Current
	if r.Flags&FlagDMA != 0 {
		t.Features = PACKET_FEATURES_DMA
	}
	t.LBAMid, t.LBAHigh = uint8(limit), uint8(limit>>8)
	t.Command = uint8(PACKET)
	r.Flags &^= Flag48Bit
}
