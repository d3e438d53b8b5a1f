package miniport

import (
	"math/bits"
	"strconv"
	"strings"
)

// Command is an ATA command opcode (ATA8-ACS clause 7; the COMMAND
// register). The constants are spelled as ATA8-ACS names the commands.
type Command uint8

// ATA commands used by this project (ATA8-ACS clause 7).
const (
	DEVICE_RESET           Command = 0x08 // PACKET feature set only
	READ_SECTORS           Command = 0x20
	READ_SECTORS_EXT       Command = 0x24
	READ_DMA_EXT           Command = 0x25
	READ_MULTIPLE_EXT      Command = 0x29
	READ_LOG_EXT           Command = 0x2f
	WRITE_SECTORS          Command = 0x30
	WRITE_SECTORS_EXT      Command = 0x34
	WRITE_DMA_EXT          Command = 0x35
	WRITE_MULTIPLE_EXT     Command = 0x39
	READ_FPDMA_QUEUED      Command = 0x60
	WRITE_FPDMA_QUEUED     Command = 0x61
	PACKET                 Command = 0xa0
	IDENTIFY_PACKET_DEVICE Command = 0xa1
	READ_MULTIPLE          Command = 0xc4
	WRITE_MULTIPLE         Command = 0xc5
	SET_MULTIPLE_MODE      Command = 0xc6
	READ_DMA               Command = 0xc8
	WRITE_DMA              Command = 0xca
	FLUSH_CACHE            Command = 0xe7
	FLUSH_CACHE_EXT        Command = 0xea
	IDENTIFY_DEVICE        Command = 0xec
	SET_FEATURES           Command = 0xef
)

// FEATURES values of SET FEATURES and PACKET (ATA8-ACS SET FEATURES, PACKET).
const (
	SETFEATURES_XFER    = 0x03 // set transfer mode from COUNT
	PACKET_FEATURES_DMA = 0x01 // PACKET moves its data by DMA
)

var commandNames = map[Command]string{
	DEVICE_RESET:           "DEVICE RESET",
	READ_SECTORS:           "READ SECTORS",
	READ_SECTORS_EXT:       "READ SECTORS EXT",
	READ_DMA_EXT:           "READ DMA EXT",
	READ_MULTIPLE_EXT:      "READ MULTIPLE EXT",
	WRITE_SECTORS:          "WRITE SECTORS",
	WRITE_SECTORS_EXT:      "WRITE SECTORS EXT",
	WRITE_DMA_EXT:          "WRITE DMA EXT",
	WRITE_MULTIPLE_EXT:     "WRITE MULTIPLE EXT",
	READ_LOG_EXT:           "READ LOG EXT",
	READ_FPDMA_QUEUED:      "READ FPDMA QUEUED",
	WRITE_FPDMA_QUEUED:     "WRITE FPDMA QUEUED",
	PACKET:                 "PACKET",
	IDENTIFY_PACKET_DEVICE: "IDENTIFY PACKET DEVICE",
	READ_MULTIPLE:          "READ MULTIPLE",
	WRITE_MULTIPLE:         "WRITE MULTIPLE",
	SET_MULTIPLE_MODE:      "SET MULTIPLE MODE",
	READ_DMA:               "READ DMA",
	WRITE_DMA:              "WRITE DMA",
	FLUSH_CACHE:            "FLUSH CACHE",
	FLUSH_CACHE_EXT:        "FLUSH CACHE EXT",
	IDENTIFY_DEVICE:        "IDENTIFY DEVICE",
	SET_FEATURES:           "SET FEATURES",
}

// String returns the ATA8-ACS name, "READ DMA EXT", or "command 0xNN" for an
// opcode this package does not name.
func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return "command 0x" + hex2(uint8(c))
}

