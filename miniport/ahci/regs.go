package ahci

// Regs reads and writes the HBA's memory registers (ABAR, BAR5): aligned
// 32-bit accesses at an offset from ABAR (AHCI 1.3.1 §3: "all registers
// ... shall be accessed as DWORDs"). MMIO implements it on the firmware;
// host tests give a fake HBA.
type Regs interface {
	Read32(off uint32) uint32
	Write32(off uint32, v uint32)
}

// Generic Host Control registers (AHCI 1.3.1 §3.1), offsets from ABAR.
const (
	CAP     = 0x00 // §3.1.1 HBA Capabilities
	GHC     = 0x04 // §3.1.2 Global HBA Control
	IS      = 0x08 // §3.1.3 Interrupt Status (one bit per port, RWC)
	PI      = 0x0c // §3.1.4 Ports Implemented
	VS      = 0x10 // §3.1.5 Version
	CAP2    = 0x24 // §3.1.10 HBA Capabilities Extended
	BOHC    = 0x28 // §3.1.11 BIOS/OS Handoff Control and Status
	portReg = 0x100
	portLen = 0x80 // §3.3: port x's registers at 100h + x*80h
)

// CAP bits (§3.1.1).
const (
	CAP_S64A  = 31 // 64-bit addressing
	CAP_SNCQ  = 30 // native command queuing
	CAP_SSS   = 27 // staggered spin-up
	CAP_SAM   = 18 // AHCI mode only
	CAP_ISS   = 20 // interface speed support, bits 23:20
	CAP_NCS   = 8  // number of command slots - 1, bits 12:8
	CAP_NP    = 0  // number of ports - 1, bits 4:0
	capNCSMsk = 0x1f
)

// GHC bits (§3.1.2).
const (
	GHC_AE = 31 // AHCI enable
	GHC_IE = 1  // interrupt enable
	GHC_HR = 0  // HBA reset
)

// CAP2 bits (§3.1.10).
const (
	CAP2_BOH = 0 // BIOS/OS handoff
)

// BOHC bits (§3.1.11).
const (
	BOHC_BB  = 4 // BIOS busy
	BOHC_OOC = 3 // OS ownership change
	BOHC_OOS = 1 // OS owned semaphore
	BOHC_BOS = 0 // BIOS owned semaphore
)

// Port registers (§3.3), offsets from the port's base.
const (
	PxCLB  = 0x00 // §3.3.1 Command List Base Address (1 KiB aligned)
	PxCLBU = 0x04 // §3.3.2 upper 32 bits
	PxFB   = 0x08 // §3.3.3 FIS Base Address (256-byte aligned)
	PxFBU  = 0x0c // §3.3.4 upper 32 bits
	PxIS   = 0x10 // §3.3.5 Interrupt Status (RWC)
	PxIE   = 0x14 // §3.3.6 Interrupt Enable
	PxCMD  = 0x18 // §3.3.7 Command and Status
	PxTFD  = 0x20 // §3.3.8 Task File Data
	PxSIG  = 0x24 // §3.3.9 Signature
	PxSSTS = 0x28 // §3.3.10 Serial ATA Status (SStatus)
	PxSCTL = 0x2c // §3.3.11 Serial ATA Control (SControl)
	PxSERR = 0x30 // §3.3.12 Serial ATA Error (SError, RWC)
	PxSACT = 0x34 // §3.3.13 Serial ATA Active (SActive)
	PxCI   = 0x38 // §3.3.14 Command Issue
)

