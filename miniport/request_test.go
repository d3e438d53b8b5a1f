package miniport

import "testing"

// Known answers for the 28-bit and 48-bit task files (ATA8-ACS 4.x): the
// edges at LBA 2^28 and at the largest sector counts.
func TestSetLBA28(t *testing.T) {
	for _, tc := range []struct {
		lba   uint64
		count int
		ok    bool
		want  Registers
	}{
		{0, 1, true, Registers{Count: 1, Device: 0x40}},
		{0x12345678 & 0x0fffffff, 8, true, Registers{Count: 8, LBALow: 0x78, LBAMid: 0x56, LBAHigh: 0x34, Device: 0x42}},
		{0x0ffffffe, 1, true, Registers{Count: 1, LBALow: 0xfe, LBAMid: 0xff, LBAHigh: 0xff, Device: 0x4f}},
		{0x0fffffff, 1, true, Registers{Count: 1, LBALow: 0xff, LBAMid: 0xff, LBAHigh: 0xff, Device: 0x4f}},
		{0x0fffff00, 256, true, Registers{Count: 0, LBALow: 0x00, LBAMid: 0xff, LBAHigh: 0xff, Device: 0x4f}},
		{0x10000000, 1, false, Registers{}},
		{0x0fffffff, 2, false, Registers{}},
		{0, 257, false, Registers{}},
		{0, 0, false, Registers{}},
	} {
		var tf TaskFile
		ok := tf.SetLBA28(tc.lba, tc.count)
		if ok != tc.ok || tf.Current != tc.want || tf.Previous != (Registers{}) {
			t.Errorf("SetLBA28(%#x, %d) = %v %+v %+v, want %v %+v", tc.lba, tc.count, ok, tf.Current, tf.Previous, tc.ok, tc.want)
		}
	}
}

func TestSetLBA48(t *testing.T) {
	for _, tc := range []struct {
		lba       uint64
		count     int
		ok        bool
		cur, prev Registers
	}{
		{0x10000000, 1, true,
			Registers{Count: 1, LBALow: 0, LBAMid: 0, LBAHigh: 0, Device: 0x40},
			Registers{Count: 0, LBALow: 0x10}},
		{0x0fffffff, 256, true,
			Registers{Count: 0, LBALow: 0xff, LBAMid: 0xff, LBAHigh: 0xff, Device: 0x40},
			Registers{Count: 1, LBALow: 0x0f}},
		{0x123456789abc, 65536, true,
			Registers{Count: 0, LBALow: 0xbc, LBAMid: 0x9a, LBAHigh: 0x78, Device: 0x40},
			Registers{Count: 0, LBALow: 0x56, LBAMid: 0x34, LBAHigh: 0x12}},
		{0x1e240, 8, true,
			Registers{Count: 8, LBALow: 0x40, LBAMid: 0xe2, LBAHigh: 0x01, Device: 0x40},
			Registers{}},
		{0, 65537, false, Registers{}, Registers{}},
		{1<<48 - 1, 2, false, Registers{}, Registers{}},
		{1 << 48, 1, false, Registers{}, Registers{}},
	} {
		var tf TaskFile
		ok := tf.SetLBA48(tc.lba, tc.count)
		if ok != tc.ok || tf.Current != tc.cur || tf.Previous != tc.prev {
			t.Errorf("SetLBA48(%#x, %d) = %v %+v %+v, want %v %+v %+v", tc.lba, tc.count, ok, tf.Current, tf.Previous, tc.ok, tc.cur, tc.prev)
		}
	}
}

// ErrorLBA decodes the returned task file as the command's addressing
// decodes it: round trips through SetLBA28 and SetLBA48, and nothing when
// the task file was not read back.
func TestErrorLBA(t *testing.T) {
	for _, tc := range []struct {
		lba   uint64
		lba48 bool
	}{
		{0, false}, {0x0fffffff, false}, {0x0abcdef1, false},
		{0, true}, {0x10000000, true}, {0xfedcba987654, true}, {LBA48Limit - 1, true},
	} {
		r := Request{TaskFileReturned: true}
		if tc.lba48 {
			r.Flags = Flag48Bit
			r.TaskFile.SetLBA48(tc.lba, 1)
		} else {
			r.TaskFile.SetLBA28(tc.lba, 1)
		}
		if got, ok := r.ErrorLBA(); !ok || got != tc.lba {
			t.Errorf("ErrorLBA of %#x (48-bit %v) = %#x %v", tc.lba, tc.lba48, got, ok)
		}
		r.TaskFileReturned = false
		if _, ok := r.ErrorLBA(); ok {
			t.Errorf("ErrorLBA without a returned task file reported one")
		}
	}
}

func TestRequestHelpers(t *testing.T) {
	for _, tc := range []struct {
		flags Flags
		data  int
		ok    bool
	}{
		{0, 0, true}, {FlagDataIn, 512, true}, {FlagDataOut, 512, true},
		{FlagDataIn | FlagDataOut, 512, false}, {FlagDataIn, 0, false}, {0, 512, false},
	} {
		r := Request{Flags: tc.flags, Data: make([]byte, tc.data)}
		if dir, ok := r.DataDirection(); ok != tc.ok || dir != tc.flags&(FlagDataIn|FlagDataOut) {
			t.Errorf("flags %#x data %d: DataDirection %#x %v, want ok %v", tc.flags, tc.data, dir, ok, tc.ok)
		}
	}

	r := Request{Flags: FlagDMA | Flag48Bit | FlagDataIn, Data: make([]byte, 0x10000), CdbLength: 12}
	if !r.PacketValid(12) || r.PacketValid(16) || !r.PacketValid(0) {
		t.Errorf("PacketValid of a 12-byte packet: want true for 12 and 0, false for 16")
	}
	r.SetPacket()
	if c := r.TaskFile.Current; c.Command != uint8(PACKET) || c.Features != PACKET_FEATURES_DMA || c.LBAMid != 0x00 || c.LBAHigh != 0xfc || r.Flags&Flag48Bit != 0 {
		t.Errorf("SetPacket of 64 KiB by DMA: task file %+v flags %#x, want PACKET, DMA, limit FC00h (63 KiB), not 48-bit", c, r.Flags)
	}
	r = Request{Flags: FlagDataIn, Data: make([]byte, 18), CdbLength: 12}
	if r.SetPacket(); r.TaskFile.Current.LBAMid != 18 || r.TaskFile.Current.LBAHigh != 0 || r.TaskFile.Current.Features != 0 {
		t.Errorf("SetPacket of 18 bytes by PIO: task file %+v, want limit 18, no DMA", r.TaskFile.Current)
	}
	if w := (Request{Flags: FlagDataOut, CdbLength: 12}); w.PacketValid(12) {
		t.Errorf("PacketValid of a packet with data out: want false")
	}

	f := Request{Flags: FlagDMA | Flag48Bit}
	f.SetFlush(true)
	if f.TaskFile.Current.Command != uint8(FLUSH_CACHE_EXT) || f.Flags != 0 {
		t.Errorf("SetFlush(true): command %#x flags %#x, want FLUSH CACHE EXT, no flags", f.TaskFile.Current.Command, f.Flags)
	}
	f.SetFlush(false)
	if f.TaskFile.Current.Command != uint8(FLUSH_CACHE) {
		t.Errorf("SetFlush(false): command %#x, want FLUSH CACHE", f.TaskFile.Current.Command)
	}
}
