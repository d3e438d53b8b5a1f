package piix

import "github.com/ataport/firmware/miniport"

// IDE timing registers in PCI configuration space (82371FB/82371SB PIIX/PIIX3
// datasheet, "IDETIM - IDE Timing Register" and "SIDETIM - Slave IDE Timing
// Register"; 82371AB PIIX4 datasheet, "UDMACTL" and "UDMATIM").
const (
	IDETIM_PRI = 0x40 // 16 bits, primary channel
	IDETIM_SEC = 0x42 // 16 bits, secondary channel
	SIDETIM    = 0x44 // 8 bits, slave timings of both channels (PIIX3 and later)
	UDMACTL    = 0x48 // 8 bits, Ultra DMA/33 enable per drive (PIIX4)
	UDMATIM    = 0x4a // 16 bits, Ultra DMA/33 cycle time per drive (PIIX4)
	PCICMD     = 0x04 // 16 bits, PCI Command register
)

// IDETIM fields (bit positions; ISP and RTC are two bits wide).
const (
	TIME0 = 0 // fast timing bank, drive 0
	IE0   = 1 // IORDY sample point enable, drive 0
	PPE0  = 2 // prefetch and posting enable, drive 0
	DTE0  = 3 // fast timing for DMA only, drive 0 (PIO runs compatible timing)
	TIME1 = 4 // drive 1 fields, as for drive 0
	IE1   = 5
	PPE1  = 6
	DTE1  = 7
	RTC   = 8  // recovery time: 00 = 4 clocks ... 11 = 1 clock
	ISP   = 12 // IORDY sample point: 00 = 5 clocks ... 11 = 2 clocks
	SITRE = 14 // slave timings come from SIDETIM
	IDE   = 15 // IDE decode enable: the channel's legacy ports decode
)

// SIDETIM fields: the slave's ISP and RTC, at bit 0 for the primary and
// bit 4 for the secondary channel.
const (
	SIDETIM_RTC = 0
	SIDETIM_ISP = 2
	SIDETIM_SEC = 4 // shift of the secondary channel's nibble
)

// PCICMD bits (PCI Local Bus Specification 3.0, 6.2.2).
const (
	PCICMD_IOSE = 0 // I/O space enable
	PCICMD_BME  = 2 // bus master enable
)

// pioTimings are the ISP and RTC field values for PIO modes 0 to 4, from
// the PIIX datasheet's timing table as ata_piix.c (piix_set_piomode) and
// the earlier drivers/ide piix.c transcribe it: { ISP, RTC }.
var pioTimings = [5][2]uint16{{0, 0}, {0, 0}, {1, 0}, {2, 1}, {2, 3}}

// mwdmaPIO is the PIO mode whose timing a multiword DMA mode needs
// (ata_piix.c do_pata_set_dmamode: MWDMA runs on the PIO timings, 0 -> PIO0,
// 1 -> PIO3, 2 -> PIO4).
var mwdmaPIO = [3]int{0, 3, 4}

// timing computes the IDETIM and SIDETIM values that program drive dev (0
// or 1) of channel ch for modes (one PIO mode and at most one DMA mode),
// starting from the current values, following the PIIX datasheet and
// ata_piix.c's piix_set_piomode / do_pata_set_dmamode:
//
//  1. the timing comes from the PIO mode, or, with a multiword DMA mode,
//     from the PIO mode that DMA mode needs; with a PIO mode slower than
//     that, DTE keeps PIO on compatible timing;
//  2. TIME is set from PIO2 (or any MWDMA) up, IE from PIO3 up (IORDY) and
//     with MWDMA, PPE for ATA disks only (Intel: prefetch is for disks);
//  3. drive 0 takes ISP and RTC in IDETIM, drive 1 in its SIDETIM nibble,
//     and SITRE is set so that the two are independent.
func timing(idetim uint16, sidetim uint8, ch, dev int, modes miniport.TransferModes, atapi bool) (uint16, uint8) {
	// 1.
	pio := modes.PIO().Number()
	if pio < 0 {
		pio = 0
	}
	t, dte := pio, false
	if m := modes & miniport.MWDMAModes; m != 0 {
		t = mwdmaPIO[m.Number()]
		dte = pio < t
	}
	// 2.
	var control uint16
	if t >= 2 || modes&miniport.MWDMAModes != 0 {
		control |= 1 << TIME0
	}
	if t >= 3 || modes&miniport.MWDMAModes != 0 {
		control |= 1 << IE0
	}
	if !atapi {
		control |= 1 << PPE0
	}
	if dte {
		control |= 1 << DTE0
	}
	// 3.
	isp, rtc := pioTimings[t][0], pioTimings[t][1]
	if dev == 0 {
		idetim &^= 3<<ISP | 3<<RTC | 0xf<<TIME0
		idetim |= isp<<ISP | rtc<<RTC | control<<TIME0
	} else {
		idetim &^= 0xf << TIME1
		idetim |= control << TIME1
		shift := uint(0)
		if ch == 1 {
			shift = SIDETIM_SEC
		}
		sidetim &^= 0xf << shift
		sidetim |= uint8(isp<<SIDETIM_ISP|rtc<<SIDETIM_RTC) << shift
	}
	idetim |= 1 << SITRE
	return idetim, sidetim
}

// udmaTiming computes UDMACTL and UDMATIM for drive dev of channel ch
// (82371AB PIIX4 datasheet, UDMACTL and UDMATIM; ata_piix.c
// do_pata_set_dmamode): the drive's enable bit 2*ch+dev in UDMACTL is set
// for an Ultra DMA mode and cleared otherwise, and its two-bit cycle time
// field at bit 4*(2*ch+dev) of UDMATIM is the mode number (0: 4 clocks,
// 1: 3 clocks, 2: 2 clocks of 33 MHz).
func udmaTiming(ctl uint8, tim uint16, ch, dev int, modes miniport.TransferModes) (uint8, uint16) {
	drive := uint(2*ch + dev)
	ctl &^= 1 << drive
	tim &^= 3 << (4 * drive)
	if u := modes & miniport.UDMAModes; u != 0 {
		ctl |= 1 << drive
		tim |= uint16(u.Number()) << (4 * drive)
	}
	return ctl, tim
}
