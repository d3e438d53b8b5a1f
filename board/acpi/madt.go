package acpi

import (
	"encoding/binary"
	"fmt"
)

// MADT fields (ACPI 6.0 §5.2.12).
const (
	MADT_LOCAL_APIC_ADDRESS = 36 // 32-bit
	MADT_FLAGS              = 40
	MADT_ENTRIES            = 44

	// PCAT_COMPAT (bit position in MADT_FLAGS): the machine also has dual
	// 8259s, which must be masked before the IOAPIC takes over.
	PCAT_COMPAT = 0
)

// MADT interrupt controller structure types and their lengths (§5.2.12).
const (
	MADT_PROCESSOR_LOCAL_APIC          = 0 // §5.2.12.2
	MADT_IO_APIC                       = 1 // §5.2.12.3
	MADT_INTERRUPT_SOURCE_OVERRIDE     = 2 // §5.2.12.5
	MADT_LOCAL_APIC_NMI                = 4 // §5.2.12.7
	MADT_LOCAL_APIC_ADDRESS_OVERRIDE   = 5 // §5.2.12.8
	PROCESSOR_LOCAL_APIC_LENGTH        = 8
	IO_APIC_LENGTH                     = 12
	INTERRUPT_SOURCE_OVERRIDE_LENGTH   = 10
	LOCAL_APIC_NMI_LENGTH              = 6
	LOCAL_APIC_ADDRESS_OVERRIDE_LENGTH = 12
)

// Local APIC flags, bit positions (§5.2.12.2).
const (
	LAPIC_ENABLED        = 0
	LAPIC_ONLINE_CAPABLE = 1
)

// MPS INTI flags of interrupt source overrides and NMI structures
// (§5.2.12.5): polarity in bits 1:0, trigger mode in bits 3:2; 00 means
// "conforms to the specifications of the bus", 10 is reserved.
const (
	INTI_POLARITY    = 0
	INTI_TRIGGER     = 2
	INTI_MASK        = 0b11
	INTI_CONFORMS    = 0b00
	INTI_ACTIVE_HIGH = 0b01
	INTI_ACTIVE_LOW  = 0b11
	INTI_EDGE        = 0b01
	INTI_LEVEL       = 0b11
)

// ISABus is the only bus an interrupt source override names (§5.2.12.5).
const ISABus = 0

// Trigger is an interrupt's trigger mode.
type Trigger uint8

// Trigger modes.
const (
	Edge Trigger = iota
	Level
)

func (t Trigger) String() string {
	if t == Level {
		return "level"
	}
	return "edge"
}

// Polarity is an interrupt's polarity.
type Polarity uint8

// Polarities.
const (
	ActiveHigh Polarity = iota
	ActiveLow
)

func (p Polarity) String() string {
	if p == ActiveLow {
		return "active-low"
	}
	return "active-high"
}

// INTIFlags are MPS INTI flags (§5.2.12.5).
type INTIFlags uint16

// Polarity decodes bits 1:0, with conforms meaning the ISA bus's active
// high; ok is false for the reserved encoding.
func (f INTIFlags) Polarity() (p Polarity, ok bool) {
	switch f >> INTI_POLARITY & INTI_MASK {
	case INTI_CONFORMS, INTI_ACTIVE_HIGH:
		return ActiveHigh, true
	case INTI_ACTIVE_LOW:
		return ActiveLow, true
	}
	return ActiveHigh, false
}

// Trigger decodes bits 3:2, with conforms meaning the ISA bus's edge; ok is
// false for the reserved encoding.
func (f INTIFlags) Trigger() (t Trigger, ok bool) {
	switch f >> INTI_TRIGGER & INTI_MASK {
	case INTI_CONFORMS, INTI_EDGE:
		return Edge, true
	case INTI_LEVEL:
		return Level, true
	}
	return Edge, false
}

// String gives "edge high", resolving "conforms" as for ISA, or the raw
// flags when an encoding is reserved.
func (f INTIFlags) String() string {
	t, tok := f.Trigger()
	p, pok := f.Polarity()
	if !tok || !pok {
		return fmt.Sprintf("flags %#x (reserved)", uint16(f))
	}
	return t.String() + " " + p.String()
}

// MADTEntry is one interrupt controller structure of the MADT.
type MADTEntry interface {
	// Type is the structure type (MADT_IO_APIC, ...).
	Type() uint8
	String() string
}

// LocalAPIC is a Processor Local APIC structure (§5.2.12.2).
type LocalAPIC struct {
	ProcessorUID uint8
	APICID       uint8
	Flags        uint32
}

// Enabled tells whether the processor is usable now.
func (l LocalAPIC) Enabled() bool { return l.Flags&(1<<LAPIC_ENABLED) != 0 }

func (LocalAPIC) Type() uint8 { return MADT_PROCESSOR_LOCAL_APIC }

