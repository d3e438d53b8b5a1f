package piix

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// Known answers for IDETIM/SIDETIM (82371SB datasheet 2.3.7-2.3.8, with
// ata_piix.c's timing table): ISP 2 / RTC 3 for PIO4, TIME/IE/PPE as the
// mode needs, SITRE always, IDE decode enable kept.
func TestTiming(t *testing.T) {
	for _, tc := range []struct {
		name        string
		idetim      uint16
		sidetim     uint8
		ch, dev     int
		modes       miniport.TransferModes
		atapi       bool
		wantIdetim  uint16
		wantSidetim uint8
	}{
		{"primary master PIO4 MWDMA2 disk", 0x8000, 0, 0, 0, miniport.PIO4 | miniport.MWDMA2, false, 0xe307, 0},
		{"primary master PIO4 only", 0x8000, 0, 0, 0, miniport.PIO4, false, 0xe307, 0},
		{"primary master PIO0 ATAPI", 0x8000, 0, 0, 0, miniport.PIO0, true, 0xc000, 0},
		{"primary master PIO2 disk", 0x8000, 0, 0, 0, miniport.PIO2, false, 0xd005, 0},
		{"slow PIO with MWDMA2: DMA timing only", 0x8000, 0, 0, 0, miniport.PIO2 | miniport.MWDMA2, false, 0xe30f, 0},
		{"PIO4 with MWDMA1 runs PIO3 timing", 0x8000, 0, 0, 0, miniport.PIO4 | miniport.MWDMA1, false, 0xe107, 0},
		{"secondary slave PIO4 MWDMA2 CD", 0x8000, 0x05, 1, 1, miniport.PIO4 | miniport.MWDMA2, true, 0xc030, 0xb5},
		{"primary slave keeps the master's bits", 0xe307, 0x50, 0, 1, miniport.PIO4 | miniport.MWDMA2, false, 0xe377, 0x5b},
		{"primary master keeps the slave's bits", 0xc070, 0, 0, 0, miniport.PIO3, false, 0xe177, 0},
	} {
		gi, gs := timing(tc.idetim, tc.sidetim, tc.ch, tc.dev, tc.modes, tc.atapi)
		if gi != tc.wantIdetim || gs != tc.wantSidetim {
			t.Errorf("%s: IDETIM %#04x SIDETIM %#02x, want %#04x %#02x", tc.name, gi, gs, tc.wantIdetim, tc.wantSidetim)
		}
	}
}

func TestUDMATiming(t *testing.T) {
	for _, tc := range []struct {
		ctl     uint8
		tim     uint16
		ch, dev int
		modes   miniport.TransferModes
		wantCtl uint8
		wantTim uint16
	}{
		{0, 0, 0, 0, miniport.PIO4 | miniport.UDMA2, 0x01, 0x0002},
		{0, 0, 1, 1, miniport.PIO4 | miniport.UDMA1, 0x08, 0x1000},
		{0x0f, 0x2222, 0, 1, miniport.PIO4 | miniport.MWDMA2, 0x0d, 0x2202},
	} {
		c, tm := udmaTiming(tc.ctl, tc.tim, tc.ch, tc.dev, tc.modes)
		if c != tc.wantCtl || tm != tc.wantTim {
			t.Errorf("udmaTiming(%#x, %#x, %d, %d, %v) = %#x %#x, want %#x %#x", tc.ctl, tc.tim, tc.ch, tc.dev, tc.modes, c, tm, tc.wantCtl, tc.wantTim)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		v, d, sv, sd uint16
		want         *Kind
	}{
		{0x8086, 0x7010, 0x1af4, 0x1100, &PIIX3},
		{0x8086, 0x7111, 0x15ad, 0x1976, &PIIX4VMware},
		{0x8086, 0x7111, 0x8086, 0x7111, &PIIX4},
	} {
		if k, ok := Lookup(tc.v, tc.d, tc.sv, tc.sd); !ok || k != tc.want {
			t.Errorf("Lookup(%04x:%04x %04x:%04x) = %v, want %s", tc.v, tc.d, tc.sv, tc.sd, k, tc.want.Name)
		}
	}
	if _, ok := Lookup(0x8086, 0x2922, 0, 0); ok {
		t.Error("an AHCI function matched")
	}
}

// config is a fake configuration space of the IDE function, as SeaBIOS
// leaves QEMU's PIIX3: both channels decoding, I/O and bus mastering on.
type config struct {
	regs   map[uint8]uint32
	writes []uint8
}

func newConfig() *config {
	return &config{regs: map[uint8]uint32{PCICMD: 0x02800000, IDETIM_PRI: 0x80008000}}
}

func (c *config) pci(vendor, device uint16) PCI {
	return PCI{
		Bus: 0, Device: 1, Function: 1, Vendor: vendor, DeviceID: device,
		Class: 0x010180, BAR4: 0xc001,
		Read32:  func(off uint8) uint32 { return c.regs[off&^3] },
		Write32: func(off uint8, v uint32) { c.regs[off&^3] = v; c.writes = append(c.writes, off) },
	}
}

func TestNew(t *testing.T) {
	cfg := newConfig()
	good := cfg.pci(0x8086, 0x7010)
	c, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.BusMaster() != 0xc000 || c.Kind() != &PIIX3 {
		t.Errorf("BMIBA %#x kind %s", c.BusMaster(), c.Kind().Name)
	}
	for _, tc := range []struct {
		edit func(p *PCI)
		err  string
	}{
		{func(p *PCI) { p.DeviceID = 0x1234 }, "not a PIIX3/PIIX4"},
		{func(p *PCI) { p.Read32 = nil }, "access functions"},
		{func(p *PCI) { p.Class = 0x010600 }, "not an IDE controller"},
		{func(p *PCI) { p.Class = 0x01018f }, "native-PCI"},
	} {
		p := good
		tc.edit(&p)
		if _, err := New(p); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("New: %v, want %q", err, tc.err)
		}
	}
	p := good
	p.BAR4 = 0
	if c, err := New(p); err != nil || c.BusMaster() != 0 {
		t.Errorf("without BAR4: %v BMIBA %#x", err, c.BusMaster())
	}
}

