package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// The input a Build error is about, when it is not the firmware.
var (
	ErrMBR    = errors.New("MBR")
	ErrStage2 = errors.New("stage 2")
	ErrEFI    = errors.New("UEFI loader")
	ErrSize   = errors.New("disk size")
)

// Payload returns the firmware payload (boot/README.md, "Firmware
// payload"): the header sector, then each segment's bytes from a sector
// boundary, zero-padded to whole sectors. The BIOS loader reads it at
// HeaderLBA, the UEFI loader from PayloadDir/PayloadName on the EFI system
// partition.
func Payload(fw *Firmware) ([]byte, error) {
	if n := len(fw.Segments); n == 0 || n > MaxSegments {
		return nil, fmt.Errorf("%d segments, want 1 to %d", n, MaxSegments)
	}
	if fw.Size() > FirmwareMax {
		return nil, fmt.Errorf("firmware too large: %d KiB to load, at most %d KiB", (fw.Size()+1023)>>10, FirmwareMax>>10)
	}
	le := binary.LittleEndian
	hdr := make([]byte, SectorSize)
	le.PutUint32(hdr[HDR_MAGIC:], HeaderMagic)
	le.PutUint16(hdr[HDR_VERSION:], HeaderVersion)
	le.PutUint16(hdr[HDR_NSEGS:], uint16(len(fw.Segments)))
	le.PutUint32(hdr[HDR_ENTRY:], fw.Entry)
	le.PutUint32(hdr[HDR_SIZE:], uint32(fw.Size()))
	crc := crc32.NewIEEE()
	var body []byte
	for i, s := range fw.Segments {
		if uint64(s.Paddr) < LoadMin || uint64(s.Paddr)+uint64(s.Memsz) > LoadMax || int(s.Memsz) < len(s.Data) {
			return nil, fmt.Errorf("segment %d: %#x-%#x with %#x bytes of data does not fit %#x-%#x", i, s.Paddr, uint64(s.Paddr)+uint64(s.Memsz), len(s.Data), LoadMin, LoadMax)
		}
		e := hdr[HDR_SEGS+i*SEG_SIZE:]
		le.PutUint32(e[SEG_PADDR:], s.Paddr)
		le.PutUint32(e[SEG_FILESZ:], uint32(len(s.Data)))
		le.PutUint32(e[SEG_ZERO:], s.Memsz-uint32(len(s.Data)))
		le.PutUint32(e[SEG_LBA:], uint32(1+len(body)/SectorSize))
		crc.Write(s.Data)
		body = append(body, s.Data...)
		body = append(body, make([]byte, int(sectors(len(s.Data)))*SectorSize-len(s.Data))...)
	}
	le.PutUint32(hdr[HDR_CRC:], crc.Sum32())
	return append(hdr, body...), nil
}

// Image is what goes into the disk image.
type Image struct {
	MBR, Stage2 []byte // the BIOS loader, assembled from boot/
	EFILoader   []byte // BOOTX64.EFI
	Firmware    *Firmware
	// Size is the disk's size in bytes; 0 means the smallest that holds
	// everything.
	Size int64
	// Active marks the protective MBR's partition active (MBRActive), for
	// the old BIOSes that boot only a disk with an active partition.
	Active bool
}

// Layout is where the parts of an image go, in sectors.
type Layout struct {
	BIOSStart, BIOSEnd uint64 // BIOS boot partition: stage 2, payload
	ESPStart, ESPEnd   uint64 // EFI system partition
	Sectors            uint64 // the whole disk
}

// layout places the partitions: each starts on a 1 MiB boundary, the BIOS
// boot partition at Stage2LBA with stage 2 and the payload, the ESP after
// it with ESPSize bytes, and the disk ends after the backup GPT.
func layout(payload int, size int64) (Layout, error) {
	var l Layout
	l.BIOSStart = Stage2LBA
	l.BIOSEnd = align(l.BIOSStart+Stage2Sectors+uint64(payload/SectorSize), PartitionAlign)
	l.ESPStart = l.BIOSEnd
	l.ESPEnd = l.ESPStart + ESPSize/SectorSize
	l.Sectors = align(l.ESPEnd+GPTBackupSectors, PartitionAlign)
	if size != 0 {
		if size%SectorSize != 0 {
			return l, fmt.Errorf("%w %d is not a multiple of %d", ErrSize, size, SectorSize)
		}
		if uint64(size/SectorSize) < l.Sectors {
			return l, fmt.Errorf("%w %d is smaller than the image (%d bytes)", ErrSize, size, l.Sectors*SectorSize)
		}
		l.Sectors = uint64(size / SectorSize)
	}
	return l, nil
}

func align(n, a uint64) uint64 { return (n + a - 1) / a * a }

