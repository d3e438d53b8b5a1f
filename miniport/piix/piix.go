// Package piix is the ATA miniport for the Intel PIIX family of PCI IDE
// functions in compatibility mode: PIIX3 (82371SB, 8086:7010, the IDE
// controller of QEMU's pc machine) and PIIX4 (82371AB, 8086:7111). Both
// channels use the legacy ports (primary 0x1F0/0x3F6 on ISA IRQ 14,
// secondary 0x170/0x376 on IRQ 15), and the bus-master block is at BMIBA
// from BAR4. The task-file protocols and SFF-8038i bus-master DMA come
// from package sff; this package adds only the PCI IDs, the capability
// table, the IDETIM/SIDETIM (and PIIX4 UDMA) timings and the errata.
//
// References:
//   - Intel 82371FB (PIIX) and 82371SB (PIIX3) PCI ISA IDE Xcelerator
//     datasheet, order 290550-002: "PCI Configuration Registers - IDE
//     Interface" (IDETIM 40-43h, SIDETIM 44h, BMIBA 20-23h), "PCI Bus Master
//     IDE Registers", and the IDE interface description (legacy decode).
//   - Intel 82371AB PCI-TO-ISA / IDE Xcelerator (PIIX4) datasheet, order
//     290562-001: UDMACTL 48h, UDMATIM 4A-4Bh.
//   - SFF-8038i rev 1.0, Bus Master Programming Interface for IDE ATA
//     Controllers.
//   - Linux drivers/ata/ata_piix.c: the capability table (piix_pata_mwdma,
//     piix_pata_33, piix_pata_vmw), piix_set_piomode, do_pata_set_dmamode,
//     piix_vmw_bmdma_status, and the use of 32-bit PIO
//     (ata_bmdma32_port_ops).
package piix

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff"
)

// Compatibility-mode resources of the two channels (PIIX datasheet, IDE legacy
// decode): command block, control block, ISA IRQ.
var (
	CommandBlock = [2]uint16{0x1f0, 0x170}
	ControlBlock = [2]uint16{0x3f6, 0x376}
	CompatIRQ    = [2]uint32{14, 15}
)

// PCI configuration fields the miniport reads (PCI Local Bus Specification
// 3.0, 6.1; PIIX datasheet, IDE configuration registers).
const (
	classIDE      = 0x0101 // base class 01h (mass storage), sub-class 01h (IDE)
	progIFNative  = 0x05   // prog-if bits 0 and 2: a channel in native-PCI mode
	bar4I         = 1 << 0 // BAR4 bit 0: I/O space
	bmibaMask     = 0xfff0 // BMIBA bits 15:4 (PIIX datasheet, BMIBA)
	bmChannelSize = 8      // each channel's bus-master block (SFF-8038i)
	prdEntries    = 129    // descriptors per request: 8 MiB of one buffer at any even address, split at 64 KiB boundaries
)

// PCI is what the board tells the miniport about the IDE function; the
// board fills it from its PCI enumeration. The miniport never imports a
// board package.
type PCI struct {
	Bus, Device, Function uint8
	Vendor, DeviceID      uint16 // configuration offsets 00h, 02h
	SubVendor, SubDevice  uint16 // 2Ch, 2Eh (the VMware quirk needs them)
	Class                 uint32 // 09h-0Bh: base class << 16 | sub-class << 8 | prog-if
	BAR4                  uint32 // 20h: BMIBA, I/O space (bit 0 set); 0 for no bus master

	// Read32 and Write32 access the function's configuration space by
	// doublewords (off is rounded down to a multiple of 4).
	//
	// Context: PASSIVE, IF=1 (the miniport calls them only there).
	Read32  func(off uint8) uint32
	Write32 func(off uint8, v uint32)
}

// String returns "00:01.1 8086:7010".
func (p *PCI) String() string {
	return fmt.Sprintf("%02x:%02x.%x %04x:%04x", p.Bus, p.Device, p.Function, p.Vendor, p.DeviceID)
}

