// Package ioapic drives the I/O APIC: it encodes and decodes redirection
// table entries and reads, writes, masks and unmasks them, serializing the
// indirect register accesses between CPUs.
//
// Reference: Intel 82093AA I/O Advanced Programmable Interrupt Controller
// (IOAPIC) datasheet, order number 290566-001, May 1996: 3.0 "Register
// Description", 3.1 "Memory Mapped Registers for Accessing IOAPIC Registers"
// (IOREGSEL, IOWIN) and 3.2 "IOAPIC Registers" (IOAPICID, IOAPICVER,
// IOAPICARB, IOREDTBL[23:0]). Later chipset IOAPICs (PIIX3/PIIX4 systems,
// ICH/PCH, QEMU's model) keep this register interface and may have more
// than 24 entries, as IOAPICVER reports.
//
// Platform fact (PLATFORM.md, "Go runtime on TamaGo"): an edge that arrives
// while its pin is masked is lost (the 82093AA ignores edge requests on a
// masked pin); a level-triggered request stays pending and is delivered on
// unmask.
package ioapic

import (
	"errors"
	"strconv"

	"github.com/ataport/firmware/irq/internal/mmio"
	"github.com/ataport/firmware/kernel"
)

// Memory-mapped registers, offsets from the IOAPIC base (82093AA 3.1,
// Table 1).
const (
	IOREGSEL = 0x00 // I/O Register Select: index of the register IOWIN reaches
	IOWIN    = 0x10 // I/O Window: data of the selected register
)

// Indirect registers, selected through IOREGSEL (82093AA 3.2, Table 2).
const (
	IOAPICID = 0x00 // IOAPIC Identification
	ID       = 24   // IOAPIC identification, bits 27:24

	IOAPICVER = 0x01 // IOAPIC Version
	VERSION   = 0    // APIC version, bits 7:0
	MRE       = 16   // Maximum Redirection Entry (entries - 1), bits 23:16

	IOAPICARB = 0x02 // IOAPIC Arbitration

	IOREDTBL0 = 0x10 // IOREDTBLn: low dword at 0x10+2n, high dword at 0x11+2n
)

// IOREDTBLn fields, as bit positions in the 64-bit entry (82093AA 3.2.4
// "IOREDTBL[23:0]—I/O Redirection Table Registers").
const (
	INTVEC  = 0  // Interrupt Vector, bits 7:0
	DELMOD  = 8  // Delivery Mode, bits 10:8
	DESTMOD = 11 // Destination Mode: 0 physical, 1 logical
	DELIVS  = 12 // Delivery Status (read-only): 1 send pending
	INTPOL  = 13 // Interrupt Input Pin Polarity: 0 high active, 1 low active
	RIRR    = 14 // Remote IRR (read-only, level-triggered only)
	TRIGGER = 15 // Trigger Mode: 0 edge, 1 level
	MASK    = 16 // Interrupt Mask: 1 masked
	DEST    = 56 // Destination Field, bits 63:56 (APIC ID in physical mode)
)

// DELMOD values (82093AA 3.2.4, bits 10:8).
const (
	DELMOD_FIXED  = 0b000 // Fixed
	DELMOD_LOWEST = 0b001 // Lowest Priority
	DELMOD_SMI    = 0b010 // SMI
	DELMOD_NMI    = 0b100 // NMI
	DELMOD_INIT   = 0b101 // INIT
	DELMOD_EXTINT = 0b111 // ExtINT
)

const (
	delmodMask = 0b111
	// maxEntries bounds a plausible table: MRE is 8 bits, and a window
	// reading all ones (no device) reports 256.
	maxEntries = 240
)

// Entry is one decoded redirection table entry (IOREDTBLn). SendPending and
// RemoteIRR are read-only status; Encode includes them so that Decode and
// Encode are inverse, and the hardware ignores them on write.
type Entry struct {
	Vector       uint8 // INTVEC
	DeliveryMode uint8 // DELMOD, one of DELMOD_*
	Logical      bool  // DESTMOD
	SendPending  bool  // DELIVS
	ActiveLow    bool  // INTPOL
	RemoteIRR    bool  // RIRR
	Level        bool  // TRIGGER
	Masked       bool  // MASK
	Destination  uint8 // DEST
}

