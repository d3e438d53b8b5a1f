package acpi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// window is a piece of physical memory at base.
type window struct {
	base uint64
	data []byte
}

// fakeMemory serves windows at their physical addresses; anything else is
// unmapped, and a read running off a window's end is short.
type fakeMemory []window

func (m fakeMemory) ReadAt(p []byte, addr int64) (int, error) {
	for _, w := range m {
		if uint64(addr) >= w.base && uint64(addr) < w.base+uint64(len(w.data)) {
			n := copy(p, w.data[uint64(addr)-w.base:])
			if n < len(p) {
				return n, io.ErrUnexpectedEOF
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("unmapped address %#x", addr)
}

// captures index testdata: file suffix and base address (see README.md).
var captures = []struct {
	suffix string
	base   uint64
}{
	{"bda.bin", 0x400},
	{"ebda.bin", 0x9fc00},
	{"bios.bin", 0xe0000},
	{"tables.bin", 0x7ffe0000},
}

// captured returns a fresh copy of machine's captured memory, which a test
// may corrupt.
func captured(t testing.TB, machine string) fakeMemory {
	t.Helper()
	var m fakeMemory
	for _, c := range captures {
		b, err := os.ReadFile(filepath.Join("testdata", machine+"-"+c.suffix))
		if err != nil {
			t.Fatal(err)
		}
		m = append(m, window{c.base, b})
	}
	return m
}

// at returns the bytes of m at physical address addr, for corrupting them.
func (m fakeMemory) at(addr uint64) []byte {
	for _, w := range m {
		if addr >= w.base && addr < w.base+uint64(len(w.data)) {
			return w.data[addr-w.base:]
		}
	}
	panic(fmt.Sprintf("test bug: %#x is not in a window", addr))
}

// qemuMADT is the MADT both QEMU machines have.
var qemuMADT = []MADTEntry{
	LocalAPIC{ProcessorUID: 0, APICID: 0, Flags: 1},
	LocalAPIC{ProcessorUID: 1, APICID: 1, Flags: 1},
	IOAPIC{ID: 0, Address: 0xfec00000, GSIBase: 0},
	InterruptOverride{Bus: 0, Source: 0, GSI: 2, Flags: 0},
	InterruptOverride{Bus: 0, Source: 5, GSI: 5, Flags: 0xd},
	InterruptOverride{Bus: 0, Source: 9, GSI: 9, Flags: 0xd},
	InterruptOverride{Bus: 0, Source: 10, GSI: 10, Flags: 0xd},
	InterruptOverride{Bus: 0, Source: 11, GSI: 11, Flags: 0xd},
	LocalAPICNMI{ProcessorUID: 0xff, Flags: 0, LINT: 1},
}

type tableID struct {
	sig    string
	addr   uint64
	length uint32
	rev    uint8
}

func TestFindCaptured(t *testing.T) {
	for _, tc := range []struct {
		machine  string
		rsdp     uint64
		tables   []tableID
		pm1a     GenericAddress
		reset    GenericAddress
		resetVal uint8
		resetOK  bool
		bootArch uint16
		has8042  bool
		dsdt     uint64
	}{
		{
			machine: "pc",
			rsdp:    0xf59d0,
			tables: []tableID{
				{"RSDT", 0x7ffe1b33, 52, 1},
				{"FACP", 0x7ffe19df, 116, 1},
				{"APIC", 0x7ffe1a53, 128, 1},
				{"HPET", 0x7ffe1ad3, 56, 1},
				{"WAET", 0x7ffe1b0b, 40, 1},
				{"DSDT", 0x7ffe0040, 6559, 1},
			},
			pm1a:     GenericAddress{SpaceID: SystemIO, BitWidth: 16, Address: 0x604},
			bootArch: 0,
			has8042:  true,
			dsdt:     0x7ffe0040,
		},
		{
			machine: "q35",
			rsdp:    0xf59e0,
			tables: []tableID{
				{"RSDT", 0x7ffe233c, 56, 1},
				{"FACP", 0x7ffe212c, 244, 3},
				{"APIC", 0x7ffe2220, 128, 1},
				{"HPET", 0x7ffe22a0, 56, 1},
				{"MCFG", 0x7ffe22d8, 60, 1},
				{"WAET", 0x7ffe2314, 40, 1},
				{"DSDT", 0x7ffe0040, 8428, 1},
			},
			pm1a:     GenericAddress{SpaceID: SystemIO, BitWidth: 16, Address: 0x604},
			reset:    GenericAddress{SpaceID: SystemIO, BitWidth: 8, Address: 0xcf9},
			resetVal: 0x0f,
			resetOK:  true,
			bootArch: 1 << IAPC_8042,
			has8042:  true,
			dsdt:     0x7ffe0040,
		},
	} {
		t.Run(tc.machine, func(t *testing.T) {
			tabs, err := Find(captured(t, tc.machine))
			if err != nil {
				t.Fatal(err)
			}
			if tabs.RSDP.Address != tc.rsdp || tabs.RSDP.Revision != 0 || tabs.RSDP.OEMID != "BOCHS" {
				t.Errorf("RSDP = %+v, want at %#x rev 0 OEM BOCHS", tabs.RSDP, tc.rsdp)
			}
			var got []tableID
			for _, h := range tabs.Tables {
				got = append(got, tableID{h.Signature, h.Address, h.Length, h.Revision})
				if h.OEMID != "BOCHS" {
					t.Errorf("%s OEM ID %q, want BOCHS", h.Signature, h.OEMID)
				}
			}
			if !reflect.DeepEqual(got, tc.tables) {
				t.Errorf("tables\n got %v\nwant %v", got, tc.tables)
			}

			f := tabs.FADT
			if f == nil {
				t.Fatal("no FADT")
			}
			port, err := f.PMTimerPort()
			if err != nil || port != 0x608 {
				t.Errorf("PMTimerPort() = %#x, %v, want 0x608", port, err)
			}
			if w := f.PMTimerWidth(); w != 24 {
				t.Errorf("PMTimerWidth() = %d, want 24", w)
			}
			if f.SCIInterrupt != 9 {
				t.Errorf("SCI_INT = %d, want 9", f.SCIInterrupt)
			}
			if a, b := f.PM1Control(); a != tc.pm1a || b.Address != 0 {
				t.Errorf("PM1Control() = %+v, %+v, want %+v, none", a, b, tc.pm1a)
			}
			reg, val, ok := f.Reset()
			if reg != tc.reset || val != tc.resetVal || ok != tc.resetOK {
				t.Errorf("Reset() = %+v, %#x, %v, want %+v, %#x, %v", reg, val, ok, tc.reset, tc.resetVal, tc.resetOK)
			}
			if f.IAPCBootArch != tc.bootArch || f.Has8042() != tc.has8042 {
				t.Errorf("IAPC_BOOT_ARCH %#x Has8042 %v, want %#x %v", f.IAPCBootArch, f.Has8042(), tc.bootArch, tc.has8042)
			}
			if f.DSDTAddress() != tc.dsdt {
				t.Errorf("DSDTAddress() = %#x, want %#x", f.DSDTAddress(), tc.dsdt)
			}

			m := tabs.MADT
			if m == nil {
				t.Fatal("no MADT")
			}
			if m.LocalAPICAddress != 0xfee00000 || !m.PCATCompat() {
				t.Errorf("MADT LAPIC %#x PCAT_COMPAT %v, want 0xfee00000 true", m.LocalAPICAddress, m.PCATCompat())
			}
			if !reflect.DeepEqual(m.Entries, qemuMADT) {
				t.Errorf("MADT entries\n got %v\nwant %v", m.Entries, qemuMADT)
			}
			if n := len(m.Processors()); n != 2 {
				t.Errorf("%d processors, want 2", n)
			}
			for _, want := range []ISAInterrupt{
				{IRQ: 0, GSI: 2, Trigger: Edge, Polarity: ActiveHigh},
				{IRQ: 9, GSI: 9, Trigger: Level, Polarity: ActiveHigh},
				{IRQ: 14, GSI: 14, Trigger: Edge, Polarity: ActiveHigh},
				{IRQ: 15, GSI: 15, Trigger: Edge, Polarity: ActiveHigh},
			} {
				got, err := m.ISAInterrupt(want.IRQ)
				if err != nil || got != want {
					t.Errorf("ISAInterrupt(%d) = %v, %v, want %v", want.IRQ, got, err, want)
				}
			}

			if tabs.S5 == nil || *tabs.S5 != (SleepType{0, 0}) {
				t.Errorf("S5 = %v, want SLP_TYPa 0 SLP_TYPb 0", tabs.S5)
			}
		})
	}
}

func TestLinesCaptured(t *testing.T) {
	tabs, err := Find(captured(t, "pc"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`RSDP at 0xf59d0 rev 0 OEM "BOCHS" RSDT 0x7ffe1b33`,
		`RSDT at 0x7ffe1b33 length 52 rev 1 OEM "BOCHS" "BXPC"`,
		`FACP at 0x7ffe19df length 116 rev 1 OEM "BOCHS" "BXPC"`,
		`APIC at 0x7ffe1a53 length 128 rev 1 OEM "BOCHS" "BXPC"`,
		`HPET at 0x7ffe1ad3 length 56 rev 1 OEM "BOCHS" "BXPC"`,
		`WAET at 0x7ffe1b0b length 40 rev 1 OEM "BOCHS" "BXPC"`,
		`DSDT at 0x7ffe0040 length 6559 rev 1 OEM "BOCHS" "BXPC"`,
		`FADT rev 1 SCI 9 PM_TMR io 0x608 (24-bit) PM1a_CNT io 0x604 DSDT 0x7ffe0040 IAPC_BOOT_ARCH 0x0 flags 0x80a5`,
		`MADT LAPIC at 0xfee00000 PCAT_COMPAT`,
		`  LAPIC processor 0 APIC id 0 enabled`,
		`  LAPIC processor 1 APIC id 1 enabled`,
		`  IOAPIC id 0 at 0xfec00000 GSI base 0`,
		`  ISO bus 0 irq 0 -> GSI 2 edge active-high`,
		`  ISO bus 0 irq 5 -> GSI 5 level active-high`,
		`  ISO bus 0 irq 9 -> GSI 9 level active-high`,
		`  ISO bus 0 irq 10 -> GSI 10 level active-high`,
		`  ISO bus 0 irq 11 -> GSI 11 level active-high`,
		`  LAPIC NMI processor all LINT1 flags 0x0`,
		`\_S5 SLP_TYPa 0 SLP_TYPb 0`,
	}
	if got := tabs.Lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("Lines()\n got %q\nwant %q", got, want)
	}
}

// TestFindCapturedErrors corrupts the captured pc memory and checks that the
// error names the structure and its address.
func TestFindCapturedErrors(t *testing.T) {
	const (
		rsdp = 0xf59d0
		rsdt = 0x7ffe1b33
		facp = 0x7ffe19df
		apic = 0x7ffe1a53
		dsdt = 0x7ffe0040
	)
	for _, tc := range []struct {
		name    string
		corrupt func(m fakeMemory) fakeMemory
		is      error
		want    string
	}{
		{"RSDP checksum", func(m fakeMemory) fakeMemory { m.at(rsdp)[RSDP_CHECKSUM]++; return m },
			ErrChecksum, "RSDP at 0xf59d0"},
		{"no RSDP", func(m fakeMemory) fakeMemory { m.at(rsdp)[0] = 'X'; return m },
			ErrNotFound, "RSDP not found"},
		{"RSDT checksum", func(m fakeMemory) fakeMemory { m.at(rsdt + 40)[0]++; return m },
			ErrChecksum, "RSDT at 0x7ffe1b33"},
		{"RSDT signature", func(m fakeMemory) fakeMemory { m.at(rsdt)[0] = 'X'; return m },
			nil, `RSDT at 0x7ffe1b33: signature is "XSDT"`},
		{"APIC checksum", func(m fakeMemory) fakeMemory { m.at(apic + 50)[0]++; return m },
			ErrChecksum, "APIC at 0x7ffe1a53"},
		{"FACP checksum", func(m fakeMemory) fakeMemory { m.at(facp + SDT_OEMID)[0]++; return m },
			ErrChecksum, "FACP at 0x7ffe19df"},
		{"DSDT checksum", func(m fakeMemory) fakeMemory { m.at(dsdt + 1000)[0]++; return m },
			ErrChecksum, "DSDT at 0x7ffe0040"},
		{"DSDT truncated", func(m fakeMemory) fakeMemory {
			// The DSDT's length runs 100 bytes past the end of memory.
			b := m.at(dsdt)
			binary.LittleEndian.PutUint32(b[SDT_LENGTH:], uint32(len(b)+100))
			return m
		}, ErrTruncated, "DSDT at 0x7ffe0040: truncated: read 12224 of 12324 bytes"},
		{"FACP shorter than ACPI 1.0", func(m fakeMemory) fakeMemory {
			b := m.at(facp)
			binary.LittleEndian.PutUint32(b[SDT_LENGTH:], 100)
			b[SDT_CHECKSUM] -= checksum(b[:100])
			return m
		}, ErrTruncated, "FACP at 0x7ffe19df: truncated: length 100"},
		{"table length below header", func(m fakeMemory) fakeMemory {
			b := m.at(apic)
			binary.LittleEndian.PutUint32(b[SDT_LENGTH:], 20)
			return m
		}, ErrTruncated, "APIC at 0x7ffe1a53: truncated: length 20 is shorter than the header"},
		{"MADT entry overruns", func(m fakeMemory) fakeMemory {
			b := m.at(apic)
			b[MADT_ENTRIES+1] = 200 // first LAPIC entry
			b[SDT_CHECKSUM] -= 200 - PROCESSOR_LOCAL_APIC_LENGTH
			return m
		}, ErrTruncated, "APIC at 0x7ffe1a53: truncated: entry type 0 at offset 44 length 200"},
		{"RSDT null entry", func(m fakeMemory) fakeMemory {
			b := m.at(rsdt)
			old := b[SDT_HEADER_LENGTH : SDT_HEADER_LENGTH+4]
			b[SDT_CHECKSUM] += checksum(old)
			copy(old, []byte{0, 0, 0, 0})
			return m
		}, nil, "RSDT at 0x7ffe1b33: entry 0 is a null pointer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Find(tc.corrupt(captured(t, "pc")))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("error %q, want it to contain %q and wrap %v", err, tc.want, tc.is)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is not one line", err)
			}
		})
	}
}

