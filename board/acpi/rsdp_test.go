package acpi

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestFindSynthetic(t *testing.T) {
	pmTimer := func(b []byte) { binary.LittleEndian.PutUint32(b[FADT_PM_TMR_BLK:], 0x408) }
	dsdt := sdt("DSDT", 2, []byte{NameOp, '_', 'S', '5', '_', PackageOp, 0x04, 0x02, OneOp, OneOp})
	for _, tc := range []struct {
		name   string
		s      synth
		poke   func(m fakeMemory)
		rsdp   uint64
		tables []string
	}{
		{
			name:   "v0 in BIOS area, RSDT",
			s:      synth{rev: 0, tables: [][]byte{fadt(1, FADT_V1_LENGTH, pmTimer)}, dsdt: dsdt},
			rsdp:   synthBIOSRSDP,
			tables: []string{"RSDT", "FACP", "DSDT"},
		},
		{
			name:   "v0 in EBDA",
			s:      synth{rev: 0, ebda: true, tables: [][]byte{fadt(1, FADT_V1_LENGTH, pmTimer)}, dsdt: dsdt},
			rsdp:   synthEBDARSDP,
			tables: []string{"RSDT", "FACP", "DSDT"},
		},
		{
			name:   "v2 uses XSDT",
			s:      synth{rev: 2, tables: [][]byte{fadt(1, FADT_V1_LENGTH, pmTimer), sdt("SSDT", 1, nil)}, dsdt: dsdt},
			rsdp:   synthBIOSRSDP,
			tables: []string{"XSDT", "FACP", "SSDT", "DSDT"},
		},
		{
			name:   "v2 without XSDT uses RSDT",
			s:      synth{rev: 2, noXSDT: true, tables: [][]byte{fadt(1, FADT_V1_LENGTH, pmTimer)}, dsdt: dsdt},
			rsdp:   synthBIOSRSDP,
			tables: []string{"RSDT", "FACP", "DSDT"},
		},
		{
			name: "bad candidate before the RSDP is skipped",
			s:    synth{rev: 0, tables: [][]byte{fadt(1, FADT_V1_LENGTH, pmTimer)}, dsdt: dsdt},
			poke: func(m fakeMemory) {
				copy(m.at(BIOS_AREA_START+0x100), RSDP_SIGNATURE+"garbage")
			},
			rsdp:   synthBIOSRSDP,
			tables: []string{"RSDT", "FACP", "DSDT"},
		},
		{
			name:   "no FADT, no DSDT",
			s:      synth{rev: 0, tables: [][]byte{sdt("HPET", 1, make([]byte, 20))}},
			rsdp:   synthBIOSRSDP,
			tables: []string{"RSDT", "HPET"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.s.memory()
			if tc.poke != nil {
				tc.poke(m)
			}
			tabs, err := Find(m)
			if err != nil {
				t.Fatal(err)
			}
			if tabs.RSDP.Address != tc.rsdp || tabs.RSDP.Revision != tc.s.rev || tabs.RSDP.OEMID != "TEST" {
				t.Errorf("RSDP %+v, want at %#x rev %d OEM TEST", tabs.RSDP, tc.rsdp, tc.s.rev)
			}
			var sigs []string
			for _, h := range tabs.Tables {
				sigs = append(sigs, h.Signature)
			}
			if strings.Join(sigs, " ") != strings.Join(tc.tables, " ") {
				t.Errorf("tables %v, want %v", sigs, tc.tables)
			}
			if tc.s.dsdt == nil {
				if tabs.S5 != nil {
					t.Errorf("S5 = %v without a DSDT", tabs.S5)
				}
				return
			}
			if port, err := tabs.FADT.PMTimerPort(); port != 0x408 || err != nil {
				t.Errorf("PMTimerPort() = %#x, %v, want 0x408", port, err)
			}
			if tabs.S5 == nil || *tabs.S5 != (SleepType{1, 1}) {
				t.Errorf("S5 = %v, want 1, 1", tabs.S5)
			}
		})
	}
}

func TestFindSyntheticErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    synth
		poke func(m fakeMemory)
		is   error
		want string
	}{
		{
			name: "v2 extended checksum",
			s:    synth{rev: 2},
			poke: func(m fakeMemory) { m.at(synthBIOSRSDP)[RSDP_XSDT_ADDRESS+7] = 1 },
			is:   ErrChecksum,
			want: "RSDP at 0xf0000: bad checksum (extended",
		},
		{
			name: "v2 length too short",
			s:    synth{rev: 2},
			poke: func(m fakeMemory) {
				b := m.at(synthBIOSRSDP)
				b[RSDP_LENGTH] = 20
				b[RSDP_EXTENDED_CHECKSUM] += 16
			},
			is:   ErrTruncated,
			want: "RSDP at 0xf0000: truncated: revision 2 length 20",
		},
		{
			name: "RSDP off its 16-byte boundary",
			s:    synth{rev: 0},
			poke: func(m fakeMemory) {
				b := m.at(synthBIOSRSDP)
				copy(b[4:], b[:RSDP_V1_LENGTH])
				copy(b, "junk")
			},
			is:   ErrNotFound,
			want: "RSDP not found in the EBDA (0x9fc00) or 0xe0000-0xfffff",
		},
		{
			name: "XSDT entries not a multiple of 8",
			s:    synth{rev: 2, tables: [][]byte{sdt("SSDT", 1, nil)}},
			poke: func(m fakeMemory) {
				b := m.at(synthXSDT)
				binary.LittleEndian.PutUint32(b[SDT_LENGTH:], SDT_HEADER_LENGTH+4)
				fixChecksum(b[:SDT_HEADER_LENGTH+4])
			},
			is:   ErrTruncated,
			want: "XSDT at 0x100800: truncated: 4 entry bytes are not a multiple of 8",
		},
		{
			name: "DSDT missing",
			s:    synth{rev: 0, tables: [][]byte{fadt(1, FADT_V1_LENGTH, nil)}},
			is:   ErrTruncated,
			want: "DSDT at 0x200000: truncated: read 0 of 36 bytes (unmapped address 0x200000)",
		},
		{
			name: "DSDT signature",
			s:    synth{rev: 0, tables: [][]byte{fadt(1, FADT_V1_LENGTH, nil)}, dsdt: sdt("SSDT", 1, nil)},
			want: `DSDT at 0x200000: signature is "SSDT"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.s.memory()
			if tc.poke != nil {
				tc.poke(m)
			}
			_, err := Find(m)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("error %q, want it to contain %q and wrap %v", err, tc.want, tc.is)
			}
		})
	}
}

func TestFromRSDP(t *testing.T) {
	m := captured(t, "q35")
	tabs, err := FromRSDP(m, 0xf59e0)
	if err != nil {
		t.Fatal(err)
	}
	if tabs.FADT == nil || tabs.MADT == nil || tabs.S5 == nil {
		t.Errorf("FromRSDP: FADT %v MADT %v S5 %v, want all three", tabs.FADT, tabs.MADT, tabs.S5)
	}
	if _, err := FromRSDP(m, 0xf59e0+16); err == nil || !strings.Contains(err.Error(), "RSDP at 0xf59f0: signature") {
		t.Errorf("FromRSDP at a wrong address: %v, want a signature error", err)
	}
}