// Encode returns the 64-bit register value of e.
//
// Context: any IRQL; does not block or allocate.
func (e Entry) Encode() uint64 {
	return uint64(e.Vector)<<INTVEC |
		uint64(e.DeliveryMode&delmodMask)<<DELMOD |
		bit(e.Logical)<<DESTMOD |
		bit(e.SendPending)<<DELIVS |
		bit(e.ActiveLow)<<INTPOL |
		bit(e.RemoteIRR)<<RIRR |
		bit(e.Level)<<TRIGGER |
		bit(e.Masked)<<MASK |
		uint64(e.Destination)<<DEST
}

func bit(set bool) uint64 {
	if set {
		return 1
	}
	return 0
}

// Decode returns the entry that the 64-bit register value v holds; reserved
// bits are ignored.
//
// Context: any IRQL; does not block or allocate.
func Decode(v uint64) Entry {
	set := func(pos uint) bool { return v>>pos&1 != 0 }
	return Entry{
		Vector:       uint8(v >> INTVEC),
		DeliveryMode: uint8(v>>DELMOD) & delmodMask,
		Logical:      set(DESTMOD),
		SendPending:  set(DELIVS),
		ActiveLow:    set(INTPOL),
		RemoteIRR:    set(RIRR),
		Level:        set(TRIGGER),
		Masked:       set(MASK),
		Destination:  uint8(v >> DEST),
	}
}

// IOAPIC is one I/O APIC, as the ACPI MADT describes it. The board fills the
// exported fields; Init validates them and reads the table size.
type IOAPIC struct {
	// ID is the IOAPIC ID from the MADT.
	ID uint8
	// Base is the physical address of the register window (IOREGSEL).
	Base uint32
	// GSIBase is the global system interrupt of pin 0.
	GSIBase uint32

	// lock serializes IOREGSEL/IOWIN pairs between CPUs, at HIGH so that
	// nothing on this CPU interleaves either.
	lock    kernel.InterruptLock
	entries int
}

// Init checks the register window, reads the number of redirection entries
// from IOAPICVER and masks every entry.
//
// Context: PASSIVE, IF=1. Returns an error when Base is 0 or IOAPICVER
// reports an impossible table size (for instance a window that reads all
// ones).
func (io *IOAPIC) Init() error {
	kernel.AssertLevel("ioapic.Init", kernel.PASSIVE, kernel.PASSIVE)
	if io.Base == 0 {
		return errors.New("ioapic: IOAPIC " + strconv.Itoa(int(io.ID)) + ": no base address")
	}
	io.lock.Name = "ioapic" + strconv.Itoa(int(io.ID))
	io.lock.Level = kernel.HIGH
	ver := io.read(IOAPICVER)
	n := int(ver>>MRE&0xff) + 1
	if ver == 0xffffffff || n > maxEntries {
		return errors.New("ioapic: IOAPIC " + strconv.Itoa(int(io.ID)) + " at 0x" +
			strconv.FormatUint(uint64(io.Base), 16) + ": IOAPICVER reads 0x" +
			strconv.FormatUint(uint64(ver), 16))
	}
	io.entries = n
	for pin := range n {
		io.Mask(pin)
	}
	return nil
}

// Entries returns the number of redirection entries (pins).
//
// Context: any IRQL; does not block or allocate.
func (io *IOAPIC) Entries() int {
	return io.entries
}

// Version returns the APIC version field of IOAPICVER.
//
// Context: PASSIVE..HIGH; does not block or allocate.
func (io *IOAPIC) Version() uint8 {
	return uint8(io.read(IOAPICVER) >> VERSION)
}

// HardwareID returns the ID programmed in IOAPICID.
//
// Context: PASSIVE..HIGH; does not block or allocate.
func (io *IOAPIC) HardwareID() uint8 {
	return uint8(io.read(IOAPICID)>>ID) & 0xf
}

// Pin returns the pin of global system interrupt gsi and whether this IOAPIC
// has it.
//
// Context: any IRQL; does not block or allocate.
func (io *IOAPIC) Pin(gsi uint32) (pin int, ok bool) {
	if gsi < io.GSIBase || gsi-io.GSIBase >= uint32(io.entries) {
		return 0, false
	}
	return int(gsi - io.GSIBase), true
}