func TestControllerConfig(t *testing.T) {
	cfg := newConfig()
	c, err := New(cfg.pci(0x8086, 0x7111))
	if err != nil {
		t.Fatal(err)
	}
	if c.ChannelEnabled(0) != miniport.ChannelEnabled || c.ChannelEnabled(1) != miniport.ChannelEnabled {
		t.Error("channels reported disabled")
	}
	cfg.regs[IDETIM_PRI] = 0x00008000 // secondary decode off
	if c.ChannelEnabled(1) != miniport.ChannelDisabled {
		t.Error("secondary reported enabled with IDETIM_SEC bit 15 clear")
	}
	cfg.regs[IDETIM_PRI] = 0x80008000

	if err := c.AdapterControl(miniport.AdapterStart); err != nil {
		t.Fatal(err)
	}
	if cfg.regs[PCICMD] != 0x0005 {
		t.Errorf("PCICMD doubleword %#x, want I/O and bus master enable with the status written as zeros", cfg.regs[PCICMD])
	}
	if err := c.AdapterControl(miniport.AdapterPowerDown); err == nil {
		t.Error("IdePowerDown accepted")
	}

	sel := miniport.TransferModeSelect{
		Present:   [2]bool{true, true},
		ATAPI:     [2]bool{false, true},
		Supported: [2]miniport.TransferModes{miniport.PIOModes | miniport.MWDMAModes | miniport.UDMAModes, miniport.PIOModes | miniport.MWDMAModes},
		IORDY:     [2]bool{true, false},
	}
	if err := c.TransferModeSelect(1, &sel); err != nil {
		t.Fatal(err)
	}
	if sel.Selected[0] != miniport.PIO4|miniport.UDMA2 || sel.Selected[1] != miniport.PIO2|miniport.MWDMA2 {
		t.Errorf("selected %v and %v, want PIO4 UDMA2 and PIO2 MWDMA2 (no IORDY: no PIO3/4)", sel.Selected[0], sel.Selected[1])
	}
	idetimSec := uint16(cfg.regs[IDETIM_PRI] >> 16)
	if uint16(cfg.regs[IDETIM_PRI]) != 0x8000 {
		t.Errorf("primary IDETIM changed: %#x", uint16(cfg.regs[IDETIM_PRI]))
	}
	if idetimSec != 0xe3b7 {
		t.Errorf("secondary IDETIM %#04x, want 0xe3b7 (slave: TIME|IE|DTE, no PPE for ATAPI)", idetimSec)
	}
	if s := uint8(cfg.regs[SIDETIM] >> 4); s != 0xb {
		t.Errorf("secondary slave SIDETIM nibble %#x, want 0xb", s)
	}
	if ctl, tim := uint8(cfg.regs[UDMACTL]), uint16(cfg.regs[UDMACTL]>>16); ctl != 0x04 || tim != 0x0200 {
		t.Errorf("UDMACTL %#x UDMATIM %#x, want 0x04 0x0200", ctl, tim)
	}

	p3, _ := New(newConfig().pci(0x8086, 0x7010))
	sel = miniport.TransferModeSelect{Present: [2]bool{true}, Supported: [2]miniport.TransferModes{miniport.PIOModes | miniport.MWDMAModes | miniport.UDMAModes}, IORDY: [2]bool{true}}
	if err := p3.TransferModeSelect(0, &sel); err != nil || sel.Selected[0] != miniport.PIO4|miniport.MWDMA2 || sel.Selected[1] != 0 {
		t.Errorf("PIIX3 selected %v, %v (%v), want PIO4 MWDMA2 and nothing", sel.Selected[0], sel.Selected[1], err)
	}
}

