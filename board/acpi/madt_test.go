package acpi

import (
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// madt builds an MADT with a local APIC at 0xfee00000 and the given entries.
func madt(flags uint32, entries ...[]byte) []byte {
	body := binary.LittleEndian.AppendUint32(nil, 0xfee00000)
	body = binary.LittleEndian.AppendUint32(body, flags)
	for _, e := range entries {
		body = append(body, e...)
	}
	return sdt("APIC", 4, body)
}

func iso(src uint8, gsi uint32, flags uint16) []byte {
	e := []byte{MADT_INTERRUPT_SOURCE_OVERRIDE, INTERRUPT_SOURCE_OVERRIDE_LENGTH, ISABus, src}
	e = binary.LittleEndian.AppendUint32(e, gsi)
	return binary.LittleEndian.AppendUint16(e, flags)
}

func TestINTIFlags(t *testing.T) {
	for _, tc := range []struct {
		flags INTIFlags
		trig  Trigger
		pol   Polarity
		ok    bool
		str   string
	}{
		{0x0, Edge, ActiveHigh, true, "edge active-high"},
		{0x5, Edge, ActiveHigh, true, "edge active-high"},
		{0xd, Level, ActiveHigh, true, "level active-high"},
		{0xf, Level, ActiveLow, true, "level active-low"},
		{0x3, Edge, ActiveLow, true, "edge active-low"},
		{0xc, Level, ActiveHigh, true, "level active-high"},
		{0x2, Edge, ActiveHigh, false, "flags 0x2 (reserved)"},
		{0x8, Edge, ActiveHigh, false, "flags 0x8 (reserved)"},
	} {
		trig, tok := tc.flags.Trigger()
		pol, pok := tc.flags.Polarity()
		if (tok && pok) != tc.ok || (tc.ok && (trig != tc.trig || pol != tc.pol)) {
			t.Errorf("%#x: trigger %v %v polarity %v %v, want %v %v ok %v", uint16(tc.flags), trig, tok, pol, pok, tc.trig, tc.pol, tc.ok)
		}
		if s := tc.flags.String(); s != tc.str {
			t.Errorf("%#x: String() = %q, want %q", uint16(tc.flags), s, tc.str)
		}
	}
}

func TestISAInterrupt(t *testing.T) {
	other := iso(4, 20, 0xf)
	other[2] = 1 // not ISA: ignored
	m, err := decodeMADT(decodeAt(t, madt(0,
		iso(0, 2, 0),
		iso(7, 7, 0x2),
		iso(9, 21, 0xf),
		iso(9, 22, 0x5), // a second override for IRQ 9 is ignored
		other,
	), 0x1000))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		irq  uint8
		want ISAInterrupt
		err  string
	}{
		{irq: 0, want: ISAInterrupt{0, 2, Edge, ActiveHigh}},
		{irq: 1, want: ISAInterrupt{1, 1, Edge, ActiveHigh}},
		{irq: 4, want: ISAInterrupt{4, 4, Edge, ActiveHigh}},
		{irq: 9, want: ISAInterrupt{9, 21, Level, ActiveLow}},
		{irq: 7, err: "APIC at 0x1000: ISO irq 7 has reserved flags 0x2"},
	} {
		got, err := m.ISAInterrupt(tc.irq)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ISAInterrupt(%d) = %v, %v, want %v", tc.irq, got, err, tc.want)
		case tc.err != "" && (err == nil || err.Error() != "acpi: "+tc.err):
			t.Errorf("ISAInterrupt(%d) error %v, want %q", tc.irq, err, tc.err)
		}
	}
	if m.PCATCompat() {
		t.Error("PCATCompat() with flags 0")
	}
}

