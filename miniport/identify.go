package miniport

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// IdentifyLength is the size of the IDENTIFY DEVICE and IDENTIFY PACKET
// DEVICE data, in bytes (256 words).
const IdentifyLength = 512

// IDENTIFY data words used below (ATA8-ACS table 22, IDENTIFY DEVICE data,
// and table 26, IDENTIFY PACKET DEVICE data).
const (
	idGeneralConfig = 0   // bit 15: 0 for ATA; bits 15:14 10b for ATAPI
	idSerial        = 10  // words 10-19: serial number, 20 ASCII characters
	idFirmware      = 23  // words 23-26: firmware revision, 8 characters
	idModel         = 27  // words 27-46: model number, 40 characters
	idMultiple      = 47  // bits 7:0: most sectors per DRQ block of READ/WRITE MULTIPLE
	idCapabilities  = 49  // bit 11 IORDY supported, bit 9 LBA, bit 8 DMA
	idFieldValid    = 53  // bit 2: word 88 valid; bit 1: words 64-70 valid
	idSectors28     = 60  // words 60-61: user addressable sectors for 28-bit commands
	idMWDMA         = 63  // bits 2:0: multiword DMA modes supported
	idPIO           = 64  // bits 1:0: PIO modes 4 and 3 supported
	idCmdSet1       = 82  // bit 5: volatile write cache supported
	idCmdSet2       = 83  // bit 13 FLUSH CACHE EXT, bit 12 FLUSH CACHE, bit 10 48-bit; 15:14 01b when valid
	idCmdEnabled1   = 85  // bit 5: volatile write cache enabled
	idQueueDepth    = 75  // bits 4:0: NCQ queue depth - 1
	idSATACap       = 76  // Serial ATA capabilities: bit 8 NCQ supported
	idUDMA          = 88  // bits 6:0: Ultra DMA modes supported
	idSectors48     = 100 // words 100-103: user addressable sectors for 48-bit commands
	idSectorSize    = 106 // 15:14 01b when valid; bit 12: logical sector longer than 256 words
	idLogicalSize   = 117 // words 117-118: logical sector size in words
	idIntegrity     = 255 // bits 7:0 signature A5h, bits 15:8 checksum
)

// Fields of the IDENTIFY words above.
const (
	capIORDY            = 1 << 11
	capLBA              = 1 << 9
	capDMA              = 1 << 8
	validUDMA           = 1 << 2
	validPIO            = 1 << 1
	cmdWriteCache       = 1 << 5
	cmdFlushExt         = 1 << 13
	cmdFlush            = 1 << 12
	cmdLBA48            = 1 << 10
	sataNCQ             = 1 << 8
	wordValidMask       = 0xc000 // bits 15:14 of words 83, 106
	wordValid           = 0x4000 // 01b: the word holds valid data
	sectorSizeLong      = 1 << 12
	integritySignature  = 0xa5
	packetDevice        = 0x8000 // word 0 bits 15:14 = 10b
	packetDeviceMask    = 0xc000
	packetDRQShift      = 5 // word 0 bits 6:5: DRQ type
	packetSizeMask      = 0x3
	packetCommandShift  = 8 // word 0 bits 12:8: command packet set
	packetCommandMask   = 0x1f
	defaultSectorLength = 512
)

// PacketDRQ is how an ATAPI device asks for its command packet after the
// PACKET command (IDENTIFY PACKET DEVICE word 0 bits 6:5).
type PacketDRQ uint8

// Packet DRQ types.
const (
	DRQMicroprocessor PacketDRQ = 0 // DRQ within 3 ms
	DRQInterrupt      PacketDRQ = 1 // INTRQ with DRQ, within 10 ms
	DRQAccelerated    PacketDRQ = 2 // DRQ within 50 us
)

