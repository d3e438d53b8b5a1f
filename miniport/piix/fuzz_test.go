package piix

import (
	"math/bits"
	"testing"

	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// IDENTIFY data a device sends drive the transfer modes the controller
// programs and the port then sets with SET FEATURES: whatever the words
// say, every controller kind selects exactly one PIO mode and at most one
// DMA mode, each one the device announced (PIO0 excepted, always there),
// PIO3 and PIO4 only with IORDY, each with a SET FEATURES value, and keeps
// the channel decoding.
func FuzzIdentifyModes(f *testing.F) {
	f.Add(sfftest.BuildIdentify(sfftest.IdentifySpec{Model: "QEMU HARDDISK", Sectors28: 100, PIO4: true, MWDMA: 7, UDMA: 0x3f, IORDY: true}), uint8(0))
	f.Add(sfftest.BuildIdentify(sfftest.IdentifySpec{ATAPI: true, Model: "CD", PIO3: true, MWDMA: 1}), uint8(1))
	f.Add(sfftest.BuildIdentify(sfftest.IdentifySpec{Model: "OLD", Sectors28: 1, UDMA: 0x7f}), uint8(2))
	devices := []uint16{0x7010, 0x7111} // PIIX3, PIIX4 (Ultra DMA)
	f.Fuzz(func(t *testing.T, b []byte, kind uint8) {
		id, err := miniport.ParseIdentify(b)
		if err != nil {
			return
		}
		c, err := New(newConfig().pci(0x8086, devices[int(kind)%len(devices)]))
		if err != nil {
			t.Fatal(err)
		}
		sel := miniport.TransferModeSelect{
			Present:   [2]bool{true},
			ATAPI:     [2]bool{id.Type == miniport.DeviceATAPI},
			Supported: [2]miniport.TransferModes{id.Modes},
			IORDY:     [2]bool{id.IORDY},
		}
		if err := c.TransferModeSelect(0, &sel); err != nil {
			t.Fatal(err)
		}
		m := sel.Selected[0]
		if bits.OnesCount32(uint32(m&miniport.PIOModes)) != 1 || bits.OnesCount32(uint32(m&miniport.DMAModes)) > 1 {
			t.Fatalf("selected %v from %v", m, id.Modes)
		}
		if extra := m &^ id.Modes &^ miniport.PIO0; extra != 0 {
			t.Errorf("selected %v, which the device did not announce (%v)", extra, id.Modes)
		}
		if !id.IORDY && m&(miniport.PIO3|miniport.PIO4) != 0 {
			t.Errorf("selected %v without IORDY", m)
		}
		for _, mode := range []miniport.TransferModes{m.PIO(), m.DMA()} {
			if _, ok := mode.SetFeaturesValue(); mode != 0 && !ok {
				t.Errorf("no SET FEATURES value for %v", mode)
			}
		}
		if sel.Selected[1] != 0 {
			t.Errorf("absent device 1 got %v", sel.Selected[1])
		}
		if c.read16(IDETIM_PRI)&0x8000 == 0 {
			t.Error("the primary channel stopped decoding")
		}
	})
}
