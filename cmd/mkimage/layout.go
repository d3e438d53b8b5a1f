package main

// The image layout and the limits of the loader, as boot/layout.inc
// defines them for the assembly (layout_test.go checks that both agree;
// boot/README.md explains them).
const (
	SectorSize    = 512
	Stage2LBA     = 2048
	Stage2Sectors = 15
	HeaderLBA     = 2063

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
	HeaderVersion = 2
	Stage2Magic   = 0x32535441 // "ATS2"
	MaxSegments   = 8

	// LoadMin and LoadMax bound the destinations: the loader's own
	// memory lies below 1 MiB, the firmware's DMA region starts at
	// LoadMax (board/pc/pc.go, dmaStart). FirmwareMax bounds the bytes
	// read from disk.
	LoadMin     = 0x100000
	LoadMax     = 0x30000000
	FirmwareMax = 64 << 20
)

// Master boot record (UEFI 2.10, 5.2.1 "Legacy Master Boot Record"): the
// boot code ends where the disk signature starts; the GPT's protective MBR
// (5.2.3) fills the partition table.
const (
	MBRDiskSignature = 0x1b8
	MBRPartition1    = 0x1be // first of the four partition records
	MBRSignature     = 0x1fe

	// MBRActive is the BootIndicator of a partition record marked active
	// (5.2.1, Table 5-2). The protective MBR's is 0 (5.2.3, Table 5-4:
	// UEFI ignores it, what a BIOS does with another value is undefined).
	MBRActive = 0x80
)

// The GPT disk (UEFI 2.10, 5.3 "GUID Partition Table (GPT) Disk Layout").
const (
	// PartitionAlign puts each partition on a 1 MiB boundary, as
	// partitioning tools do, so that it starts on a flash erase block.
	PartitionAlign = 2048
	// GPTBackupSectors are the backup partition entries (128 of 128
	// bytes) and the backup header at the end of the disk.
	GPTBackupSectors = 33

	// ESPSize is the EFI system partition's size. UEFI's FAT driver,
	// like every FAT driver, takes the FAT type from the number of
	// clusters (Microsoft FAT specification, "FAT Type Determination"):
	// a FAT32 file system needs at least 65525 of them, which with
	// go-diskfs's 512-byte clusters below 260 MiB takes about 33 MiB.
	ESPSize  = 40 << 20
	ESPLabel = "ATAPORT"

	// The loader at the removable-media path every UEFI firmware tries
	// (UEFI 2.10, 3.5.1.1 "Removable Media Boot Behavior"), and the
	// payload it reads (boot/uefi.c, PAYLOAD_PATH).
	EFIBootDir  = "/EFI/BOOT"
	EFIBootName = "BOOTX64.EFI"
	PayloadDir  = "/EFI/ATAPORT"
	PayloadName = "FIRMWARE.BIN"
)