// sdt builds a table with a valid header and checksum.
func sdt(sig string, rev uint8, body []byte) []byte {
	b := make([]byte, SDT_HEADER_LENGTH, SDT_HEADER_LENGTH+len(body))
	copy(b, sig)
	b[SDT_REVISION] = rev
	copy(b[SDT_OEMID:], "TEST  ")
	copy(b[SDT_OEM_TABLE_ID:], "SYNTHETC")
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b[SDT_LENGTH:], uint32(len(b)))
	fixChecksum(b)
	return b
}

// fixChecksum makes table b sum to zero again after a test changed it.
func fixChecksum(b []byte) {
	b[SDT_CHECKSUM] = 0
	b[SDT_CHECKSUM] = -checksum(b)
}

// Where synth puts things.
const (
	synthEBDASegment = 0x9fc0
	synthEBDARSDP    = 0x9fc20
	synthBIOSRSDP    = 0xf0000
	synthRSDT        = 0x100000
	synthXSDT        = 0x100800
	synthTables      = 0x101000
	synthDSDT        = 0x200000
)

// synth describes a synthetic machine: an RSDP of revision rev, in the EBDA
// or at synthBIOSRSDP, whose root table lists tables. A revision 2 RSDP
// points at an XSDT listing tables and an RSDT listing nothing, so a test
// sees which one was used; noXSDT leaves the XSDT address 0. The DSDT, if
// any, is at synthDSDT.
type synth struct {
	rev    uint8
	ebda   bool
	noXSDT bool
	tables [][]byte
	dsdt   []byte
}

