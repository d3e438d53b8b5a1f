package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// The input a Build error is about, when it is not the firmware.
var (
	ErrMBR    = errors.New("MBR")
	ErrStage2 = errors.New("stage 2")
)

// Build lays out the boot image (boot/README.md): the MBR with its
// partition entry in sector 0, stage 2 from Stage2LBA, the firmware header
// at HeaderLBA, then each segment's bytes from a sector boundary.
func Build(mbr, stage2 []byte, fw *Firmware) ([]byte, error) {
	if err := checkMBR(mbr); err != nil {
		return nil, err
	}
	if len(stage2) > Stage2Sectors*SectorSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d (%d sectors)", ErrStage2, len(stage2), Stage2Sectors*SectorSize, Stage2Sectors)
	}
	if len(stage2) < 4 || binary.LittleEndian.Uint32(stage2) != Stage2Magic {
		return nil, fmt.Errorf("%w: does not start with its signature %#x", ErrStage2, Stage2Magic)
	}
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
	lba := uint32(FirmwareLBA)
	for i, s := range fw.Segments {
		if uint64(s.Paddr) < LoadMin || uint64(s.Paddr)+uint64(s.Memsz) > LoadMax || int(s.Memsz) < len(s.Data) {
			return nil, fmt.Errorf("segment %d: %#x-%#x with %#x bytes of data does not fit %#x-%#x", i, s.Paddr, uint64(s.Paddr)+uint64(s.Memsz), len(s.Data), LoadMin, LoadMax)
		}
		e := hdr[HDR_SEGS+i*SEG_SIZE:]
		le.PutUint32(e[SEG_PADDR:], s.Paddr)
		le.PutUint32(e[SEG_FILESZ:], uint32(len(s.Data)))
		le.PutUint32(e[SEG_ZERO:], s.Memsz-uint32(len(s.Data)))
		le.PutUint32(e[SEG_LBA:], lba)
		crc.Write(s.Data)
		lba += sectors(len(s.Data))
	}
	le.PutUint32(hdr[HDR_CRC:], crc.Sum32())

	img := make([]byte, int(lba)*SectorSize)
	copy(img, mbr)
	copy(img[Stage2LBA*SectorSize:], stage2)
	copy(img[HeaderLBA*SectorSize:], hdr)
	for i, s := range fw.Segments {
		copy(img[int(le.Uint32(hdr[HDR_SEGS+i*SEG_SIZE+SEG_LBA:]))*SectorSize:], s.Data)
	}
	copy(img[MBRPartitionTable:], partitionEntry(Stage2LBA, lba-Stage2LBA))
	return img, nil
}

// sectors returns how many sectors n bytes take.
func sectors(n int) uint32 { return uint32((n + SectorSize - 1) / SectorSize) }

// checkMBR checks the assembled stage 1: one sector, the boot signature,
// and the disk signature and partition table left zero for mkimage.
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

// partitionEntry returns the first partition table entry: active, type
// PartitionType, sectors [start, start+count), with CHS addresses for
// BIOSes that still read them.
func partitionEntry(start, count uint32) []byte {
	e := make([]byte, 16)
	e[0] = PartitionActive
	copy(e[1:4], chs(start))
	e[4] = PartitionType
	copy(e[5:8], chs(start+count-1))
	binary.LittleEndian.PutUint32(e[8:], start)
	binary.LittleEndian.PutUint32(e[12:], count)
	return e
}

// chs encodes lba as head, sector|cylinder<<6 (bits 9-8), cylinder (bits
// 7-0) for the 255-head, 63-sector geometry BIOSes use for LBA disks;
// beyond cylinder 1023 it is the conventional maximum 254/63/1023.
func chs(lba uint32) []byte {
	const heads, spt = 255, 63
	c, h, s := lba/(heads*spt), lba/spt%heads, lba%spt+1
	if c > 1023 {
		c, h, s = 1023, heads-1, spt
	}
	return []byte{byte(h), byte(s) | byte(c>>8)<<6, byte(c)}
}

// Pad extends img with zeros to size bytes, a multiple of the sector size.
func Pad(img []byte, size int64) ([]byte, error) {
	if size%SectorSize != 0 {
		return nil, fmt.Errorf("pad size %d is not a multiple of %d", size, SectorSize)
	}
	if size < int64(len(img)) {
		return nil, fmt.Errorf("pad size %d is smaller than the image (%d bytes)", size, len(img))
	}
	return append(img, make([]byte, size-int64(len(img)))...), nil
}