func (l LocalAPIC) String() string {
	state := "disabled"
	switch {
	case l.Enabled():
		state = "enabled"
	case l.Flags&(1<<LAPIC_ONLINE_CAPABLE) != 0:
		state = "online-capable"
	}
	return fmt.Sprintf("LAPIC processor %d APIC id %d %s", l.ProcessorUID, l.APICID, state)
}

// IOAPIC is an I/O APIC structure (§5.2.12.3).
type IOAPIC struct {
	ID      uint8
	Address uint32
	GSIBase uint32
}

func (IOAPIC) Type() uint8 { return MADT_IO_APIC }

func (a IOAPIC) String() string {
	return fmt.Sprintf("IOAPIC id %d at %#x GSI base %d", a.ID, a.Address, a.GSIBase)
}

// InterruptOverride is an Interrupt Source Override structure (§5.2.12.5):
// ISA IRQ Source arrives at GSI, with Flags instead of ISA's edge/high.
type InterruptOverride struct {
	Bus    uint8
	Source uint8
	GSI    uint32
	Flags  INTIFlags
}

func (InterruptOverride) Type() uint8 { return MADT_INTERRUPT_SOURCE_OVERRIDE }

func (o InterruptOverride) String() string {
	return fmt.Sprintf("ISO bus %d irq %d -> GSI %d %v", o.Bus, o.Source, o.GSI, o.Flags)
}

// LocalAPICNMI is a Local APIC NMI structure (§5.2.12.7): which LINT pin of
// which processor (0xff: all) carries NMI.
type LocalAPICNMI struct {
	ProcessorUID uint8
	Flags        INTIFlags
	LINT         uint8
}

func (LocalAPICNMI) Type() uint8 { return MADT_LOCAL_APIC_NMI }

func (n LocalAPICNMI) String() string {
	cpu := fmt.Sprint(n.ProcessorUID)
	if n.ProcessorUID == 0xff {
		cpu = "all"
	}
	return fmt.Sprintf("LAPIC NMI processor %s LINT%d flags %#x", cpu, n.LINT, uint16(n.Flags))
}

// LocalAPICOverride is a Local APIC Address Override structure (§5.2.12.8).
type LocalAPICOverride struct {
	Address uint64
}

func (LocalAPICOverride) Type() uint8 { return MADT_LOCAL_APIC_ADDRESS_OVERRIDE }

func (o LocalAPICOverride) String() string {
	return fmt.Sprintf("LAPIC address override %#x", o.Address)
}

// OtherEntry is a structure type this package does not decode, kept so a
// listing shows it.
type OtherEntry struct {
	EntryType uint8
	Length    uint8
}

func (o OtherEntry) Type() uint8 { return o.EntryType }

func (o OtherEntry) String() string {
	return fmt.Sprintf("entry type %d length %d (not decoded)", o.EntryType, o.Length)
}

// MADT is the Multiple APIC Description Table (§5.2.12).
// LocalAPICAddress already includes a Local APIC Address Override.
type MADT struct {
	Header
	LocalAPICAddress uint64
	Flags            uint32
	Entries          []MADTEntry
}

// madtEntryLength is the length of each structure type decoded here; a
// longer structure is accepted, as later revisions may append fields.
var madtEntryLength = map[uint8]int{
	MADT_PROCESSOR_LOCAL_APIC:        PROCESSOR_LOCAL_APIC_LENGTH,
	MADT_IO_APIC:                     IO_APIC_LENGTH,
	MADT_INTERRUPT_SOURCE_OVERRIDE:   INTERRUPT_SOURCE_OVERRIDE_LENGTH,
	MADT_LOCAL_APIC_NMI:              LOCAL_APIC_NMI_LENGTH,
	MADT_LOCAL_APIC_ADDRESS_OVERRIDE: LOCAL_APIC_ADDRESS_OVERRIDE_LENGTH,
}

