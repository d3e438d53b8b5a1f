package sff

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/ataport/firmware/miniport"
)

type prd struct {
	addr  uint32
	count uint32 // byte count field as written: 0 means 64 KiB
	eot   bool
}

func decodePRD(table []byte, n int) []prd {
	var out []prd
	for i := 0; i < n; i++ {
		ctl := binary.LittleEndian.Uint32(table[i*8+4:])
		out = append(out, prd{binary.LittleEndian.Uint32(table[i*8:]), ctl & 0xffff, ctl&PRD_EOT != 0})
	}
	return out
}

// Known answers for the PRD table (SFF-8038i 2.1): no descriptor crosses a
// 64 KiB boundary, 64 KiB is written as 0, the last one has EOT.
func TestFillPRD(t *testing.T) {
	for _, tc := range []struct {
		name string
		sg   []miniport.Segment
		want []prd
	}{
		{"one sector", []miniport.Segment{{Addr: 0x50001000, Length: 512}},
			[]prd{{0x50001000, 512, true}}},
		{"exactly 64 KiB aligned", []miniport.Segment{{Addr: 0x50010000, Length: 0x10000}},
			[]prd{{0x50010000, 0, true}}},
		{"crosses one boundary", []miniport.Segment{{Addr: 0x5000f000, Length: 0x2000}},
			[]prd{{0x5000f000, 0x1000, false}, {0x50010000, 0x1000, true}}},
		{"256 KiB from a 4 KiB-aligned address", []miniport.Segment{{Addr: 0x50001000, Length: 0x40000}},
			[]prd{
				{0x50001000, 0xf000, false},
				{0x50010000, 0, false},
				{0x50020000, 0, false},
				{0x50030000, 0, false},
				{0x50040000, 0x1000, true},
			}},
		{"two segments", []miniport.Segment{{Addr: 0x1000, Length: 0x200}, {Addr: 0x3fffe, Length: 4}},
			[]prd{{0x1000, 0x200, false}, {0x3fffe, 2, false}, {0x40000, 2, true}}},
		{"up to 4 GiB", []miniport.Segment{{Addr: 0xffff0000, Length: 0x10000}},
			[]prd{{0xffff0000, 0, true}}},
	} {
		table := make([]byte, 16*PRDEntrySize)
		n, err := FillPRD(table, tc.sg)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := decodePRD(table, n)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d entries %+v, want %+v", tc.name, n, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: entry %d = %+v, want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestFillPRDErrors(t *testing.T) {
	for _, tc := range []struct {
		sg      []miniport.Segment
		entries int
		err     string
	}{
		{nil, 4, "empty"},
		{[]miniport.Segment{{Addr: 0x1001, Length: 512}}, 4, "even"},
		{[]miniport.Segment{{Addr: 0x1000, Length: 511}}, 4, "even"},
		{[]miniport.Segment{{Addr: 0xffff0000, Length: 0x20000}}, 4, "4 GiB"},
		{[]miniport.Segment{{Addr: 0x1000, Length: 0x40000}}, 4, "too small"},
	} {
		_, err := FillPRD(make([]byte, tc.entries*PRDEntrySize), tc.sg)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("FillPRD(%+v) error %v, want %q", tc.sg, err, tc.err)
		}
	}
}

func TestPRDTableLayout(t *testing.T) {
	for _, tc := range []struct{ entries, size, align int }{
		{1, 8, 8}, {16, 128, 128}, {3, 24, 32}, {8192, 65536, 65536},
	} {
		if size, align := PRDTableLayout(tc.entries); size != tc.size || align != tc.align {
			t.Errorf("PRDTableLayout(%d) = %d, %d; want %d, %d", tc.entries, size, align, tc.size, tc.align)
		}
	}
}
