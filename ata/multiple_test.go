package ata

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ataport/firmware/miniport"
)

func TestMultipleBlock(t *testing.T) {
	for _, tc := range []struct{ max, want int }{{0, 0}, {1, 1}, {2, 2}, {3, 2}, {16, 16}, {17, 16}, {128, 128}, {255, 128}} {
		if got := multipleBlock(tc.max); got != tc.want {
			t.Errorf("multipleBlock(%d) = %d, want %d", tc.max, got, tc.want)
		}
	}
}

// A device with a multiple block gets SET MULTIPLE MODE at discovery, and
// its PIO transfers use READ/WRITE MULTIPLE: one interrupt per 16 sectors.
func TestPIOMultiple(t *testing.T) {
	disk := bigDisk()
	disk.Spec.MultipleMax = 16
	h := newHarness(t, disk, nil, nil)
	d := h.device("0:0")
	if cmds := fmt.Sprint(disk.Commands()); cmds != "[IDENTIFY DEVICE SET FEATURES SET FEATURES SET MULTIPLE MODE]" {
		t.Errorf("discovery commands %s", cmds)
	}
	if err := d.SetMode(ModePIO); err != nil {
		t.Fatal(err)
	}
	if err := d.SetWritable(true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 40*512)
	for i := range buf {
		buf[i] = byte(i * 3)
	}
	before, s0 := len(disk.Commands()), h.ch.Stats()
	if _, err := d.WriteAt(buf, 0x0ffffff0*512); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(buf))
	if _, err := d.ReadAt(got, 0x0ffffff0*512); err != nil || !bytes.Equal(got, buf) {
		t.Fatalf("read back: %v, equal %v", err, bytes.Equal(got, buf))
	}
	if _, err := d.ReadAt(got[:8*512], 100*512); err != nil || !bytes.Equal(got[:8*512], pattern(100, 8, 512)) {
		t.Fatalf("28-bit read: %v", err)
	}
	want := []miniport.Command{miniport.WRITE_MULTIPLE_EXT, miniport.READ_MULTIPLE_EXT, miniport.READ_MULTIPLE}
	if cmds := disk.Commands()[before:]; fmt.Sprint(cmds) != fmt.Sprint(want) {
		t.Errorf("commands %v, want %v", cmds, want)
	}
	if n := h.ch.Stats().Interrupts - s0.Interrupts; n != 3+3+1 {
		t.Errorf("%d interrupts, want 3 per 40 sectors and 1 per 8", n)
	}
}