// decodeMADT decodes b, the checked bytes of the MADT described by h.
func decodeMADT(h Header, b []byte) (*MADT, error) {
	if len(b) < MADT_ENTRIES {
		return nil, h.errorf("%w: length %d is shorter than the %d-byte MADT", ErrTruncated, len(b), MADT_ENTRIES)
	}
	le := binary.LittleEndian
	m := &MADT{
		Header:           h,
		LocalAPICAddress: uint64(le.Uint32(b[MADT_LOCAL_APIC_ADDRESS:])),
		Flags:            le.Uint32(b[MADT_FLAGS:]),
	}
	for off := MADT_ENTRIES; off < len(b); {
		if off+2 > len(b) {
			return nil, h.errorf("%w: entry at offset %d has no length byte", ErrTruncated, off)
		}
		typ, n := b[off], int(b[off+1])
		if n < 2 {
			// A zero length would never advance.
			return nil, h.errorf("entry type %d at offset %d has length %d", typ, off, n)
		}
		if off+n > len(b) || n < madtEntryLength[typ] {
			return nil, h.errorf("%w: entry type %d at offset %d length %d in a %d-byte table", ErrTruncated, typ, off, n, len(b))
		}
		e := b[off : off+n]
		switch typ {
		case MADT_PROCESSOR_LOCAL_APIC:
			m.Entries = append(m.Entries, LocalAPIC{ProcessorUID: e[2], APICID: e[3], Flags: le.Uint32(e[4:])})
		case MADT_IO_APIC:
			m.Entries = append(m.Entries, IOAPIC{ID: e[2], Address: le.Uint32(e[4:]), GSIBase: le.Uint32(e[8:])})
		case MADT_INTERRUPT_SOURCE_OVERRIDE:
			m.Entries = append(m.Entries, InterruptOverride{Bus: e[2], Source: e[3], GSI: le.Uint32(e[4:]), Flags: INTIFlags(le.Uint16(e[8:]))})
		case MADT_LOCAL_APIC_NMI:
			m.Entries = append(m.Entries, LocalAPICNMI{ProcessorUID: e[2], Flags: INTIFlags(le.Uint16(e[3:])), LINT: e[5]})
		case MADT_LOCAL_APIC_ADDRESS_OVERRIDE:
			o := LocalAPICOverride{Address: le.Uint64(e[4:])}
			m.Entries = append(m.Entries, o)
			m.LocalAPICAddress = o.Address
		default:
			m.Entries = append(m.Entries, OtherEntry{EntryType: typ, Length: uint8(n)})
		}
		off += n
	}
	return m, nil
}

// PCATCompat tells whether the machine also has dual 8259 PICs.
func (m *MADT) PCATCompat() bool { return m.Flags&(1<<PCAT_COMPAT) != 0 }

// Processors returns the processor local APIC entries in table order; the
// first enabled one is conventionally the boot processor.
func (m *MADT) Processors() []LocalAPIC { return entriesOf[LocalAPIC](m) }

// EnabledCPUs returns how many processors are enabled (usable now).
func (m *MADT) EnabledCPUs() int {
	n := 0
	for _, p := range m.Processors() {
		if p.Enabled() {
			n++
		}
	}
	return n
}

// ConsecutiveCPUs returns k, how many enabled processors have the local
// APIC IDs 0 to k-1: the CPUs that a start-up sending INIT and SIPI to
// APIC IDs 1 to k-1 (TamaGo's InitSMP does) reaches, and no ID it would
// send them to that is absent, disabled or only online-capable (QEMU's
// `-smp N,maxcpus=M` lists M processors, N of them enabled).
func (m *MADT) ConsecutiveCPUs() int {
	enabled := map[uint8]bool{}
	for _, p := range m.Processors() {
		if p.Enabled() {
			enabled[p.APICID] = true
		}
	}
	k := 0
	for k < 256 && enabled[uint8(k)] {
		k++
	}
	return k
}

// IOAPICs returns the I/O APIC entries in table order.
func (m *MADT) IOAPICs() []IOAPIC { return entriesOf[IOAPIC](m) }

// Overrides returns the interrupt source overrides in table order.
func (m *MADT) Overrides() []InterruptOverride { return entriesOf[InterruptOverride](m) }

// entriesOf returns m's entries of type T, in table order.
func entriesOf[T MADTEntry](m *MADT) []T {
	var l []T
	for _, e := range m.Entries {
		if t, ok := e.(T); ok {
			l = append(l, t)
		}
	}
	return l
}

// ISAInterrupt is where an ISA IRQ arrives at the I/O APICs.
type ISAInterrupt struct {
	IRQ      uint8
	GSI      uint32
	Trigger  Trigger
	Polarity Polarity
}

func (i ISAInterrupt) String() string {
	return fmt.Sprintf("ISA IRQ %d -> GSI %d %v %v", i.IRQ, i.GSI, i.Trigger, i.Polarity)
}

// ISAInterrupt resolves ISA IRQ irq (§5.2.12.5): by the first interrupt
// source override for it on bus 0, else identity-mapped, edge-triggered and
// active high as the ISA bus is. It fails on a reserved flags encoding.
func (m *MADT) ISAInterrupt(irq uint8) (ISAInterrupt, error) {
	for _, o := range m.Overrides() {
		if o.Bus != ISABus || o.Source != irq {
			continue
		}
		t, tok := o.Flags.Trigger()
		p, pok := o.Flags.Polarity()
		if !tok || !pok {
			return ISAInterrupt{}, m.errorf("ISO irq %d has reserved flags %#x", irq, uint16(o.Flags))
		}
		return ISAInterrupt{IRQ: irq, GSI: o.GSI, Trigger: t, Polarity: p}, nil
	}
	return ISAInterrupt{IRQ: irq, GSI: uint32(irq), Trigger: Edge, Polarity: ActiveHigh}, nil
}

// String summarises the MADT header on one line; Entries list the rest.
func (m *MADT) String() string {
	s := fmt.Sprintf("MADT LAPIC at %#x", m.LocalAPICAddress)
	if m.PCATCompat() {
		s += " PCAT_COMPAT"
	}
	return s
}