// Identify is the part of IDENTIFY DEVICE or IDENTIFY PACKET DEVICE data
// (ATA8-ACS IDENTIFY DEVICE, IDENTIFY PACKET DEVICE) this project uses.
type Identify struct {
	Type     DeviceType
	Model    string // words 27-46, byte-swapped, trailing blanks removed
	Serial   string // words 10-19
	Firmware string // words 23-26

	LBA       bool   // LBA addressing (word 49 bit 9)
	LBA48     bool   // 48-bit address feature set supported (word 83 bit 10)
	Sectors28 uint64 // user addressable sectors for 28-bit commands (words 60-61)
	Sectors48 uint64 // user addressable sectors for 48-bit commands (words 100-103)

	// Sectors is the capacity in logical sectors: Sectors48 with LBA48,
	// else Sectors28; 0 for an ATAPI device (its capacity comes from
	// READ CAPACITY).
	Sectors uint64

	SectorSize  int           // logical sector size in bytes (words 106, 117-118); 512 unless stated
	Modes       TransferModes // transfer modes supported (words 63, 64, 88)
	DMA         bool          // DMA supported (word 49 bit 8)
	IORDY       bool          // IORDY supported (word 49 bit 11)
	MultipleMax int           // most sectors per DRQ block of READ/WRITE MULTIPLE (word 47)

	WriteCache        bool // volatile write cache supported (word 82 bit 5)
	WriteCacheEnabled bool // and enabled (word 85 bit 5)
	FlushCache        bool // FLUSH CACHE supported (word 83 bit 12)
	FlushCacheExt     bool // FLUSH CACHE EXT supported (word 83 bit 13)

	// Native Command Queuing (Serial ATA Revision 2.6 §13.6; ATA8-ACS
	// word 76 bit 8, word 75 bits 4:0): READ/WRITE FPDMA QUEUED, and
	// how many such commands the device takes at once (tags 0..depth-1).
	NCQ      bool
	NCQDepth int

	// ATAPI only (word 0).
	PacketSize int       // command packet length: 12 or 16 bytes
	PacketDRQ  PacketDRQ // how the device asks for the packet
	PacketSet  int       // command packet set (5: CD/DVD, MMC)

	Checksummed bool // word 255 carries the A5h signature and its checksum was right
}

// Errors of ParseIdentify.
var (
	errIdentifyLength = errors.New("IDENTIFY data is not 512 bytes")
	errIdentifyFloat  = errors.New("IDENTIFY data reads all ones: nothing drives the bus")
	errIdentifyZero   = errors.New("IDENTIFY data reads all zeros")
)