// Kind is one entry of the capability table: what a PIIX variant can do
// (libata's ata_port_info).
type Kind struct {
	Name  string
	Modes miniport.TransferModes // PIO, MWDMA and UDMA modes the controller times
	UDMA  bool                   // UDMACTL/UDMATIM exist (PIIX4)

	// BMStatus overrides the generic BMISX read (sff.Hooks.BMStatus), nil
	// for none.
	BMStatus func(p *sff.Ports) uint8
}

// Capability table (ata_piix.c piix_port_info): PIIX3 does PIO4 and MWDMA1-2
// (piix_pata_mwdma: mwdma_mask ATA_MWDMA12_ONLY, MWDMA0 being slower than
// PIO0's timing allows); PIIX4 adds UDMA0-2 (piix_pata_33); VMware's
// emulated PIIX4 needs its BMISX error bit ignored (piix_pata_vmw).
var (
	PIIX3 = Kind{
		Name:  "PIIX3",
		Modes: miniport.PIOModes | miniport.MWDMA1 | miniport.MWDMA2,
	}
	PIIX4 = Kind{
		Name:  "PIIX4",
		Modes: miniport.PIOModes | miniport.MWDMA1 | miniport.MWDMA2 | miniport.UDMA0 | miniport.UDMA1 | miniport.UDMA2,
		UDMA:  true,
	}
	PIIX4VMware = Kind{
		Name:     "PIIX4 (VMware)",
		Modes:    PIIX4.Modes,
		UDMA:     true,
		BMStatus: vmwBMStatus,
	}
)

// ids maps PCI IDs to kinds, most specific first (ata_piix.c piix_pci_tbl).
var ids = []struct {
	vendor, device       uint16
	subVendor, subDevice uint16 // 0: any
	kind                 *Kind
}{
	{0x8086, 0x7010, 0, 0, &PIIX3},
	{0x8086, 0x7111, 0x15ad, 0x1976, &PIIX4VMware},
	{0x8086, 0x7111, 0, 0, &PIIX4},
}

// Lookup returns the kind of the IDE function with these IDs.
func Lookup(vendor, device, subVendor, subDevice uint16) (*Kind, bool) {
	for _, e := range ids {
		if e.vendor == vendor && e.device == device &&
			(e.subVendor == 0 || e.subVendor == subVendor && e.subDevice == subDevice) {
			return e.kind, true
		}
	}
	return nil, false
}

// vmwBMStatus reads BMISX without IDEDMAERR: VMware's emulated PIIX4 sets
// that bit spuriously (ata_piix.c piix_vmw_bmdma_status).
//
// Context: the channel's DIRQL with its interrupt lock held; does not block
// or allocate.
func vmwBMStatus(p *sff.Ports) uint8 {
	return p.BMStatus() &^ sff.IDEDMAERR
}

var _ miniport.Controller = (*Controller)(nil)

// Controller is one PIIX IDE function: it implements miniport.Controller.
type Controller struct {
	pci  PCI
	kind *Kind
	bm   uint16 // BMIBA, 0 without a bus master

	// mu serialises the read-modify-write of IDETIM, SIDETIM and the UDMA
	// registers, which both channels share (ata_piix.c's piix_lock).
	mu sync.Mutex
}

// New checks the function described by pci and returns its miniport.
//
// Context: PASSIVE, IF=1; may block and allocate.
func New(pci PCI) (*Controller, error) {
	kernel.AssertMayBlock("piix.New")
	kind, ok := Lookup(pci.Vendor, pci.DeviceID, pci.SubVendor, pci.SubDevice)
	switch {
	case !ok:
		return nil, fmt.Errorf("piix: %s is not a PIIX3/PIIX4 IDE function", &pci)
	case pci.Read32 == nil || pci.Write32 == nil:
		return nil, fmt.Errorf("piix: %s: configuration space access functions missing", &pci)
	case pci.Class>>8 != classIDE:
		return nil, fmt.Errorf("piix: %s: class code 0x%06x is not an IDE controller (01 01 xx)", &pci, pci.Class)
	case pci.Class&progIFNative != 0:
		return nil, fmt.Errorf("piix: %s: prog-if 0x%02x puts a channel in native-PCI mode; only compatibility mode is supported", &pci, pci.Class&0xff)
	}
	c := &Controller{pci: pci, kind: kind}
	if pci.BAR4&bar4I != 0 {
		c.bm = uint16(pci.BAR4 & bmibaMask)
	}
	return c, nil
}

