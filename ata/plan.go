package ata

import (
	"github.com/ataport/firmware/miniport"
)

// rwCommand is one read or write command of a transfer.
type rwCommand struct {
	cmd   miniport.Command
	lba   uint64
	count int // sectors
	ext   bool
	dma   bool
}

// lba28OK reports whether a 28-bit command can address count sectors from
// lba: libata's lba_28_ok, which keeps the range strictly below 2^28 (the
// capacity words 60-61 count at most 0x0FFFFFFF sectors, so LBA 0x0FFFFFFF
// itself belongs to 48-bit devices) and the count at 256 or less.
func lba28OK(lba uint64, count int) bool {
	return lba+uint64(count) < miniport.LBA28Limit && count <= 256
}

// nextCommand chooses the command that moves the first sectors of a
// transfer of n sectors from lba: at most maxSectors of them; a 28-bit
// command when it suffices (ATA8-ACS READ/WRITE SECTORS, READ/WRITE DMA);
// else, on a device with the 48-bit address feature set, the EXT command
// for up to 65536 sectors; else at most 256 sectors by a 28-bit command.
// It reports false when the range cannot be addressed at all.
func nextCommand(lba uint64, n, maxSectors int, lba48, write, dma bool) (rwCommand, bool) {
	count := n
	if count > maxSectors {
		count = maxSectors
	}
	c := rwCommand{lba: lba, dma: dma}
	switch {
	case count < 1:
		return c, false
	case lba28OK(lba, count):
	case lba48:
		if count > 65536 {
			count = 65536
		}
		if lba+uint64(count) > miniport.LBA48Limit {
			return c, false
		}
		c.ext = true
	case count > 256 && lba28OK(lba, 256):
		count = 256
	default:
		return c, false
	}
	c.count = count
	c.cmd = rwOpcode(write, dma, c.ext)
	return c, true
}

// rwOpcode returns the ATA8-ACS read or write command for the protocol.
func rwOpcode(write, dma, ext bool) miniport.Command {
	switch {
	case !write && !dma && !ext:
		return miniport.READ_SECTORS
	case !write && !dma:
		return miniport.READ_SECTORS_EXT
	case !write && !ext:
		return miniport.READ_DMA
	case !write:
		return miniport.READ_DMA_EXT
	case !dma && !ext:
		return miniport.WRITE_SECTORS
	case !dma:
		return miniport.WRITE_SECTORS_EXT
	case !ext:
		return miniport.WRITE_DMA
	}
	return miniport.WRITE_DMA_EXT
}

// taskFile loads c into tf.
func (c rwCommand) taskFile(tf *miniport.TaskFile) bool {
	*tf = miniport.TaskFile{}
	ok := false
	if c.ext {
		ok = tf.SetLBA48(c.lba, c.count)
	} else {
		ok = tf.SetLBA28(c.lba, c.count)
	}
	tf.Current.Command = uint8(c.cmd)
	return ok
}
