package shell

import (
	"strings"
	"testing"
)

func TestHexDump(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr uint64
		data string
		want string
	}{
		{"empty", 0, "", ""},
		{"full line", 0x1000, "0123456789abcdef",
			"00001000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n"},
		{"partial lines", 0xfee00000, "ATA\x00disk\xff\x7f\n123456789",
			"fee00000  41 54 41 00 64 69 73 6b  ff 7f 0a 31 32 33 34 35  |ATA.disk...12345|\n" +
				"fee00010  36 37 38 39                                       |6789|\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := HexDump(&b, tc.addr, []byte(tc.data)); err != nil || b.String() != tc.want {
				t.Errorf("HexDump = %v\n%q, want\n%q", err, b.String(), tc.want)
			}
		})
	}
}