// Read returns redirection entry pin, read back from the hardware.
//
// Context: PASSIVE..HIGH, any IF; does not block or allocate; takes the
// IOAPIC lock at HIGH. Panics for a pin out of range.
func (io *IOAPIC) Read(pin int) Entry {
	io.checkPin("Read", pin)
	old := io.lock.Acquire()
	lo := io.rawRead(IOREDTBL0 + 2*uint32(pin))
	hi := io.rawRead(IOREDTBL0 + 2*uint32(pin) + 1)
	io.lock.Release(old)
	return Decode(uint64(hi)<<32 | uint64(lo))
}

// Write programs redirection entry pin with e, in three steps so that the
// pin never delivers a half-written entry:
//  1. set MASK in the low dword, keeping the rest of the old entry;
//  2. write the high dword (DEST);
//  3. write the low dword of e, which sets its own mask state.
//
// Context: PASSIVE..HIGH, any IF; does not block or allocate; takes the
// IOAPIC lock at HIGH. Panics for a pin out of range.
func (io *IOAPIC) Write(pin int, e Entry) {
	io.checkPin("Write", pin)
	v := e.Encode()
	lo := IOREDTBL0 + 2*uint32(pin)
	old := io.lock.Acquire()
	io.rawWrite(lo, io.rawRead(lo)|1<<MASK) // 1.
	io.rawWrite(lo+1, uint32(v>>32))        // 2.
	io.rawWrite(lo, uint32(v))              // 3.
	io.lock.Release(old)
}

// Mask sets MASK of entry pin: the pin stops delivering (an edge arriving
// meanwhile is lost, a level stays pending).
//
// Context: PASSIVE..HIGH, any IF; does not block or allocate; takes the
// IOAPIC lock at HIGH. Panics for a pin out of range.
func (io *IOAPIC) Mask(pin int) {
	io.setMask("Mask", pin, true)
}

// Unmask clears MASK of entry pin.
//
// Context: PASSIVE..HIGH, any IF; does not block or allocate; takes the
// IOAPIC lock at HIGH. Panics for a pin out of range.
func (io *IOAPIC) Unmask(pin int) {
	io.setMask("Unmask", pin, false)
}

// Masked reports MASK of entry pin, read back from the hardware.
//
// Context: PASSIVE..HIGH, any IF; does not block or allocate; takes the
// IOAPIC lock at HIGH. Panics for a pin out of range.
func (io *IOAPIC) Masked(pin int) bool {
	io.checkPin("Masked", pin)
	old := io.lock.Acquire()
	lo := io.rawRead(IOREDTBL0 + 2*uint32(pin))
	io.lock.Release(old)
	return lo>>MASK&1 != 0
}

func (io *IOAPIC) setMask(routine string, pin int, masked bool) {
	io.checkPin(routine, pin)
	reg := IOREDTBL0 + 2*uint32(pin)
	old := io.lock.Acquire()
	lo := io.rawRead(reg) &^ (1 << MASK)
	if masked {
		lo |= 1 << MASK
	}
	io.rawWrite(reg, lo)
	io.lock.Release(old)
}

func (io *IOAPIC) checkPin(routine string, pin int) {
	if pin < 0 || pin >= io.entries {
		kernel.Bugcheck("ioapic: IOAPIC " + strconv.Itoa(int(io.ID)) + " " + routine + ": pin " +
			strconv.Itoa(pin) + " out of range 0.." + strconv.Itoa(io.entries-1))
	}
}

// read returns indirect register index under the lock.
func (io *IOAPIC) read(index uint32) uint32 {
	old := io.lock.Acquire()
	v := io.rawRead(index)
	io.lock.Release(old)
	return v
}

// rawRead selects index with IOREGSEL and reads it through IOWIN.
//
// Context: IOAPIC lock held at HIGH.
func (io *IOAPIC) rawRead(index uint32) uint32 {
	mmio.Write32(io.Base+IOREGSEL, index)
	return mmio.Read32(io.Base + IOWIN)
}

// rawWrite selects index with IOREGSEL and writes v through IOWIN.
//
// Context: IOAPIC lock held at HIGH.
func (io *IOAPIC) rawWrite(index, v uint32) {
	mmio.Write32(io.Base+IOREGSEL, index)
	mmio.Write32(io.Base+IOWIN, v)
}
