package ata

import (
	"testing"

	"github.com/ataport/firmware/miniport"
)

// Known answers for the command choice: 28-bit while lba+count < 2^28 and
// count <= 256 (libata lba_28_ok), 48-bit beyond on devices that have it.
func TestNextCommand(t *testing.T) {
	const max = 512
	for _, tc := range []struct {
		name        string
		lba         uint64
		n, max      int
		lba48, w, d bool
		ok          bool
		want        rwCommand
	}{
		{"small read PIO", 0, 8, max, true, false, false, true, rwCommand{miniport.READ_SECTORS, 0, 8, false, false}},
		{"small write DMA", 100, 8, max, true, true, true, true, rwCommand{miniport.WRITE_DMA, 100, 8, false, true}},
		{"256 sectors fit 28-bit (count 0)", 0, 256, max, true, false, true, true, rwCommand{miniport.READ_DMA, 0, 256, false, true}},
		{"257 sectors need 48-bit", 0, 257, max, true, false, true, true, rwCommand{miniport.READ_DMA_EXT, 0, 257, true, true}},
		{"split at the bounce size", 0, 600, max, true, false, true, true, rwCommand{miniport.READ_DMA_EXT, 0, 512, true, true}},
		{"last 28-bit LBA", 0x0ffffffe, 1, max, true, false, false, true, rwCommand{miniport.READ_SECTORS, 0x0ffffffe, 1, false, false}},
		{"LBA 0x0FFFFFFF is 48-bit", 0x0fffffff, 1, max, true, false, false, true, rwCommand{miniport.READ_SECTORS_EXT, 0x0fffffff, 1, true, false}},
		{"LBA 2^28 is 48-bit", 0x10000000, 1, max, true, true, true, true, rwCommand{miniport.WRITE_DMA_EXT, 0x10000000, 1, true, true}},
		{"crossing 2^28", 0x0fffff00, 8, max, true, false, false, true, rwCommand{miniport.READ_SECTORS, 0x0fffff00, 8, false, false}},
		{"crossing 2^28 with the count", 0x0fffff00, 512, max, true, true, false, true, rwCommand{miniport.WRITE_SECTORS_EXT, 0x0fffff00, 512, true, false}},
		{"65536 sectors max", 0, 70000, 70000, true, false, true, true, rwCommand{miniport.READ_DMA_EXT, 0, 65536, true, true}},
		{"28-bit device: 256 at most", 0, 600, max, false, false, true, true, rwCommand{miniport.READ_DMA, 0, 256, false, true}},
		{"28-bit device near the end", 0x0ffffe00, 600, max, false, false, false, true, rwCommand{miniport.READ_SECTORS, 0x0ffffe00, 256, false, false}},
		{"28-bit device past 2^28", 0x10000000, 1, max, false, false, false, false, rwCommand{}},
		{"nothing to move", 0, 0, max, true, false, false, false, rwCommand{}},
		{"past 2^48", 1<<48 - 1, 2, max, true, false, false, false, rwCommand{}},
	} {
		got, ok := nextCommand(tc.lba, tc.n, tc.max, tc.lba48, tc.w, tc.d)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("%s: %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTaskFileOfCommand(t *testing.T) {
	var tf miniport.TaskFile
	c := rwCommand{miniport.READ_DMA, 0x0fffff00, 256, false, true}
	if !c.taskFile(&tf) || tf.Current != (miniport.Registers{Count: 0, LBALow: 0, LBAMid: 0xff, LBAHigh: 0xff, Device: 0x4f, Command: 0xc8}) {
		t.Errorf("28-bit: %+v", tf)
	}
	c = rwCommand{miniport.WRITE_SECTORS_EXT, 0x10000000, 65536, true, false}
	if !c.taskFile(&tf) || tf.Current.Count != 0 || tf.Previous.Count != 0 || tf.Previous.LBALow != 0x10 || tf.Current.Command != 0x34 {
		t.Errorf("48-bit: %+v", tf)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		mid, high, status uint8
		want              miniport.DeviceType
	}{
		{0x00, 0x00, 0x50, miniport.DeviceATA},
		{0x00, 0x00, 0x00, miniport.DeviceNone}, // QEMU's and a master's answer for an absent device
		{0x14, 0xeb, 0x00, miniport.DeviceATAPI},
		{0x69, 0x96, 0x00, miniport.DeviceATAPI},
		{0x3c, 0xc3, 0x50, miniport.DeviceATA},
		{0x7f, 0x7f, 0x7f, miniport.DeviceNone},
	} {
		if got := classify(miniport.Registers{LBAMid: tc.mid, LBAHigh: tc.high}, tc.status); got != tc.want {
			t.Errorf("classify(%02x/%02x, status %02x) = %v, want %v", tc.mid, tc.high, tc.status, got, tc.want)
		}
	}
}
