// Package ahci is the ATA miniport for Serial ATA host bus adapters that
// follow the Advanced Host Controller Interface, the SATA controller of
// nearly every PC since 2010 and of QEMU's q35 machine (ICH9 AHCI, PCI
// 8086:2922 at 00:1f.2). Each implemented port (PI) is one ataport
// channel with one device, target 0; the commands go to the device as
// Register Host-to-Device FISes from a command table per request, the
// data through its PRD table, and complete when their slot leaves PxCI.
//
// What the miniport keeps of the Windows model, as msahci (WDK 7600
// src/storage/msahci) keeps it:
//   - BuildIo writes the command FIS, the ATAPI packet and the PRD table
//     into the request's extension (its command table) and composes the
//     command header, touching nothing the ISR reads;
//   - StartIo, at DIRQL under the interrupt lock, claims a slot free in
//     PxCI, PxSACT and its own record, copies the header into the command
//     list and sets the slot's bit in PxCI;
//   - the ISR clears PxIS, then the port's bit in IS (IS last: it latches
//     while any enabled PxIS bit stays set, §10.7.2), and completes exactly
//     the slots that left PxCI;
//   - a fatal error (TFES, HBFS, HBDS, IFS) is not handled in the ISR:
//     the port's command list has stopped (§6.1.2), and the recovery
//     (§6.2.2.1: stop the port, clear PxSERR, COMRESET when the device
//     stays busy, restart; §6.2.2.2 after an NCQ error: READ LOG EXT of
//     the NCQ Command Error log names the failing tag) runs in a
//     synchronized routine with the interrupt masked, requested from a
//     timer routine.
//
// References:
//   - Serial ATA AHCI 1.3.1 Specification (Intel, 2011): §3 HBA memory
//     registers, §4.2 system memory structures, §5 data transfer
//     operation, §6 error and recovery, §10.1.2 system software specific
//     initialization, §10.4 resets, §10.6 BIOS/OS handoff, §10.7
//     interrupts.
//   - Serial ATA Revision 2.6: §10.3 FIS types and layouts, §13.6 native
//     command queuing (§13.6.3.3 the NCQ Command Error log).
//   - ATA/ATAPI Command Set (ATA8-ACS), T13/1699-D revision 6a.
//   - WDK 7600 msahci (entrypts.c AhciHwBuildIo, AhciHwStartIo,
//     AhciHwInterrupt; hbastat.c), and Linux drivers/ata/libahci.c
//     (ahci_port_start, ahci_stop_engine, ahci_do_hardreset,
//     ahci_qc_issue, ahci_port_intr) and ahci.h, whose choices are
//     followed where the specification leaves them open.
package ahci

