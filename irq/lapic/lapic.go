// Package lapic reads and writes the registers of the local APIC that
// package irq needs beyond TamaGo's amd64/lapic: task and processor
// priority, the in-service and request bits of a vector, end of interrupt,
// and interprocessor interrupts to self or to one APIC ID.
//
// Reference: Intel 64 and IA-32 Architectures Software Developer's Manual,
// Volume 3A (Order Number 253668), chapter "Advanced Programmable Interrupt
// Controller (APIC)" (chapter 10 in older editions, 11 in current ones):
// "Local APIC Register Address Map" (Table 10-1 / 11-1), "Issuing
// Interprocessor Interrupts" (10.6.1 / 11.6.1, the ICR), "Task and Processor
// Priorities" (10.8.3.1 / 11.8.3.1, TPR and PPR), "Interrupt Acceptance for
// Fixed Interrupts" (10.8.4 / 11.8.4, IRR, ISR, TMR), "Signaling Interrupt
// Servicing Completion" (10.8.5 / 11.8.5, EOI) and "Spurious Interrupt"
// (10.9 / 11.9, SVR). The xAPIC (memory-mapped) mode is used, as TamaGo
// does.
package lapic

import (
	"errors"
	"strconv"
	"time"

	"github.com/ataport/firmware/irq/internal/mmio"
	"github.com/ataport/firmware/kernel"
)

// Local APIC registers, offsets from the base (SDM Vol 3A, Table 10-1 /
// 11-1 "Local APIC Register Address Map"), with their fields as bit
// positions.
const (
	LAPIC_ID = 0x20 // Local APIC ID Register
	ID       = 24   // APIC ID, bits 31:24

	LAPIC_VER = 0x30 // Local APIC Version Register

	LAPIC_TPR = 0x80 // Task Priority Register
	LAPIC_PPR = 0xa0 // Processor Priority Register (read-only)
	LAPIC_EOI = 0xb0 // EOI Register (write-only)

	LAPIC_SVR  = 0xf0 // Spurious Interrupt Vector Register
	SVR_VECTOR = 0    // spurious vector, bits 7:0
	SVR_ENABLE = 8    // APIC software enable

	// ISR, TMR and IRR are 256-bit registers made of eight 32-bit
	// registers 16 bytes apart; vector v is bit v%32 of register v/32.
	LAPIC_ISR = 0x100 // In-Service Register, 0x100-0x170
	LAPIC_TMR = 0x180 // Trigger Mode Register, 0x180-0x1f0
	LAPIC_IRR = 0x200 // Interrupt Request Register, 0x200-0x270

	LAPIC_ICRL = 0x300 // Interrupt Command Register, bits 31:0
	LAPIC_ICRH = 0x310 // Interrupt Command Register, bits 63:32
)

// ICR fields (SDM Vol 3A, "Interrupt Command Register (ICR)", Figure 10-12 /
// 11-12). Positions are in ICRL, except ICRH_DEST in ICRH.
const (
	ICR_VECTOR = 0 // vector, bits 7:0

	ICR_DLV       = 8 // delivery mode, bits 10:8
	ICR_DLV_FIXED = 0b000 << ICR_DLV
	ICR_DLV_NMI   = 0b100 << ICR_DLV

	ICR_DESTMOD    = 11 // destination mode: 0 physical, 1 logical
	ICR_DLV_STATUS = 12 // delivery status (read-only): 1 send pending
	ICR_LEVEL      = 14 // level: 1 assert (must be 1 except for INIT de-assert)
	ICR_TRIGGER    = 15 // trigger mode: 0 edge, 1 level

	ICR_DST      = 18 // destination shorthand, bits 19:18
	ICR_DST_NONE = 0b00 << ICR_DST
	ICR_DST_SELF = 0b01 << ICR_DST

	ICRH_DEST = 24 // destination APIC ID, ICR bits 63:56
)

// ipiTimeout bounds the wait for the ICR's delivery status to clear.
const ipiTimeout = 100 * time.Millisecond

// LAPIC is the local APIC of the executing CPU, at Base (every CPU sees its
// own local APIC at the same physical address).
type LAPIC struct {
	// Base is the physical address of the register page (default
	// 0xFEE00000, from the ACPI MADT or IA32_APIC_BASE).
	Base uint32
}

// ID returns the APIC ID of the executing CPU.
//
// Context: any IRQL; does not block or allocate.
func (l *LAPIC) ID() uint8 {
	return uint8(l.read(LAPIC_ID) >> ID)
}

// Version returns the Local APIC Version Register.
//
// Context: any IRQL; does not block or allocate.
func (l *LAPIC) Version() uint32 {
	return l.read(LAPIC_VER)
}

// TPR returns the Task Priority Register of the executing CPU; its bits 7:4
// equal CR8.
//
// Context: any IRQL; does not block or allocate.
func (l *LAPIC) TPR() uint8 {
	return uint8(l.read(LAPIC_TPR))
}

// PPR returns the Processor Priority Register of the executing CPU: the
// higher of the TPR and the class of the highest vector in service.
//
// Context: any IRQL; does not block or allocate.
func (l *LAPIC) PPR() uint8 {
	return uint8(l.read(LAPIC_PPR))
}

// InService reports the ISR bit of vector: accepted and not yet ended by an
// EOI.
//
// Context: any IRQL; does not block or allocate.
func (l *LAPIC) InService(vector uint8) bool {
	return l.vectorBit(LAPIC_ISR, vector)
}