func (s synth) memory() fakeMemory {
	bda := make([]byte, 0x100)
	binary.LittleEndian.PutUint16(bda[EBDA_POINTER-0x400:], synthEBDASegment)
	ebda := make([]byte, EBDA_SEARCH_LENGTH)
	bios := make([]byte, BIOS_AREA_END-BIOS_AREA_START+1)

	var rsdt32, xsdt64, data []byte
	for _, t := range s.tables {
		addr := synthTables + len(data)
		rsdt32 = binary.LittleEndian.AppendUint32(rsdt32, uint32(addr))
		xsdt64 = binary.LittleEndian.AppendUint64(xsdt64, uint64(addr))
		data = append(data, t...)
	}
	m := fakeMemory{{0x400, bda}, {0x9fc00, ebda}, {BIOS_AREA_START, bios}, {synthTables, data}}
	if s.dsdt != nil {
		m = append(m, window{synthDSDT, s.dsdt})
	}

	rsdp := make([]byte, RSDP_V2_LENGTH)
	copy(rsdp, RSDP_SIGNATURE)
	copy(rsdp[RSDP_OEMID:], "TEST  ")
	rsdp[RSDP_REVISION] = s.rev
	binary.LittleEndian.PutUint32(rsdp[RSDP_RSDT_ADDRESS:], synthRSDT)
	if s.rev < 2 {
		rsdp = rsdp[:RSDP_V1_LENGTH]
		m = append(m, window{synthRSDT, sdt("RSDT", 1, rsdt32)})
	} else {
		binary.LittleEndian.PutUint32(rsdp[RSDP_LENGTH:], RSDP_V2_LENGTH)
		if !s.noXSDT {
			binary.LittleEndian.PutUint64(rsdp[RSDP_XSDT_ADDRESS:], synthXSDT)
			m = append(m, window{synthRSDT, sdt("RSDT", 1, nil)}, window{synthXSDT, sdt("XSDT", 1, xsdt64)})
		} else {
			m = append(m, window{synthRSDT, sdt("RSDT", 1, rsdt32)})
		}
	}
	rsdp[RSDP_CHECKSUM] = -checksum(rsdp[:RSDP_V1_LENGTH])
	if s.rev >= 2 {
		rsdp[RSDP_EXTENDED_CHECKSUM] = -checksum(rsdp)
	}
	if s.ebda {
		copy(m.at(synthEBDARSDP), rsdp)
	} else {
		copy(m.at(synthBIOSRSDP), rsdp)
	}
	return m
}

// fadt builds an FADT of the given revision and length, with set filling
// fields, pointing at synthDSDT.
func fadt(rev uint8, length int, set func(b []byte)) []byte {
	b := sdt("FACP", rev, make([]byte, length-SDT_HEADER_LENGTH))
	binary.LittleEndian.PutUint32(b[FADT_DSDT:], synthDSDT)
	if set != nil {
		set(b)
	}
	fixChecksum(b)
	return b
}

// gas encodes a Generic Address Structure.
func gas(space, width uint8, addr uint64) []byte {
	b := []byte{space, width, 0, 0}
	return binary.LittleEndian.AppendUint64(b, addr)
}