// PxIS and PxIE bits (§3.3.5, §3.3.6).
const (
	PxIS_CPDS = 31 // cold port detect
	PxIS_TFES = 30 // task file error: the device set ERR or DF in STATUS
	PxIS_HBFS = 29 // host bus fatal error
	PxIS_HBDS = 28 // host bus data error
	PxIS_IFS  = 27 // interface fatal error
	PxIS_INFS = 26 // interface non-fatal error
	PxIS_OFS  = 24 // overflow: the device sent more data than the PRDT holds
	PxIS_IPMS = 23 // incorrect port multiplier status
	PxIS_PRCS = 22 // PhyRdy change
	PxIS_DMPS = 7  // device mechanical presence
	PxIS_PCS  = 6  // port connect change
	PxIS_DPS  = 5  // descriptor processed
	PxIS_UFS  = 4  // unknown FIS
	PxIS_SDBS = 3  // set device bits FIS (NCQ completions)
	PxIS_DSS  = 2  // DMA setup FIS
	PxIS_PSS  = 1  // PIO setup FIS
	PxIS_DHRS = 0  // device to host register FIS
)

// Interrupt classes of PxIS (§6.1.2 "Fatal errors"; §10.7.2): the fatal
// errors stop the command list (PxCMD.CR stays set but the port processes
// nothing more until software restarts it); the completions are the FISes
// a finished command ends with.
const (
	pxisFatal      = 1<<PxIS_TFES | 1<<PxIS_HBFS | 1<<PxIS_HBDS | 1<<PxIS_IFS
	pxisCompletion = 1<<PxIS_DHRS | 1<<PxIS_PSS | 1<<PxIS_DSS | 1<<PxIS_SDBS | 1<<PxIS_DPS
	// pxieEnabled are the interrupts the miniport takes: completions, the
	// fatal errors, overflow and the link events that mean the device
	// went away.
	pxieEnabled = pxisFatal | pxisCompletion | 1<<PxIS_OFS | 1<<PxIS_INFS | 1<<PxIS_UFS |
		1<<PxIS_PRCS | 1<<PxIS_PCS
)

// PxCMD bits (§3.3.7).
const (
	PxCMD_ATAPI = 24 // device is ATAPI (drives the activity LED)
	PxCMD_CR    = 15 // command list running
	PxCMD_FR    = 14 // FIS receive running
	PxCMD_CCS   = 8  // current command slot, bits 12:8
	PxCMD_FRE   = 4  // FIS receive enable
	PxCMD_CLO   = 3  // command list override
	PxCMD_POD   = 2  // power on device
	PxCMD_SUD   = 1  // spin-up device
	PxCMD_ST    = 0  // start
)

// PxTFD fields (§3.3.8): ERR in bits 15:8, STS in bits 7:0 (the ATA STATUS
// and ERROR registers as the last D2H Register FIS or SDB FIS left them).
const (
	PxTFD_ERR = 8
	PxTFD_STS = 0
)

// PxSSTS fields (§3.3.10).
const (
	PxSSTS_IPM  = 8 // interface power management, bits 11:8
	PxSSTS_SPD  = 4 // current interface speed, bits 7:4
	PxSSTS_DET  = 0 // device detection, bits 3:0
	sstsDETMask = 0xf
	detNone     = 0 // no device detected and Phy communication not established
	detNoPhy    = 1 // device presence detected but Phy communication not established
	detPresent  = 3 // device present and Phy communication established
	detOffline  = 4 // Phy in offline mode (disabled or in a BIST loopback mode)
	ipmActive   = 1 // interface in active state
)

// PxSCTL fields (§3.3.11).
const (
	PxSCTL_IPM      = 8 // transitions disallowed, bits 11:8
	PxSCTL_DET      = 0 // device detection initialization, bits 3:0
	sctlDETComreset = 1 // perform interface communication initialization (COMRESET)
	sctlIPMNone     = 3 // partial and slumber disabled
)

// portBase returns the offset of port p's registers.
func portBase(p int) uint32 { return portReg + uint32(p)*portLen }

// speedName returns the link speed of a PxSSTS.SPD or CAP.ISS value
// (§3.3.10): "1.5 Gb/s (Gen 1)".
func speedName(spd uint32) string {
	switch spd {
	case 1:
		return "1.5 Gb/s (Gen 1)"
	case 2:
		return "3 Gb/s (Gen 2)"
	case 3:
		return "6 Gb/s (Gen 3)"
	}
	return "no link"
}