// Requested reports the IRR bit of vector: received and not yet accepted
// (for instance because the TPR masks its class).
//
// Context: any IRQL; does not block or allocate.
func (l *LAPIC) Requested(vector uint8) bool {
	return l.vectorBit(LAPIC_IRR, vector)
}

// LevelTriggered reports the TMR bit of vector: it was accepted as a
// level-triggered interrupt.
//
// Context: any IRQL; does not block or allocate.
func (l *LAPIC) LevelTriggered(vector uint8) bool {
	return l.vectorBit(LAPIC_TMR, vector)
}

// EOI signals the end of the highest-priority interrupt in service.
//
// Context: any IRQL; does not block or allocate. The kernel's dispatch
// sends the EOI of every vector it serves; this is for tests.
func (l *LAPIC) EOI() {
	mmio.Write32(l.Base+LAPIC_EOI, 0)
}

// SpuriousVector returns the spurious vector programmed in the SVR.
//
// Context: any IRQL; does not block or allocate.
func (l *LAPIC) SpuriousVector() uint8 {
	return uint8(l.read(LAPIC_SVR) >> SVR_VECTOR)
}

// SetSpuriousVector software-enables the executing CPU's local APIC with
// vector as its spurious vector (SVR: APIC software enable, vector in bits
// 7:0; focus processor checking and EOI broadcast suppression left 0).
//
// Context: any IRQL, pinned on the CPU to program; does not block or
// allocate.
func (l *LAPIC) SetSpuriousVector(vector uint8) {
	mmio.Write32(l.Base+LAPIC_SVR, 1<<SVR_ENABLE|uint32(vector)<<SVR_VECTOR)
}

// Enabled reports the APIC software enable bit of the SVR.
//
// Context: any IRQL; does not block or allocate.
func (l *LAPIC) Enabled() bool {
	return l.read(LAPIC_SVR)>>SVR_ENABLE&1 != 0
}

// SelfIPI sends vector to the executing CPU: fixed delivery, edge, with the
// "self" destination shorthand. The interrupt is accepted when the CPU's
// priority allows it: at once when vector's class is above its TPR (and IF
// is set), else when the level drops.
//
// Context: DISPATCH..HIGH (pinned, so that "self" is the CPU the caller
// expects); does not block or allocate; raises to HIGH while it owns the
// ICR. Returns an error when the ICR stays busy for 100 ms or vector is
// below 16.
func (l *LAPIC) SelfIPI(vector uint8) error {
	kernel.AssertLevel("lapic.SelfIPI", kernel.DISPATCH, kernel.HIGH)
	return l.send(0, ICR_DST_SELF|ICR_DLV_FIXED|1<<ICR_LEVEL|uint32(vector), vector)
}

// IPI sends vector to the CPU whose APIC ID is apicID: fixed delivery,
// physical destination, edge, no shorthand.
//
// Context: PASSIVE..HIGH, any IF; does not block or allocate; raises to HIGH
// while it owns the ICR. Returns an error when the ICR stays busy for
// 100 ms or vector is below 16.
func (l *LAPIC) IPI(apicID uint8, vector uint8) error {
	return l.send(apicID, ICR_DST_NONE|ICR_DLV_FIXED|1<<ICR_LEVEL|uint32(vector), vector)
}

// send writes the ICR, following "Issuing Interprocessor Interrupts":
//  1. wait for the delivery status of a previous IPI to clear;
//  2. write ICRH (destination);
//  3. write ICRL, which sends;
//  4. wait for the delivery status to clear.
//
// HIGH keeps every other user of this CPU's ICR off it meanwhile: ISRs run
// at safe points of this CPU (kernel.ServicePoint), and none is reached
// between the steps at HIGH.
func (l *LAPIC) send(dest uint8, icrl uint32, vector uint8) error {
	if vector < 16 {
		return errors.New("lapic: IPI vector " + strconv.Itoa(int(vector)) + " below 16 is illegal")
	}
	old := kernel.Raise(kernel.HIGH)
	err := l.waitIdle() // 1.
	if err == nil {
		mmio.Write32(l.Base+LAPIC_ICRH, uint32(dest)<<ICRH_DEST) // 2.
		mmio.Write32(l.Base+LAPIC_ICRL, icrl)                    // 3.
		err = l.waitIdle()                                       // 4.
	}
	kernel.Lower(old)
	if err != nil {
		return errors.New("lapic: IPI vector 0x" + strconv.FormatUint(uint64(vector), 16) +
			" to APIC ID " + strconv.Itoa(int(dest)) + ": " + err.Error())
	}
	return nil
}

var errBusy = errors.New("ICR delivery status still pending after " + ipiTimeout.String())

func (l *LAPIC) waitIdle() error {
	start := time.Now()
	for l.read(LAPIC_ICRL)>>ICR_DLV_STATUS&1 != 0 {
		if time.Since(start) > ipiTimeout {
			return errBusy
		}
	}
	return nil
}

func (l *LAPIC) vectorBit(reg uint32, vector uint8) bool {
	return l.read(reg+uint32(vector/32)*0x10)>>(vector%32)&1 != 0
}

func (l *LAPIC) read(reg uint32) uint32 {
	return mmio.Read32(l.Base + reg)
}
