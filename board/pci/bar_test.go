package pci

import (
	"reflect"
	"testing"
)

func TestSizeBARs(t *testing.T) {
	type bar struct {
		i           int
		value, mask uint32
	}
	for _, tc := range []struct {
		name     string
		header   uint8
		bars     []bar
		want     []BAR
		problems []string
	}{
		{"none", HEADER_TYPE_NORMAL, nil, nil, nil},
		{"PIIX3 BMIBA: 16 bytes of I/O, upper half hardwired to 0", HEADER_TYPE_NORMAL,
			[]bar{{4, 0xc041, 0x0000fff0}},
			[]BAR{{Index: 4, IO: true, Addr: 0xc040, Size: 16}}, nil},
		{"I/O BAR with writable upper half", HEADER_TYPE_NORMAL,
			[]bar{{1, 0xc001, 0xffffff00}},
			[]BAR{{Index: 1, IO: true, Addr: 0xc000, Size: 0x100}}, nil},
		{"32-bit memory, prefetchable", HEADER_TYPE_NORMAL,
			[]bar{{0, 0xfd000008, 0xff000000}},
			[]BAR{{Index: 0, Addr: 0xfd000000, Size: 16 << 20, Prefetch: true}}, nil},
		{"below-1M type decodes as 32-bit", HEADER_TYPE_NORMAL,
			[]bar{{0, 0x000d0002, 0xffffc000}},
			[]BAR{{Index: 0, Addr: 0xd0000, Size: 0x4000}}, nil},
		{"64-bit memory above 4 GiB", HEADER_TYPE_NORMAL,
			[]bar{{2, 0x0000000c, 0xffffc000}, {3, 0x8, 0xffffffff}},
			[]BAR{{Index: 2, Addr: 0x8_0000_0000, Size: 0x4000, Prefetch: true, Mem64: true}}, nil},
		{"64-bit memory of 8 GiB", HEADER_TYPE_NORMAL,
			[]bar{{0, 0x0000000c, 0x00000000}, {1, 0x4, 0xfffffffe}},
			[]BAR{{Index: 0, Addr: 0x4_0000_0000, Size: 8 << 30, Prefetch: true, Mem64: true}}, nil},
		{"64-bit in the last slot", HEADER_TYPE_NORMAL,
			[]bar{{5, 0x4, 0xfffff000}}, nil, []string{"BAR5: 64-bit BAR in the last slot"}},
		{"reserved memory type", HEADER_TYPE_NORMAL,
			[]bar{{0, 0x6, 0xfffff000}, {1, 0xfebf0000, 0xfffff000}},
			[]BAR{{Index: 1, Addr: 0xfebf0000, Size: 0x1000}}, []string{"BAR0: reserved memory type 0b11"}},
		{"bridge: two BARs only", HEADER_TYPE_BRIDGE,
			[]bar{{0, 0xfe000000, 0xfffff000}, {1, 0xc001, 0xfff0}},
			[]BAR{{Index: 0, Addr: 0xfe000000, Size: 0x1000}, {Index: 1, IO: true, Addr: 0xc000, Size: 0x10}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFn(0x1234, 0x5678, 0xff, 0, 0, tc.header).cmd(0x0007, 0x4000)
			for _, b := range tc.bars {
				fake.bar(b.i, b.value, b.mask)
			}
			c := &fakeConfig{t: t, fns: map[bdf]*fakeFunction{{0, 0, 0}: fake}}
			before := fake.regs
			f := readFunction(c, 0, 0, 0)
			if !reflect.DeepEqual(f.BARs, tc.want) || !reflect.DeepEqual(f.Problems, tc.problems) {
				t.Errorf("BARs %+v problems %q\nwant %+v problems %q", f.BARs, f.Problems, tc.want, tc.problems)
			}
			if fake.regs != before {
				t.Errorf("registers changed:\n before %x\n after  %x", before, fake.regs)
			}
			if len(c.writes) == 0 || c.writes[0].off != COMMAND || c.writes[0].v != 0x0000_0004 {
				t.Errorf("first write %+v, want COMMAND 0x4 (decode off, bus master kept, Status as 0)", c.writes)
			}
			if last := c.writes[len(c.writes)-1]; last.off != COMMAND || last.v != 0x0000_0007 {
				t.Errorf("last write %+v, want COMMAND restored to 0x7", last)
			}
		})
	}
}

func TestBARString(t *testing.T) {
	for _, tc := range []struct {
		b    BAR
		want string
	}{
		{BAR{Index: 4, IO: true, Addr: 0xc040, Size: 16}, "BAR4 io 0xc040 size 0x10"},
		{BAR{Index: 0, Addr: 0xfebf0000, Size: 0x1000}, "BAR0 mem32 0xfebf0000 size 0x1000"},
		{BAR{Index: 2, Addr: 0x8_0000_0000, Size: 0x4000, Prefetch: true, Mem64: true}, "BAR2 mem64 0x800000000 size 0x4000 prefetch"},
	} {
		if got := tc.b.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
