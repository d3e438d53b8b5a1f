package main

// The image layout and the limits of the loader, as boot/layout.inc
// defines them for the assembly (layout_test.go checks that both agree;
// boot/README.md explains them).
const (
	SectorSize    = 512
	Stage2LBA     = 1
	Stage2Sectors = 15
	HeaderLBA     = 16
	FirmwareLBA   = 17

	// Firmware header, little-endian, one sector at HeaderLBA.
	HDR_MAGIC   = 0x00
	HDR_VERSION = 0x04
	HDR_NSEGS   = 0x06
	HDR_ENTRY   = 0x08
	HDR_SIZE    = 0x0c
	HDR_CRC     = 0x10
	HDR_SEGS    = 0x20
	SEG_PADDR   = 0x00
	SEG_FILESZ  = 0x04
	SEG_ZERO    = 0x08
	SEG_LBA     = 0x0c
	SEG_SIZE    = 0x10

	HeaderMagic   = 0x57465441 // "ATFW"
	HeaderVersion = 1
	Stage2Magic   = 0x32535441 // "ATS2"
	MaxSegments   = 8

	// LoadMin and LoadMax bound the destinations: the loader's own
	// memory lies below 1 MiB, the firmware's DMA region starts at
	// LoadMax (board/pc/pc.go, dmaStart). FirmwareMax bounds the bytes
	// read from disk.
	LoadMin     = 0x100000
	LoadMax     = 0x50000000
	FirmwareMax = 64 << 20
)

// Master boot record (UEFI 2.10, 5.2.1 "Legacy Master Boot Record").
const (
	MBRDiskSignature  = 0x1b8
	MBRPartitionTable = 0x1be
	MBRSignature      = 0x1fe

	// PartitionType marks the loader and firmware as data no file
	// system driver should claim (0xda, "non-FS data").
	PartitionType = 0xda
	// PartitionActive is the boot indicator of the entry a BIOS (or an
	// MBR that chains) boots.
	PartitionActive = 0x80
)
