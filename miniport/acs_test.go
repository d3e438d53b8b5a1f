package miniport

import "testing"

func TestStatusString(t *testing.T) {
	for _, tc := range []struct {
		st   uint8
		want string
	}{
		{0x00, "none"},
		{0x50, "DRDY|DSC"},
		{0x51, "DRDY|DSC|ERR"},
		{0x41, "DRDY|ERR"},
		{0x58, "DRDY|DSC|DRQ"},
		{0x80, "BSY"},
		{0xd0, "BSY|DRDY|DSC"},
		{0x21, "DF|ERR"},
		{0xff, "BSY|DRDY|DF|DSC|DRQ|CORR|IDX|ERR"},
	} {
		if got := StatusString(tc.st); got != tc.want {
			t.Errorf("StatusString(%#02x) = %q, want %q", tc.st, got, tc.want)
		}
	}
}

func TestErrorString(t *testing.T) {
	for _, tc := range []struct {
		e    uint8
		want string
	}{
		{0x00, "none"},
		{0x04, "ABRT"},
		{0x40, "UNC"},
		{0x44, "UNC|ABRT"},
		{0x10, "IDNF"},
		{0x14, "IDNF|ABRT"},
		{0x84, "ICRC|ABRT"},
	} {
		if got := ErrorString(tc.e); got != tc.want {
			t.Errorf("ErrorString(%#02x) = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestPacketErrorString(t *testing.T) {
	for _, tc := range []struct {
		e    uint8
		want string
	}{
		{0x54, "sense key 0x5 ILLEGAL REQUEST|ABRT"},
		{0x60, "sense key 0x6 UNIT ATTENTION"},
		{0x23, "sense key 0x2 NOT READY|EOM|ILI"},
	} {
		if got := PacketErrorString(tc.e); got != tc.want {
			t.Errorf("PacketErrorString(%#02x) = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestCommandString(t *testing.T) {
	for _, tc := range []struct {
		c    Command
		want string
	}{
		{0x20, "READ SECTORS"},
		{0x24, "READ SECTORS EXT"},
		{0xc8, "READ DMA"},
		{0x25, "READ DMA EXT"},
		{0x30, "WRITE SECTORS"},
		{0x34, "WRITE SECTORS EXT"},
		{0xca, "WRITE DMA"},
		{0x35, "WRITE DMA EXT"},
		{0xe7, "FLUSH CACHE"},
		{0xea, "FLUSH CACHE EXT"},
		{0xec, "IDENTIFY DEVICE"},
		{0xa1, "IDENTIFY PACKET DEVICE"},
		{0xa0, "PACKET"},
		{0xef, "SET FEATURES"},
		{0xc6, "SET MULTIPLE MODE"},
		{0x9b, "command 0x9b"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("Command(%#02x).String() = %q, want %q", uint8(tc.c), got, tc.want)
		}
	}
}

func TestTransferModes(t *testing.T) {
	for _, tc := range []struct {
		m      TransferModes
		best   TransferModes
		str    string
		number int
		xfer   uint8
		xferOK bool
	}{
		{0, 0, "none", -1, 0, false},
		{PIO0 | PIO1 | PIO2, PIO2, "PIO0 PIO1 PIO2", 2, 0x0a, true},
		{PIOModes | MWDMA1 | MWDMA2, PIO4 | MWDMA2, "PIO0 PIO1 PIO2 PIO3 PIO4 MWDMA1 MWDMA2", 2, 0x22, true},
		{PIOModes | MWDMAModes | UDMA0 | UDMA1 | UDMA2, PIO4 | UDMA2, "PIO0 PIO1 PIO2 PIO3 PIO4 MWDMA0 MWDMA1 MWDMA2 UDMA0 UDMA1 UDMA2", 2, 0x42, true},
		{PIO4, PIO4, "PIO4", 4, 0x0c, true},
		{UDMA5, UDMA5, "UDMA5", 5, 0x45, true},
		{SWDMA2, SWDMA2, "SWDMA2", 2, 0x12, true},
	} {
		if got := tc.m.Best(); got != tc.best {
			t.Errorf("%v.Best() = %v, want %v", tc.m, got, tc.best)
		}
		if got := tc.m.String(); got != tc.str {
			t.Errorf("String() = %q, want %q", got, tc.str)
		}
		if got := tc.m.Number(); got != tc.number {
			t.Errorf("%v.Number() = %d, want %d", tc.m, got, tc.number)
		}
		if v, ok := tc.m.SetFeaturesValue(); v != tc.xfer || ok != tc.xferOK {
			t.Errorf("%v.SetFeaturesValue() = %#02x %v, want %#02x %v", tc.m, v, ok, tc.xfer, tc.xferOK)
		}
	}
	m := PIO4 | MWDMA2
	if m.PIO() != PIO4 || m.DMA() != MWDMA2 {
		t.Errorf("PIO() %v DMA() %v", m.PIO(), m.DMA())
	}
}