import (
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// PCI describes the AHCI function to New; the board fills it from its PCI
// enumeration, and the miniport never imports a board package.
type PCI struct {
	Bus, Device, Function uint8
	Vendor, DeviceID      uint16
	Class                 uint32 // base class << 16 | sub-class << 8 | prog-if: 01 06 01
	ABAR                  uint64 // BAR5, the HBA's memory registers

	// Regs reaches the registers at ABAR.
	Regs Regs

	// Stall busy-waits; kernel.Stall when nil.
	Stall func(time.Duration)
}

// String returns "00:1f.2 8086:2922".
func (p *PCI) String() string {
	return fmt.Sprintf("%02x:%02x.%x %04x:%04x", p.Bus, p.Device, p.Function, p.Vendor, p.DeviceID)
}

// classAHCI is the class code of an AHCI 1.0 function: mass storage (01h),
// SATA (06h), AHCI programming interface (01h) (PCI Code and ID Assignment
// Specification; AHCI 1.3.1 §2.1.5 CC).
const classAHCI = 0x010601

// names maps PCI IDs to the controller's name in messages; any function of
// class classAHCI is driven, named "AHCI".
var names = []struct {
	vendor, device uint16
	name           string
}{
	{0x8086, 0x2922, "ICH9 AHCI"},
}

// Waits of the controller start and of the resets, with their sources.
const (
	hrTimeout    = time.Second            // §10.4.3: GHC.HR clears within 1 s
	bohcWait     = 25 * time.Millisecond  // §10.6.3: the BIOS sets BB within 25 ms
	bohcBusyWait = 2 * time.Second        // §10.6.3: then finishes within 2 s
	stopTimeout  = 500 * time.Millisecond // §10.1.2, §10.3.2: CR and FR clear within 500 ms
	comresetHold = time.Millisecond       // §10.4.2: DET=1 held at least 1 ms
	readyTimeout = time.Second            // BSY and DRQ clear after a COMRESET in a recovery, the device spinning already (§10.3.1)
	spinUpWait   = 10 * time.Second       // BSY and DRQ clear before the port's first start: a disk may still be spinning up (libata's first reset waits 10 s, ata_eh_reset_timeouts)
	logTimeout   = 100 * time.Millisecond // READ LOG EXT of page 10h after an NCQ error: the device answers from its own memory, in microseconds; a device that takes longer is treated as one without the log (COMRESET)
	pollInterval = 10 * time.Microsecond
)

// Debouncing of a link after a spin-up or a COMRESET, libata's normal
// timing (sata_deb_timing_normal, which sata_link_debounce uses).
const (
	debounceInterval = 5 * time.Millisecond   // PxSSTS.DET read every 5 ms
	debounceStable   = 100 * time.Millisecond // a DET other than 1 that held this long is the link's state
	debounceLimit    = 2 * time.Second        // DET 1 waits for Phy communication at most this long
)

// Controller is one AHCI HBA; it implements miniport.Controller.
type Controller struct {
	pci   PCI
	name  string
	regs  Regs
	stall func(time.Duration)

	cap, cap2, pi, vs uint32
	slots             int          // CAP.NCS + 1
	link              [32]uint32   // PxSSTS after the controller start
	ch                [32]*Channel // by port
}

var _ miniport.Controller = (*Controller)(nil)

// New checks the function described by pci and returns its miniport. It
// only reads CAP and PI (HwInit registers that an HBA reset keeps, §3.1.1,
// §3.1.4), for Properties; AdapterControl(AdapterStart) starts the HBA.
//
// Context: PASSIVE, IF=1; may block and allocate.
func New(pci PCI) (*Controller, error) {
	kernel.AssertMayBlock("ahci.New")
	switch {
	case pci.Class != classAHCI:
		return nil, fmt.Errorf("ahci: %s: class code 0x%06x is not AHCI 1.0 (01 06 01)", &pci, pci.Class)
	case pci.Regs == nil || pci.ABAR == 0:
		return nil, fmt.Errorf("ahci: %s: no ABAR (BAR5)", &pci)
	}
	c := &Controller{pci: pci, name: "AHCI", regs: pci.Regs, stall: pci.Stall}
	for _, n := range names {
		if n.vendor == pci.Vendor && n.device == pci.DeviceID {
			c.name = n.name
		}
	}
	if c.stall == nil {
		c.stall = kernel.Stall
	}
	c.cap, c.pi = c.regs.Read32(CAP), c.regs.Read32(PI)
	if c.pi == 0 {
		return nil, fmt.Errorf("ahci: %s: no port implemented (PI 0)", &pci)
	}
	return c, nil
}

// waitFor polls cond every pollInterval until it holds or d passed, and
// reports whether it held.
//
// Context: any IRQL; does not block or allocate; stalls at most d.
func waitFor(stall func(time.Duration), d time.Duration, cond func() bool) bool {
	for n := d / pollInterval; ; n-- {
		if cond() {
			return true
		}
		if n <= 0 {
			return false
		}
		stall(pollInterval)
	}
}

// Properties returns the controller's sizes: one channel per port up to
// the highest implemented one (CAP.NP and PI), and a command table of
// prdEntries PRD entries plus the command header in each request's
// extension.
//
// Context: PASSIVE, IF=1.
func (c *Controller) Properties() miniport.ControllerProperties {
	n := 0
	for p := 0; p < 32; p++ {
		if c.pi&(1<<p) != 0 {
			n = p + 1
		}
	}
	return miniport.ControllerProperties{
		Name:                  c.name,
		Channels:              n,
		RequestExtensionSize:  extSize,
		RequestExtensionAlign: cmdTableAlign,
	}
}

// AdapterControl starts the HBA on IdeStart (AtaAdapterControl; AHCI 1.3.1
// §10.1.2 with the handoff and reset before it):
//
//  1. BIOS/OS handoff when CAP2.BOH (§10.6.3): set BOHC.OOS, wait for the
//     BIOS to drop BOHC.BOS, longer while it shows BOHC.BB;
//  2. HBA reset (§10.4.3): GHC.AE, then GHC.HR, which clears within 1 s;
//  3. GHC.AE again (HR clears it on HBAs without CAP.SAM), and read CAP,
//     CAP2, PI and VS;
//  4. for each implemented port: make it idle (ST, CR, FRE, FR clear,
//     §10.3.2), spin the device up when CAP.SSS (PxCMD.SUD), wait for
//     the link (PxSSTS.DET = 3) and clear PxSERR and PxIS.
//
// The interrupt stays disabled (GHC.IE clear, as HR leaves it) until the
// port has connected it and a channel's HwControl(IdeStart) enables it.
// Other actions are not supported.
//
// Context: PASSIVE, IF=1; may block.
func (c *Controller) AdapterControl(action miniport.AdapterAction) error {
	kernel.AssertLevel("ahci.AdapterControl", kernel.PASSIVE, kernel.PASSIVE)
	if action != miniport.AdapterStart {
		return errors.New("ahci: " + action.String() + " is not supported")
	}
	r := c.regs
	// 1.
	if r.Read32(CAP2)&(1<<CAP2_BOH) != 0 {
		r.Write32(BOHC, r.Read32(BOHC)|1<<BOHC_OOS)
		bosClear := func() bool { return r.Read32(BOHC)&(1<<BOHC_BOS) == 0 }
		if !waitFor(c.stall, bohcWait, bosClear) {
			if r.Read32(BOHC)&(1<<BOHC_BB) == 0 || !waitFor(c.stall, bohcBusyWait, bosClear) {
				return fmt.Errorf("ahci: %s: the BIOS keeps the HBA (BOHC 0x%x after the OS ownership request)", &c.pci, r.Read32(BOHC))
			}
		}
	}
	// 2.
	r.Write32(GHC, r.Read32(GHC)|1<<GHC_AE)
	r.Write32(GHC, r.Read32(GHC)|1<<GHC_HR)
	if !waitFor(c.stall, hrTimeout, func() bool { return r.Read32(GHC)&(1<<GHC_HR) == 0 }) {
		return fmt.Errorf("ahci: %s: GHC.HR still set 1 s after the HBA reset", &c.pci)
	}
	// 3.
	r.Write32(GHC, r.Read32(GHC)|1<<GHC_AE)
	c.cap, c.cap2, c.pi, c.vs = r.Read32(CAP), r.Read32(CAP2), r.Read32(PI), r.Read32(VS)
	c.slots = int(c.cap>>CAP_NCS&capNCSMsk) + 1
	// 4.
	for p := 0; p < 32; p++ {
		if c.pi&(1<<p) == 0 {
			continue
		}
		if err := c.idle(p); err != nil {
			return err
		}
		if c.cap&(1<<CAP_SSS) != 0 {
			b := portBase(p)
			r.Write32(b+PxCMD, r.Read32(b+PxCMD)|1<<PxCMD_SUD|1<<PxCMD_POD)
		}
	}
	c.settle(c.pi)
	for p := 0; p < 32; p++ {
		if c.pi&(1<<p) == 0 {
			continue
		}
		b := portBase(p)
		c.link[p] = r.Read32(b + PxSSTS)
		r.Write32(b+PxSERR, 0xffffffff)
		r.Write32(b+PxIS, 0xffffffff)
	}
	r.Write32(IS, 0xffffffff)
	return nil
}

// settle waits until the link of each port in ports has settled
// (PxSSTS.DET, §3.3.10), all at once, as libata's sata_link_debounce
// waits for one link: DET 3 (a device and Phy communication) at once, any
// other value once it has held for debounceStable, but DET 1 (a device
// whose Phy communication is not yet up) is waited on up to
// debounceLimit. Empty ports so cost the controller start 100 ms in all,
// not each, and a drive slow to bring its link up is found.
//
// Context: PASSIVE, or the channel's DIRQL with the line masked and its
// lock held (one port's COMRESET); does not block or allocate; stalls at
// most debounceLimit.
func (c *Controller) settle(ports uint32) {
	var last [32]uint32
	var since [32]time.Duration
	for p := range last {
		last[p] = ^uint32(0)
	}
	for t := time.Duration(0); ports != 0 && t <= debounceLimit; t += debounceInterval {
		for q := ports; q != 0; q &= q - 1 {
			p := bits.TrailingZeros32(q)
			det := c.regs.Read32(portBase(p)+PxSSTS) & sstsDETMask
			switch {
			case det == detPresent:
				ports &^= 1 << p
			case det != last[p]:
				last[p], since[p] = det, t
			case det != detNoPhy && t-since[p] >= debounceStable:
				ports &^= 1 << p
			}
		}
		if ports != 0 && t < debounceLimit {
			c.stall(debounceInterval)
		}
	}
}

// idle stops port p's command list and FIS receive (§10.1.2 step 3,
// §10.3.2): clear PxCMD.ST and wait for CR, clear FRE and wait for FR.
//
// Context: PASSIVE, or the port's DIRQL with the line masked; does not
// block or allocate; stalls at most 1 s.
func (c *Controller) idle(p int) error {
	r, b := c.regs, portBase(p)
	cmd := r.Read32(b + PxCMD)
	if cmd&(1<<PxCMD_ST|1<<PxCMD_CR) != 0 {
		r.Write32(b+PxCMD, cmd&^(1<<PxCMD_ST))
		if !waitFor(c.stall, stopTimeout, func() bool { return r.Read32(b+PxCMD)&(1<<PxCMD_CR) == 0 }) {
			return fmt.Errorf("ahci: %s port %d: PxCMD.CR still set 500 ms after ST was cleared", &c.pci, p)
		}
	}
	cmd = r.Read32(b + PxCMD)
	if cmd&(1<<PxCMD_FRE|1<<PxCMD_FR) != 0 {
		r.Write32(b+PxCMD, cmd&^(1<<PxCMD_FRE))
		if !waitFor(c.stall, stopTimeout, func() bool { return r.Read32(b+PxCMD)&(1<<PxCMD_FR) == 0 }) {
			return fmt.Errorf("ahci: %s port %d: PxCMD.FR still set 500 ms after FRE was cleared", &c.pci, p)
		}
	}
	return nil
}

// ChannelEnabled reports a port that is implemented (PI) and had a link
// when the controller started (PxSSTS.DET = 3) as enabled
// (AtaControllerChannelEnabled): without a device on it the port has
// nothing to offer, hot plug being out of scope.
//
// Context: PASSIVE, IF=1, no interrupt connected yet; may block.
func (c *Controller) ChannelEnabled(ch int) miniport.ChannelState {
	kernel.AssertLevel("ahci.ChannelEnabled", kernel.PASSIVE, kernel.PASSIVE)
	if ch < 0 || ch > 31 || c.pi&(1<<ch) == 0 || c.link[ch]&sstsDETMask != detPresent {
		return miniport.ChannelDisabled
	}
	return miniport.ChannelEnabled
}

// TransferModeSelect picks each device's fastest PIO and DMA modes
// (AtaControllerTransferModeSelect). An AHCI port has no timings to
// program: the link runs at its negotiated speed whatever the ATA mode,
// which devices accept for compatibility.
//
// Context: PASSIVE, IF=1, no request in flight on the channel; may block.
func (c *Controller) TransferModeSelect(ch int, sel *miniport.TransferModeSelect) error {
	kernel.AssertLevel("ahci.TransferModeSelect", kernel.PASSIVE, kernel.PASSIVE)
	for dev := range sel.Selected {
		sel.Selected[dev] = 0
		if !sel.Present[dev] {
			continue
		}
		m := sel.Supported[dev].Best()
		if m.PIO() == 0 {
			m |= miniport.PIO0
		}
		sel.Selected[dev] = m
	}
	return nil
}

// SetInterrupt sets or clears GHC.IE, the HBA's one interrupt enable
// (§3.1.2), and returns the bit read back. With a single MSI message and
// no per-vector mask (QEMU's ICH9 has none), it is the mask that
// synchronized routines use.
//
// Context: any IRQL; the caller holds the interrupt lock, or no interrupt
// is connected yet; does not block or allocate.
func (c *Controller) SetInterrupt(on bool) bool {
	v := c.regs.Read32(GHC)
	if on {
		v |= 1 << GHC_IE
	} else {
		v &^= 1 << GHC_IE
	}
	c.regs.Write32(GHC, v|1<<GHC_AE)
	return c.InterruptEnabled()
}

// InterruptEnabled reads GHC.IE back.
//
// Context: any IRQL; does not block or allocate.
func (c *Controller) InterruptEnabled() bool {
	return c.regs.Read32(GHC)&(1<<GHC_IE) != 0
}

// Name returns the controller's name: "ICH9 AHCI".
func (c *Controller) Name() string { return c.name }

// String describes the HBA: "ICH9 AHCI 00:1f.2 8086:2922 ABAR 0xfebd5000,
// AHCI 1.0, 6 ports (PI 0x3f), 32 slots, NCQ, up to 1.5 Gb/s (Gen 1)".
func (c *Controller) String() string {
	ncq := ""
	if c.cap&(1<<CAP_SNCQ) != 0 {
		ncq = ", NCQ"
	}
	return fmt.Sprintf("%s %s ABAR %#x, AHCI %d.%d, %d ports (PI %#x), %d slots%s, up to %s",
		c.name, &c.pci, c.pci.ABAR, c.vs>>16, c.vs>>8&0xff, c.cap&0x1f+1, c.pi, c.slots, ncq,
		speedName(c.cap>>CAP_ISS&0xf))
}

// DescribeChannel describes port ch as it is now
// (miniport.ChannelDescriber): "port 0, SATA link 1.5 Gb/s (Gen 1)" from
// PxSSTS.SPD, or why it has no link, from PxSSTS.DET (§3.3.10).
//
// Context: PASSIVE, IF=1; allocates.
func (c *Controller) DescribeChannel(ch int) string {
	if ch < 0 || ch > 31 || c.pi&(1<<ch) == 0 {
		return fmt.Sprintf("port %d, not implemented (PI %#x)", ch, c.pi)
	}
	ssts := c.regs.Read32(portBase(ch) + PxSSTS)
	switch det := ssts & sstsDETMask; det {
	case detPresent:
		return fmt.Sprintf("port %d, SATA link %s", ch, speedName(ssts>>PxSSTS_SPD&0xf))
	case detNone:
		return fmt.Sprintf("port %d, no device (PxSSTS.DET 0)", ch)
	case detNoPhy:
		return fmt.Sprintf("port %d, device present but no Phy communication (PxSSTS.DET 1)", ch)
	case detOffline:
		return fmt.Sprintf("port %d, Phy offline (PxSSTS.DET 4)", ch)
	default:
		return fmt.Sprintf("port %d, no link (PxSSTS.DET %d, reserved)", ch, det)
	}
}