// ChannelInit puts the generic SFF engine on the legacy ports with the PIIX
// overrides, which run: 32-bit PIO, and VMware's BMISX filter.
func TestChannelOverrides(t *testing.T) {
	for _, kind := range []struct {
		device, subVendor, subDevice uint16
		dmaOK                        bool
	}{
		{0x7010, 0, 0, false},
		{0x7111, 0x15ad, 0x1976, true},
	} {
		cfg := newConfig()
		p := cfg.pci(0x8086, kind.device)
		p.SubVendor, p.SubDevice = kind.subVendor, kind.subDevice
		c, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		d := &sfftest.Device{Spec: sfftest.IdentifySpec{Model: "D", Sectors28: 100, PIO4: true, MWDMA: 7, IORDY: true}, Capacity: 100, DMAError: true}
		mem := sfftest.NewMemory(0x50000000)
		bus := sfftest.NewBus(d, nil, mem)
		port := sfftest.NewPort(bus, mem)
		mch, info, err := c.ChannelInit(0, port)
		if err != nil || !info.DMA || info.MaxTransfer != 128*65536 || info.DMAAlignment != 2 || info.DMALimit != 1<<32 {
			t.Fatalf("ChannelInit: %v %+v", err, info)
		}
		id, _ := miniport.ParseIdentify(sfftest.BuildIdentify(d.Spec))
		if err := mch.Initialize(&miniport.DeviceParameters{Target: 0, Type: miniport.DeviceATA, Modes: miniport.PIO4 | miniport.MWDMA2, Identify: &id}); err != nil {
			t.Fatal(err)
		}
		props := c.Properties()
		run := func(flags miniport.Flags, cmd miniport.Command) *miniport.Request {
			ext, _ := mem.Reserve(props.RequestExtensionSize, props.RequestExtensionAlign)
			buf, _ := mem.Reserve(1024, 4096)
			req := &miniport.Request{Function: miniport.FunctionATA, Flags: flags, Extension: ext, Data: buf.Buf}
			req.TaskFile.SetLBA28(4, 2)
			req.TaskFile.Current.Command = uint8(cmd)
			if !mch.BuildIo(req) {
				t.Fatalf("BuildIo: %v", req.Status)
			}
			port.Run(func() { mch.StartIo(req) })
			for i := 0; i < 10 && req.Status == miniport.StatusPending; i++ {
				port.Run(func() { mch.Interrupt() })
			}
			return req
		}
		bus.ClearOps()
		req := run(miniport.FlagDataIn, miniport.READ_SECTORS)
		if req.Status != miniport.StatusSuccess || !bytes.Equal(req.Data[512:], sfftest.Pattern(5, 512)) {
			t.Errorf("%04x PIO read: %v", kind.device, req.Status)
		}
		for _, o := range bus.Ops() {
			if o.Len != 0 && o.Size != 4 {
				t.Errorf("%04x: PIO access %v, want 32-bit (the PIIX override)", kind.device, o)
			}
		}
		req = run(miniport.FlagDataIn|miniport.FlagDMA, miniport.READ_DMA)
		if ok := req.Status == miniport.StatusSuccess; ok != kind.dmaOK {
			t.Errorf("%04x DMA with IDEDMAERR: %v (host %#x), want success %v", kind.device, req.Status, req.HostStatus, kind.dmaOK)
		}
		if req.HostStatus&sff.IDEDMAERR != 0 && kind.dmaOK {
			t.Error("VMware filter let IDEDMAERR through")
		}
	}
}