// STATUS register bits (ATA8-ACS Status field; names of bits that ATA8-ACS made
// obsolete are those of ATA-3, which libata keeps too).
const (
	ERR  = 1 << 0 // Error (CHK for PACKET devices)
	IDX  = 1 << 1 // obsolete: Index
	CORR = 1 << 2 // obsolete: Corrected data
	DRQ  = 1 << 3 // Data request
	DSC  = 1 << 4 // obsolete: Device seek complete
	DF   = 1 << 5 // Device fault
	DRDY = 1 << 6 // Device ready
	BSY  = 1 << 7 // Busy
)

// ERROR register bits (ATA8-ACS Error field; obsolete bits named as in ATA-3).
const (
	AMNF = 1 << 0 // obsolete: address mark not found
	NM   = 1 << 1 // obsolete: no media (end of media for PACKET devices)
	ABRT = 1 << 2 // Abort
	MCR  = 1 << 3 // obsolete: media change request
	IDNF = 1 << 4 // ID not found
	MC   = 1 << 5 // obsolete: media changed
	UNC  = 1 << 6 // Uncorrectable error
	ICRC = 1 << 7 // Interface CRC error
)

// ATAPI ERROR register fields (ATA8-ACS PACKET command, normal
// outputs): the sense key in bits 7:4.
const (
	ILI           = 1 << 0 // illegal length indication
	EOM           = 1 << 1 // end of media
	SenseKeyShift = 4      // the sense key (SPC-3 4.5.6) is ERROR[7:4]
)

var statusBitNames = [8]string{"ERR", "IDX", "CORR", "DRQ", "DSC", "DF", "DRDY", "BSY"}
var errorBitNames = [8]string{"AMNF", "NM", "ABRT", "MCR", "IDNF", "MC", "UNC", "ICRC"}
var senseKeyNames = [16]string{
	"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR",
	"HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
	"BLANK CHECK", "VENDOR SPECIFIC", "COPY ABORTED", "ABORTED COMMAND",
	"0xc", "VOLUME OVERFLOW", "MISCOMPARE", "0xf",
}

// bitNames joins the names of the bits set in v, most significant first:
// "DRDY|DSC|ERR"; "none" when v is 0.
func bitNames(v uint8, names *[8]string) string {
	if v == 0 {
		return "none"
	}
	var b strings.Builder
	for i := 7; i >= 0; i-- {
		if v&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString(names[i])
	}
	return b.String()
}

// StatusString decodes a STATUS byte: 0x51 is "DRDY|DSC|ERR", 0 is "none".
func StatusString(st uint8) string {
	return bitNames(st, &statusBitNames)
}

// ErrorString decodes an ERROR byte of an ATA command: 0x44 is "UNC|ABRT".
func ErrorString(e uint8) string {
	return bitNames(e, &errorBitNames)
}

// PacketErrorString decodes the ERROR byte of a PACKET command: the sense
// key, then the ABRT, EOM and ILI bits: 0x54 is "sense key 0x5 ILLEGAL
// REQUEST|ABRT".
func PacketErrorString(e uint8) string {
	key := e >> SenseKeyShift
	s := "sense key 0x" + strconv.FormatUint(uint64(key), 16) + " " + senseKeyNames[key]
	for _, f := range [...]struct {
		bit  uint8
		name string
	}{{ABRT, "ABRT"}, {EOM, "EOM"}, {ILI, "ILI"}} {
		if e&f.bit != 0 {
			s += "|" + f.name
		}
	}
	return s
}

func hex2(v uint8) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>4], digits[v&0xf]})
}

// TransferModes is a set of transfer modes, laid out as the ataport's
// transfer mode bitmaps (IDE_TRANSFER_MODE_SELECT, PIO0 = bit 0).
type TransferModes uint32

// Transfer modes.
const (
	PIO0 TransferModes = 1 << iota
	PIO1
	PIO2
	PIO3
	PIO4
	SWDMA0
	SWDMA1
	SWDMA2
	MWDMA0
	MWDMA1
	MWDMA2
	UDMA0
	UDMA1
	UDMA2
	UDMA3
	UDMA4
	UDMA5
	UDMA6
)

