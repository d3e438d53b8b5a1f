package ata

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// DMA into the caller's memory: an even buffer goes to the engine as it
// is, in commands as large as the PRD table allows (one here, where the
// bounce buffer would take three), and an odd one goes through the bounce
// buffer; both read and write the right data.
func TestZeroCopyDMA(t *testing.T) {
	disk := bigDisk()
	var mapped int
	h := newHarness(t, disk, nil, func(c *Config) {
		c.Phys = func(p []byte) (uint64, bool) {
			mapped++
			return c.DMA.(*sfftest.Memory).Map(p)
		}
	})
	d := h.device("0:0")
	if err := d.SetWritable(true); err != nil {
		t.Fatal(err)
	}
	const n = 2048 // 1 MiB
	for _, tc := range []struct {
		name string
		off  int // of the buffer within its allocation
		cmds []miniport.Command
	}{
		{"even buffer: one command into it", 0, []miniport.Command{miniport.READ_DMA_EXT}},
		{"odd buffer: bounced", 1, []miniport.Command{miniport.READ_DMA_EXT, miniport.READ_DMA_EXT, miniport.READ_DMA_EXT, miniport.READ_DMA_EXT}},
	} {
		buf := make([]byte, n*512+tc.off)[tc.off:]
		before := len(disk.Commands())
		if _, err := d.ReadAt(buf, 1000*512); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if cmds := disk.Commands()[before:]; fmt.Sprint(cmds) != fmt.Sprint(tc.cmds) {
			t.Errorf("%s: commands %v, want %v", tc.name, cmds, tc.cmds)
		}
		if !bytes.Equal(buf, pattern(1000, n, 512)) {
			t.Errorf("%s: data differs", tc.name)
		}
		for i := range buf {
			buf[i] = byte(i*31 + tc.off)
		}
		if _, err := d.WriteAt(buf, 5000*512); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		for i := 0; i < n; i++ {
			if !bytes.Equal(disk.Sector(5000+uint64(i)), buf[i*512:(i+1)*512]) {
				t.Fatalf("%s: sector %d differs after the write", tc.name, 5000+i)
			}
		}
	}
	if mapped == 0 {
		t.Error("Config.Phys never asked")
	}
}