// Kind returns the controller's capability table entry.
func (c *Controller) Kind() *Kind { return c.kind }

// BusMaster returns BMIBA, 0 when the function has no bus master.
func (c *Controller) BusMaster() uint16 { return c.bm }

// Properties returns the controller's sizes: two channels, and a PRD table
// of prdEntries descriptors in each request's extension.
//
// Context: PASSIVE, IF=1.
func (c *Controller) Properties() miniport.ControllerProperties {
	size, align := sff.PRDTableLayout(prdEntries)
	return miniport.ControllerProperties{
		Name:                  c.kind.Name,
		Channels:              2,
		RequestExtensionSize:  size,
		RequestExtensionAlign: align,
	}
}

// idetimReg returns the offset of channel ch's IDETIM register.
func idetimReg(ch int) uint8 {
	if ch == 1 {
		return IDETIM_SEC
	}
	return IDETIM_PRI
}

// read16 and read8 read a configuration register of 16 or 8 bits through
// the doubleword access the board gives (PCI 3.0 3.2.2.3.2: byte lanes of
// CONFIG_DATA).
//
// Context: PASSIVE.
func (c *Controller) read16(off uint8) uint16 {
	return uint16(c.pci.Read32(off&^3) >> (8 * (off & 3)))
}

func (c *Controller) read8(off uint8) uint8 {
	return uint8(c.pci.Read32(off&^3) >> (8 * (off & 3)))
}

// write16 and write8 change one configuration register of 16 or 8 bits by a
// read-modify-write of its doubleword, with c.mu held: the other registers
// of the doubleword may belong to the other channel.
//
// Context: PASSIVE, c.mu held.
func (c *Controller) write16(off uint8, v uint16) {
	shift := 8 * (off & 3)
	d := c.pci.Read32(off&^3)&^(0xffff<<shift) | uint32(v)<<shift
	c.pci.Write32(off&^3, d)
}

func (c *Controller) write8(off uint8, v uint8) {
	shift := 8 * (off & 3)
	d := c.pci.Read32(off&^3)&^(0xff<<shift) | uint32(v)<<shift
	c.pci.Write32(off&^3, d)
}

// ChannelEnabled reports the IDE decode enable bit of the channel's IDETIM
// (AtaControllerChannelEnabled; IDETIM bit 15): a channel the
// BIOS turned off does not decode its legacy ports.
//
// Context: PASSIVE, IF=1, no interrupt connected yet; may block.
func (c *Controller) ChannelEnabled(ch int) miniport.ChannelState {
	kernel.AssertLevel("piix.ChannelEnabled", kernel.PASSIVE, kernel.PASSIVE)
	if ch < 0 || ch > 1 {
		return miniport.ChannelDisabled
	}
	if c.read16(idetimReg(ch))&(1<<IDE) == 0 {
		return miniport.ChannelDisabled
	}
	return miniport.ChannelEnabled
}

