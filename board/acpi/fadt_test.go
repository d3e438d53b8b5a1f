package acpi

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// decodeAt reads table b from a fake memory at addr, as Find does.
func decodeAt(t *testing.T, b []byte, addr uint64) (Header, []byte) {
	t.Helper()
	h, tb, err := readTable(fakeMemory{{addr, b}}, addr, "")
	if err != nil {
		t.Fatal(err)
	}
	return h, tb
}

func TestDecodeFADT(t *testing.T) {
	le := binary.LittleEndian
	const fadtV3 = 244
	for _, tc := range []struct {
		name    string
		b       []byte
		timer   GenericAddress
		port    uint16
		portErr string
		width   int
		pm1a    GenericAddress
		pm1b    GenericAddress
		dsdt    uint64
		reset   bool
		legacy  bool
		has8042 bool
	}{
		{
			name: "ACPI 1.0, 24-bit timer",
			b: fadt(1, FADT_V1_LENGTH, func(b []byte) {
				le.PutUint32(b[FADT_PM_TMR_BLK:], 0x608)
				b[FADT_PM_TMR_LEN] = 4
				le.PutUint32(b[FADT_PM1A_CNT_BLK:], 0x604)
				b[FADT_PM1_CNT_LEN] = 2
				le.PutUint32(b[FADT_FLAGS:], 1<<RESET_REG_SUP) // no RESET_REG in a 116-byte FADT
			}),
			timer:   GenericAddress{SpaceID: SystemIO, BitWidth: 32, Address: 0x608},
			port:    0x608,
			width:   24,
			pm1a:    GenericAddress{SpaceID: SystemIO, BitWidth: 16, Address: 0x604},
			dsdt:    synthDSDT,
			legacy:  true,
			has8042: true,
		},
		{
			name: "32-bit timer, X_ blocks win, PM1b, reset",
			b: fadt(3, fadtV3, func(b []byte) {
				le.PutUint32(b[FADT_PM_TMR_BLK:], 0x408)
				copy(b[FADT_X_PM_TMR_BLK:], gas(SystemIO, 32, 0xb008))
				le.PutUint32(b[FADT_PM1A_CNT_BLK:], 0x404)
				le.PutUint32(b[FADT_PM1B_CNT_BLK:], 0x504)
				b[FADT_PM1_CNT_LEN] = 2
				copy(b[FADT_X_PM1A_CNT_BLK:], gas(SystemIO, 16, 0x1804))
				le.PutUint32(b[FADT_FLAGS:], 1<<TMR_VAL_EXT|1<<RESET_REG_SUP)
				copy(b[FADT_RESET_REG:], gas(SystemIO, 8, 0xcf9))
				b[FADT_RESET_VALUE] = 6
				le.PutUint64(b[FADT_X_DSDT:], 0x1_0000_0000)
				le.PutUint16(b[FADT_IAPC_BOOT_ARCH:], 1<<LEGACY_DEVICES)
			}),
			timer:  GenericAddress{SpaceID: SystemIO, BitWidth: 32, Address: 0xb008},
			port:   0xb008,
			width:  32,
			pm1a:   GenericAddress{SpaceID: SystemIO, BitWidth: 16, Address: 0x1804},
			pm1b:   GenericAddress{SpaceID: SystemIO, BitWidth: 16, Address: 0x504},
			dsdt:   0x1_0000_0000,
			reset:  true,
			legacy: true,
		},
		{
			name: "timer in memory space",
			b: fadt(3, fadtV3, func(b []byte) {
				copy(b[FADT_X_PM_TMR_BLK:], gas(SystemMemory, 32, 0xfed00f00))
			}),
			timer:   GenericAddress{SpaceID: SystemMemory, BitWidth: 32, Address: 0xfed00f00},
			portErr: "FACP at 0x1000: PM timer at mem 0xfed00f00 is not in System I/O space",
			width:   24,
			dsdt:    synthDSDT,
		},
		{
			name:    "no timer",
			b:       fadt(3, fadtV3, nil),
			portErr: "FACP at 0x1000: no PM timer",
			width:   24,
			dsdt:    synthDSDT,
		},
		{
			name: "X_ fields past a short revision 2 table are ignored",
			b: fadt(2, 129, func(b []byte) {
				le.PutUint32(b[FADT_PM_TMR_BLK:], 0x808)
				le.PutUint16(b[FADT_IAPC_BOOT_ARCH:], 1<<IAPC_8042)
			}),
			timer:   GenericAddress{SpaceID: SystemIO, Address: 0x808},
			port:    0x808,
			width:   24,
			dsdt:    synthDSDT,
			has8042: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := decodeFADT(decodeAt(t, tc.b, 0x1000))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.PMTimer(); got != tc.timer {
				t.Errorf("PMTimer() = %+v, want %+v", got, tc.timer)
			}
			port, err := f.PMTimerPort()
			switch {
			case tc.portErr == "" && (err != nil || port != tc.port):
				t.Errorf("PMTimerPort() = %#x, %v, want %#x", port, err, tc.port)
			case tc.portErr != "" && (err == nil || !strings.Contains(err.Error(), tc.portErr)):
				t.Errorf("PMTimerPort() error %v, want %q", err, tc.portErr)
			}
			if w := f.PMTimerWidth(); w != tc.width {
				t.Errorf("PMTimerWidth() = %d, want %d", w, tc.width)
			}
			if a, b := f.PM1Control(); a != tc.pm1a || b != tc.pm1b {
				t.Errorf("PM1Control() = %+v, %+v, want %+v, %+v", a, b, tc.pm1a, tc.pm1b)
			}
			if f.DSDTAddress() != tc.dsdt {
				t.Errorf("DSDTAddress() = %#x, want %#x", f.DSDTAddress(), tc.dsdt)
			}
			reg, v, ok := f.Reset()
			if ok != tc.reset || (ok && (reg != GenericAddress{SpaceID: SystemIO, BitWidth: 8, Address: 0xcf9} || v != 6)) {
				t.Errorf("Reset() = %+v, %d, %v, want reset %v", reg, v, ok, tc.reset)
			}
			if f.LegacyDevices() != tc.legacy || f.Has8042() != tc.has8042 {
				t.Errorf("LegacyDevices() %v Has8042() %v, want %v %v", f.LegacyDevices(), f.Has8042(), tc.legacy, tc.has8042)
			}
		})
	}
}

func TestDecodeFADTShort(t *testing.T) {
	_, err := decodeFADT(decodeAt(t, sdt("FACP", 1, make([]byte, 60)), 0x1000))
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "FACP at 0x1000: truncated: length 96") {
		t.Errorf("error %v, want a truncation naming FACP at 0x1000", err)
	}
}