// Classes of transfer modes, as masks.
const (
	PIOModes   TransferModes = PIO0 | PIO1 | PIO2 | PIO3 | PIO4
	SWDMAModes TransferModes = SWDMA0 | SWDMA1 | SWDMA2
	MWDMAModes TransferModes = MWDMA0 | MWDMA1 | MWDMA2
	UDMAModes  TransferModes = UDMA0 | UDMA1 | UDMA2 | UDMA3 | UDMA4 | UDMA5 | UDMA6
	DMAModes   TransferModes = SWDMAModes | MWDMAModes | UDMAModes
)

var modeClasses = [...]struct {
	mask  TransferModes
	first int
	name  string
	xfer  uint8 // SET FEATURES transfer mode value of mode 0 (ATA8-ACS "Set transfer mode")
}{
	{PIOModes, 0, "PIO", 0x08},
	{SWDMAModes, 5, "SWDMA", 0x10},
	{MWDMAModes, 8, "MWDMA", 0x20},
	{UDMAModes, 11, "UDMA", 0x40},
}

// Best returns the fastest PIO mode in m and the fastest DMA mode in m
// (UDMA before MWDMA before SWDMA, the highest number within a class), as
// one set; 0 for a class m has none of.
func (m TransferModes) Best() TransferModes {
	var out TransferModes
	if p := m & PIOModes; p != 0 {
		out |= 1 << (bits.Len32(uint32(p)) - 1)
	}
	for _, c := range [...]TransferModes{UDMAModes, MWDMAModes, SWDMAModes} {
		if d := m & c; d != 0 {
			out |= 1 << (bits.Len32(uint32(d)) - 1)
			break
		}
	}
	return out
}

// PIO returns the highest PIO mode in m, 0 if none.
func (m TransferModes) PIO() TransferModes {
	return (m & PIOModes).Best()
}

// DMA returns the fastest DMA mode in m, 0 if none.
func (m TransferModes) DMA() TransferModes {
	return (m & DMAModes).Best()
}

// Number returns the mode number of the highest mode in m within its class:
// 4 for PIO4, 2 for MWDMA2; -1 when m is empty.
func (m TransferModes) Number() int {
	if m == 0 {
		return -1
	}
	top := bits.Len32(uint32(m)) - 1
	for i := len(modeClasses) - 1; i >= 0; i-- {
		if top >= modeClasses[i].first {
			return top - modeClasses[i].first
		}
	}
	return -1
}

// SetFeaturesValue returns the SET FEATURES (subcommand 03h, set transfer
// mode) COUNT value for the highest mode in m (ATA8-ACS SET FEATURES, "Set transfer mode"):
// 08h+n for PIO flow control mode n, 20h+n for multiword DMA mode n, 40h+n
// for Ultra DMA mode n. It reports false for an empty m.
func (m TransferModes) SetFeaturesValue() (uint8, bool) {
	if m == 0 {
		return 0, false
	}
	top := bits.Len32(uint32(m)) - 1
	for i := len(modeClasses) - 1; i >= 0; i-- {
		if c := modeClasses[i]; top >= c.first {
			return c.xfer | uint8(top-c.first), true
		}
	}
	return 0, false
}

// String lists the modes in m, slowest first: "PIO0 PIO1 MWDMA2"; "none"
// for an empty set.
func (m TransferModes) String() string {
	if m == 0 {
		return "none"
	}
	var b strings.Builder
	for _, c := range modeClasses {
		for n := 0; c.first+n < 32 && TransferModes(1<<(c.first+n))&c.mask != 0; n++ {
			if m&(1<<(c.first+n)) == 0 {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(c.name)
			b.WriteString(strconv.Itoa(n))
		}
	}
	return b.String()
}