// ChannelInit sets up channel ch on the generic SFF engine with the PIIX
// overrides: 32-bit PIO data transfers (the PIIX data port takes
// doubleword accesses; ata_piix uses ata_bmdma32_port_ops) and the kind's
// BMISX quirk (AtaChannelInitRoutine).
//
// Context: PASSIVE, IF=1, the channel's interrupt not connected; may block
// and allocate.
func (c *Controller) ChannelInit(ch int, port miniport.Port) (miniport.Channel, miniport.ChannelInfo, error) {
	kernel.AssertLevel("piix.ChannelInit", kernel.PASSIVE, kernel.PASSIVE)
	if ch < 0 || ch > 1 {
		return nil, miniport.ChannelInfo{}, fmt.Errorf("piix: no channel %d", ch)
	}
	cfg := sff.Config{
		Ports: sff.Ports{IO: port.IO(), Cmd: CommandBlock[ch], Ctl: ControlBlock[ch]},
		Port:  port,
		Hooks: sff.Hooks{DataXfer: sff.DataXfer32, BMStatus: c.kind.BMStatus},
	}
	info := miniport.ChannelInfo{}
	if c.bm != 0 {
		cfg.Ports.BM = c.bm + uint16(ch)*bmChannelSize
		cfg.PRDEntries = prdEntries
		info.DMA = true
		info.MaxTransfer = (prdEntries - 1) * 0x10000
		info.DMAAlignment = sff.PRDAlign
		info.DMALimit = sff.PRDAddrLimit
	}
	sc, err := sff.NewChannel(cfg)
	if err != nil {
		return nil, info, err
	}
	return sc, info, nil
}

// TransferModeSelect picks for each present device the fastest PIO mode
// and the fastest DMA mode that both it and the controller support (PIO3
// and PIO4 only with IORDY, ATA-2), and programs the channel's timing
// registers for them (AtaControllerTransferModeSelect).
//
// Context: PASSIVE, IF=1, no request in flight on the channel; may block.
func (c *Controller) TransferModeSelect(ch int, sel *miniport.TransferModeSelect) error {
	kernel.AssertLevel("piix.TransferModeSelect", kernel.PASSIVE, kernel.PASSIVE)
	if ch < 0 || ch > 1 {
		return fmt.Errorf("piix: no channel %d", ch)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	idetim, sidetim := c.read16(idetimReg(ch)), c.read8(SIDETIM)
	udmactl, udmatim := c.read8(UDMACTL), c.read16(UDMATIM)
	for dev := 0; dev < 2; dev++ {
		sel.Selected[dev] = 0
		if !sel.Present[dev] {
			continue
		}
		usable := sel.Supported[dev] & c.kind.Modes
		if !sel.IORDY[dev] {
			usable &^= miniport.PIO3 | miniport.PIO4
		}
		if c.bm == 0 {
			usable &^= miniport.DMAModes
		}
		modes := usable.Best()
		if modes.PIO() == 0 {
			modes |= miniport.PIO0
		}
		sel.Selected[dev] = modes
		idetim, sidetim = timing(idetim, sidetim, ch, dev, modes, sel.ATAPI[dev])
		if c.kind.UDMA {
			udmactl, udmatim = udmaTiming(udmactl, udmatim, ch, dev, modes)
		}
	}
	c.write16(idetimReg(ch), idetim)
	c.write8(SIDETIM, sidetim)
	if c.kind.UDMA {
		c.write8(UDMACTL, udmactl)
		c.write16(UDMATIM, udmatim)
	}
	return nil
}

// AdapterControl handles AtaAdapterControl. IdeStart sets I/O space enable
// and bus master enable in PCICMD, which a BIOS may have left clear. Other
// actions are not supported.
//
// Context: PASSIVE, IF=1; may block.
func (c *Controller) AdapterControl(action miniport.AdapterAction) error {
	kernel.AssertLevel("piix.AdapterControl", kernel.PASSIVE, kernel.PASSIVE)
	if action != miniport.AdapterStart {
		return errors.New("piix: " + action.String() + " is not supported")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cmd := c.read16(PCICMD) | 1<<PCICMD_IOSE
	if c.bm != 0 {
		cmd |= 1 << PCICMD_BME
	}
	// The status register shares the doubleword: write16 writes its
	// write-one-to-clear bits back as read, so set ones would be
	// cleared; write zeros there instead.
	c.pci.Write32(PCICMD, uint32(cmd))
	return nil
}
