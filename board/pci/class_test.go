package pci

import "testing"

func TestClassName(t *testing.T) {
	for _, tc := range []struct {
		class, sub, progIF uint8
		want               string
	}{
		{0x01, 0x01, 0x80, "IDE controller"},
		{0x01, 0x01, 0x8a, "IDE controller"},
		{0x01, 0x06, 0x01, "SATA AHCI controller"},
		{0x01, 0x06, 0x00, "SATA controller"},
		{0x01, 0x08, 0x02, "NVMe controller"},
		{0x01, 0x80, 0x00, "mass storage controller"},
		{0x02, 0x00, 0x00, "Ethernet controller"},
		{0x03, 0x00, 0x00, "VGA-compatible controller"},
		{0x06, 0x00, 0x00, "host bridge"},
		{0x06, 0x01, 0x00, "ISA bridge"},
		{0x06, 0x04, 0x00, "PCI-to-PCI bridge"},
		{0x06, 0x04, 0x01, "PCI-to-PCI bridge"},
		{0x0c, 0x03, 0x30, "USB xHCI controller"},
		{0xff, 0x00, 0x00, "unknown class"},
	} {
		if got := ClassName(tc.class, tc.sub, tc.progIF); got != tc.want {
			t.Errorf("ClassName(%02x/%02x/%02x) = %q, want %q", tc.class, tc.sub, tc.progIF, got, tc.want)
		}
	}
}