// Build writes the disk image to path (boot/README.md, "Disk layout"): a
// GPT with a protective MBR whose boot code is stage 1, a BIOS boot
// partition with stage 2 and the payload, and an EFI system partition
// (FAT32) with the UEFI loader as \EFI\BOOT\BOOTX64.EFI and the payload
// as PayloadDir/PayloadName. GPT and FAT are go-diskfs's.
func Build(path string, in Image) error {
	if err := checkMBR(in.MBR); err != nil {
		return err
	}
	if len(in.Stage2) > Stage2Sectors*SectorSize {
		return fmt.Errorf("%w: %d bytes, at most %d (%d sectors)", ErrStage2, len(in.Stage2), Stage2Sectors*SectorSize, Stage2Sectors)
	}
	if len(in.Stage2) < 4 || binary.LittleEndian.Uint32(in.Stage2) != Stage2Magic {
		return fmt.Errorf("%w: does not start with its signature %#x", ErrStage2, Stage2Magic)
	}
	if len(in.EFILoader) < 2 || string(in.EFILoader[:2]) != "MZ" {
		return fmt.Errorf("%w: not a PE image (no MZ signature)", ErrEFI)
	}
	payload, err := Payload(in.Firmware)
	if err != nil {
		return err
	}
	l, err := layout(len(payload), in.Size)
	if err != nil {
		return err
	}

	// diskfs.Create makes the file and refuses one that exists.
	os.Remove(path)
	if err := partition(path, l, in.EFILoader, payload); err != nil {
		return err
	}

	// Stage 1 goes into the protective MBR's boot code area, which GPT
	// leaves to legacy boot code (UEFI 2.10, 5.2.3 "Protective MBR");
	// stage 2 and the payload into the BIOS boot partition, at the LBAs
	// stage 1 and stage 2 read.
	out, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for _, w := range []struct {
		b   []byte
		lba int64
	}{{in.MBR[:MBRDiskSignature], 0}, {in.Stage2, Stage2LBA}, {payload, HeaderLBA}} {
		if _, err := out.WriteAt(w.b, w.lba*SectorSize); err != nil {
			out.Close()
			return err
		}
	}
	if in.Active {
		if _, err := out.WriteAt([]byte{MBRActive}, MBRPartition1); err != nil {
			out.Close()
			return err
		}
	}
	return out.Close()
}

// partition creates the disk image file at path with its GPT and the
// ESP's file system and files.
func partition(path string, l Layout, efi, payload []byte) error {
	d, err := diskfs.Create(path, int64(l.Sectors*SectorSize), diskfs.SectorSizeDefault)
	if err != nil {
		return err
	}
	defer d.Close()
	table := &gpt.Table{
		LogicalSectorSize:  SectorSize,
		PhysicalSectorSize: SectorSize,
		ProtectiveMBR:      true,
		Partitions: []*gpt.Partition{
			{Start: l.BIOSStart, End: l.BIOSEnd - 1, Type: gpt.BIOSBoot, Name: "ataport BIOS loader"},
			{Start: l.ESPStart, End: l.ESPEnd - 1, Type: gpt.EFISystemPartition, Name: "EFI system partition"},
		},
	}
	if err := d.Partition(table); err != nil {
		return fmt.Errorf("GPT: %w", err)
	}
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 2, FSType: filesystem.TypeFat32, VolumeLabel: ESPLabel})
	if err != nil {
		return fmt.Errorf("EFI system partition: %w", err)
	}
	for _, f := range []struct {
		dir, name string
		data      []byte
	}{
		{EFIBootDir, EFIBootName, efi},
		{PayloadDir, PayloadName, payload},
	} {
		if err := writeFile(fs, f.dir, f.name, f.data); err != nil {
			return fmt.Errorf("EFI system partition: %w", err)
		}
	}
	return nil
}

// writeFile creates dir (with its parents) and the file dir/name.
func writeFile(fs filesystem.FileSystem, dir, name string, data []byte) error {
	if err := fs.Mkdir(dir); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	f, err := fs.OpenFile(dir+"/"+name, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fmt.Errorf("%s/%s: %w", dir, name, err)
	}
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("%s/%s: %w", dir, name, err)
	}
	return f.Close()
}

// sectors returns how many sectors n bytes take.
func sectors(n int) uint32 { return uint32((n + SectorSize - 1) / SectorSize) }

// checkMBR checks the assembled stage 1: one sector, the boot signature,
// and the disk signature and partition table left zero for the GPT's
// protective MBR.
func checkMBR(mbr []byte) error {
	if len(mbr) != SectorSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrMBR, len(mbr), SectorSize)
	}
	if mbr[MBRSignature] != 0x55 || mbr[MBRSignature+1] != 0xaa {
		return fmt.Errorf("%w: no boot signature 0x55 0xaa at %#x", ErrMBR, MBRSignature)
	}
	for i := MBRDiskSignature; i < MBRSignature; i++ {
		if mbr[i] != 0 {
			return fmt.Errorf("%w: byte %#x is not zero: stage 1 overlaps the disk signature or partition table", ErrMBR, i)
		}
	}
	return nil
}