func TestDecodeMADT(t *testing.T) {
	override := append([]byte{MADT_LOCAL_APIC_ADDRESS_OVERRIDE, LOCAL_APIC_ADDRESS_OVERRIDE_LENGTH, 0, 0},
		binary.LittleEndian.AppendUint64(nil, 0x1_fee0_0000)...)
	x2apic := make([]byte, 16)
	x2apic[0], x2apic[1] = 9, 16
	m, err := decodeMADT(decodeAt(t, madt(1<<PCAT_COMPAT,
		[]byte{MADT_PROCESSOR_LOCAL_APIC, 8, 3, 6, 1 << LAPIC_ONLINE_CAPABLE, 0, 0, 0},
		[]byte{MADT_PROCESSOR_LOCAL_APIC, 8, 4, 7, 0, 0, 0, 0},
		[]byte{MADT_IO_APIC, 12, 2, 0, 0x00, 0x10, 0xc0, 0xfe, 24, 0, 0, 0},
		[]byte{MADT_LOCAL_APIC_NMI, 6, 0, 0x0d, 0x00, 0},
		override,
		x2apic,
	), 0x1000))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"LAPIC processor 3 APIC id 6 online-capable",
		"LAPIC processor 4 APIC id 7 disabled",
		"IOAPIC id 2 at 0xfec01000 GSI base 24",
		"LAPIC NMI processor 0 LINT0 flags 0xd",
		"LAPIC address override 0x1fee00000",
		"entry type 9 length 16 (not decoded)",
	}
	var got []string
	for _, e := range m.Entries {
		got = append(got, e.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries\n got %q\nwant %q", got, want)
	}
	if m.LocalAPICAddress != 0x1_fee0_0000 || !m.PCATCompat() {
		t.Errorf("LocalAPICAddress %#x PCATCompat %v, want the override and true", m.LocalAPICAddress, m.PCATCompat())
	}
	if len(m.Processors()) != 2 || len(m.IOAPICs()) != 1 || m.IOAPICs()[0].GSIBase != 24 {
		t.Errorf("Processors() %v IOAPICs() %v", m.Processors(), m.IOAPICs())
	}
	if m.Entries[5].Type() != 9 || m.Entries[2].Type() != MADT_IO_APIC {
		t.Errorf("Type() of entries: %d, %d", m.Entries[5].Type(), m.Entries[2].Type())
	}
}

// TestConsecutiveCPUs counts the enabled processors with APIC IDs 0 to
// k-1, as QEMU lists them for -smp 2,maxcpus=4 (the last two not
// enabled), in any table order, and with a gap.
func TestConsecutiveCPUs(t *testing.T) {
	cpu := func(id uint8, flags uint8) []byte {
		return []byte{MADT_PROCESSOR_LOCAL_APIC, 8, id, id, flags, 0, 0, 0}
	}
	const on, capable = 1 << LAPIC_ENABLED, 1 << LAPIC_ONLINE_CAPABLE
	for _, tc := range []struct {
		name             string
		cpus             [][]byte
		consecutive, all int
	}{
		{"maxcpus", [][]byte{cpu(0, on), cpu(1, on), cpu(2, capable), cpu(3, 0)}, 2, 2},
		{"table order", [][]byte{cpu(2, on), cpu(0, on), cpu(1, on)}, 3, 3},
		{"gap", [][]byte{cpu(0, on), cpu(2, on), cpu(4, on)}, 1, 3},
		{"boot CPU not 0", [][]byte{cpu(1, on), cpu(2, on)}, 0, 2},
	} {
		m, err := decodeMADT(decodeAt(t, madt(0, tc.cpus...), 0x1000))
		if err != nil {
			t.Fatal(err)
		}
		if got, all := m.ConsecutiveCPUs(), m.EnabledCPUs(); got != tc.consecutive || all != tc.all {
			t.Errorf("%s: ConsecutiveCPUs %d EnabledCPUs %d, want %d %d", tc.name, got, all, tc.consecutive, tc.all)
		}
	}
}

func TestDecodeMADTErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		is   error
		want string
	}{
		{"shorter than the MADT", sdt("APIC", 4, make([]byte, 4)), ErrTruncated,
			"APIC at 0x1000: truncated: length 40 is shorter than the 44-byte MADT"},
		{"zero-length entry", madt(0, []byte{MADT_IO_APIC, 0}), nil,
			"APIC at 0x1000: entry type 1 at offset 44 has length 0"},
		{"entry shorter than its type", madt(0, []byte{MADT_IO_APIC, 8, 0, 0, 0, 0, 0, 0}), ErrTruncated,
			"APIC at 0x1000: truncated: entry type 1 at offset 44 length 8"},
		{"stray byte", madt(0, iso(0, 2, 0), []byte{MADT_IO_APIC}), ErrTruncated,
			"APIC at 0x1000: truncated: entry at offset 54 has no length byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeMADT(decodeAt(t, tc.b, 0x1000))
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("error %v, want %q wrapping %v", err, tc.want, tc.is)
			}
		})
	}
}