// ParseIdentify decodes IDENTIFY DEVICE or IDENTIFY PACKET DEVICE data, 256
// little-endian words as the device sent them over the DATA register. When
// word 255 carries the integrity signature A5h it checks the checksum
// (ATA8-ACS IDENTIFY DEVICE word 255, "Integrity word": the 512 bytes sum to 0 modulo 256). It never panics
// on a device's answer: what it cannot accept it returns as an error naming
// the word.
func ParseIdentify(b []byte) (Identify, error) {
	var id Identify
	if len(b) != IdentifyLength {
		return id, errIdentifyLength
	}
	w := func(i int) uint16 { return binary.LittleEndian.Uint16(b[2*i:]) }

	ones, zeros := true, true
	for i := 0; i < IdentifyLength/2; i++ {
		ones = ones && w(i) == 0xffff
		zeros = zeros && w(i) == 0
	}
	switch {
	case ones:
		return id, errIdentifyFloat
	case zeros:
		return id, errIdentifyZero
	}

	if integ := w(idIntegrity); integ&0xff == integritySignature {
		var sum uint8
		for _, v := range b {
			sum += v
		}
		if sum != 0 {
			return id, errors.New("IDENTIFY data checksum wrong: word 255 is 0x" +
				strconv.FormatUint(uint64(integ), 16) + ", bytes sum to 0x" +
				strconv.FormatUint(uint64(sum), 16) + " instead of 0")
		}
		id.Checksummed = true
	}

	gc := w(idGeneralConfig)
	switch {
	case gc&packetDeviceMask == packetDevice:
		id.Type = DeviceATAPI
		id.PacketSize = 12
		if gc&packetSizeMask == 1 {
			id.PacketSize = 16
		}
		id.PacketDRQ = PacketDRQ(gc >> packetDRQShift & 3)
		id.PacketSet = int(gc >> packetCommandShift & packetCommandMask)
	case gc&0x8000 == 0:
		id.Type = DeviceATA
	default:
		return id, errors.New("IDENTIFY word 0 is 0x" + strconv.FormatUint(uint64(gc), 16) +
			": neither an ATA (bit 15 clear) nor an ATAPI (bits 15:14 10b) device")
	}

	id.Serial = identString(b, idSerial, 10)
	id.Firmware = identString(b, idFirmware, 4)
	id.Model = identString(b, idModel, 20)

	caps := w(idCapabilities)
	id.LBA = caps&capLBA != 0
	id.DMA = caps&capDMA != 0
	id.IORDY = caps&capIORDY != 0
	id.MultipleMax = int(w(idMultiple) & 0xff)

	// Transfer modes: PIO 0-2 are mandatory; PIO 3-4 and Ultra DMA are
	// valid only when word 53 says so; multiword DMA needs DMA in word 49.
	valid := w(idFieldValid)
	id.Modes = PIO0 | PIO1 | PIO2
	if valid&validPIO != 0 {
		pio := w(idPIO)
		if pio&1 != 0 {
			id.Modes |= PIO3
		}
		if pio&2 != 0 {
			id.Modes |= PIO4
		}
	}
	if id.DMA {
		id.Modes |= TransferModes(w(idMWDMA)&7) << 8
		if valid&validUDMA != 0 {
			id.Modes |= TransferModes(w(idUDMA)&0x7f) << 11
		}
	}

	cs2 := w(idCmdSet2)
	if cs2&wordValidMask == wordValid {
		cs1 := w(idCmdSet1)
		id.WriteCache = cs1&cmdWriteCache != 0
		id.WriteCacheEnabled = id.WriteCache && w(idCmdEnabled1)&cmdWriteCache != 0
		id.FlushCache = cs2&cmdFlush != 0
		id.FlushCacheExt = cs2&cmdFlushExt != 0
		id.LBA48 = cs2&cmdLBA48 != 0
	}

	// Word 76 (SATA capabilities) is valid unless 0000h or FFFFh. NCQ
	// (READ/WRITE FPDMA QUEUED) is for ATA devices only: QEMU's IDENTIFY
	// PACKET DEVICE on AHCI sets the bit as well (hw/ide/atapi.c,
	// ide_atapi_identify), and the AHCI miniport's error recovery resets a
	// queueing device, which would lose the sense data of a PACKET command.
	if sc := w(idSATACap); id.Type == DeviceATA && sc != 0 && sc != 0xffff && sc&sataNCQ != 0 {
		id.NCQ = true
		id.NCQDepth = int(w(idQueueDepth)&0x1f) + 1
	}

	id.SectorSize = defaultSectorLength
	if ss := w(idSectorSize); ss&wordValidMask == wordValid && ss&sectorSizeLong != 0 {
		words := uint32(w(idLogicalSize)) | uint32(w(idLogicalSize+1))<<16
		if words < 256 || words > 1<<15 || words&(words-1) != 0 {
			return id, errors.New("IDENTIFY words 117-118: logical sector of " +
				strconv.FormatUint(uint64(words), 10) + " words is not a power of two from 256 to 32768")
		}
		id.SectorSize = int(2 * words)
	}

	if id.Type == DeviceATA {
		if !id.LBA {
			return id, errors.New("IDENTIFY word 49: device without LBA addressing (CHS only) is not supported")
		}
		id.Sectors28 = uint64(w(idSectors28)) | uint64(w(idSectors28+1))<<16
		id.Sectors = id.Sectors28
		if id.LBA48 {
			for i := 3; i >= 0; i-- {
				id.Sectors48 = id.Sectors48<<16 | uint64(w(idSectors48+i))
			}
			// libata ata_id_has_lba48: a device announcing 48-bit
			// addressing with zero capacity there uses 28-bit commands.
			if id.Sectors48 == 0 {
				id.LBA48 = false
			} else {
				id.Sectors = id.Sectors48
			}
		}
		if id.Sectors48 > LBA48Limit {
			return id, errors.New("IDENTIFY words 100-103: capacity beyond 2^48 sectors")
		}
		if id.Sectors == 0 {
			return id, errors.New("IDENTIFY words 60-61 and 100-103: capacity of 0 sectors")
		}
	}
	return id, nil
}

// identString decodes an IDENTIFY string of n words from word first: each
// word holds two characters, the first in its high byte (ATA8-ACS "ATA
// string convention"). Trailing blanks and NULs go; bytes outside
// printable ASCII become '?'.
func identString(b []byte, first, n int) string {
	out := make([]byte, 0, 2*n)
	for i := first; i < first+n; i++ {
		out = append(out, b[2*i+1], b[2*i])
	}
	end := len(out)
	for end > 0 && (out[end-1] == ' ' || out[end-1] == 0) {
		end--
	}
	start := 0
	for start < end && out[start] == ' ' {
		start++
	}
	out = out[start:end]
	for i, c := range out {
		if c < 0x20 || c > 0x7e {
			out[i] = '?'
		}
	}
	return string(out)
}
