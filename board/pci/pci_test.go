package pci

import (
	"reflect"
	"testing"
)

// statusRW1C are the write-one-to-clear bits of Status (§6.2.3); the others
// are read-only.
const statusRW1C = 0xf900

// fakeFunction models one function's configuration space: BARs keep only
// their writable address bits, COMMAND is read-write, Status is RW1C, IDs
// and class are read-only, and everything else is plain storage.
type fakeFunction struct {
	regs    [64]uint32
	barMask [6]uint32 // writable bits of each BAR dword; 0: not implemented
}

func newFn(vendor, device uint16, class, sub, progIF, header uint8) *fakeFunction {
	f := &fakeFunction{}
	f.regs[0] = uint32(device)<<16 | uint32(vendor)
	f.regs[2] = uint32(class)<<24 | uint32(sub)<<16 | uint32(progIF)<<8 | 0x02
	f.regs[3] = uint32(header) << 16
	return f
}

func (f *fakeFunction) bar(i int, value, mask uint32) *fakeFunction {
	f.regs[BAR0/4+i] = value
	f.barMask[i] = mask
	return f
}

func (f *fakeFunction) cmd(cmd, status uint16) *fakeFunction {
	f.regs[COMMAND/4] = uint32(status)<<16 | uint32(cmd)
	return f
}

func (f *fakeFunction) irq(line, pin uint8) *fakeFunction {
	f.regs[INTERRUPT_LINE/4] = uint32(pin)<<8 | uint32(line)
	return f
}

func (f *fakeFunction) buses(primary, secondary, subordinate uint8) *fakeFunction {
	f.regs[PRIMARY_BUS/4] = uint32(subordinate)<<16 | uint32(secondary)<<8 | uint32(primary)
	return f
}

func (f *fakeFunction) bars() int {
	switch uint8(f.regs[3]>>16) & HEADER_TYPE_LAYOUT {
	case HEADER_TYPE_NORMAL:
		return 6
	case HEADER_TYPE_BRIDGE:
		return 2
	}
	return 0
}

type bdf [3]uint8

type write struct {
	at  bdf
	off uint8
	v   uint32
	cmd uint16 // COMMAND when the write happened
}

// fakeConfig is a bus of fakeFunctions. A device in alias answers every
// function number with function 0, as single-function devices may.
type fakeConfig struct {
	t      *testing.T
	fns    map[bdf]*fakeFunction
	alias  map[[2]uint8]bool
	writes []write
}

func (c *fakeConfig) get(bus, dev, fn uint8) *fakeFunction {
	if c.alias[[2]uint8{bus, dev}] {
		fn = 0
	}
	return c.fns[bdf{bus, dev, fn}]
}

func (c *fakeConfig) Read32(bus, dev, fn, off uint8) uint32 {
	if off&3 != 0 {
		c.t.Errorf("Read32 at unaligned offset %#x", off)
	}
	f := c.get(bus, dev, fn)
	if f == nil {
		return 0xffffffff
	}
	return f.regs[off/4]
}

func (c *fakeConfig) Write32(bus, dev, fn, off uint8, v uint32) {
	if off&3 != 0 {
		c.t.Errorf("Write32 at unaligned offset %#x", off)
	}
	f := c.get(bus, dev, fn)
	if f == nil {
		c.t.Errorf("Write32 to absent %02x:%02x.%d", bus, dev, fn)
		return
	}
	c.writes = append(c.writes, write{bdf{bus, dev, fn}, off, v, uint16(f.regs[COMMAND/4])})
	r := &f.regs[off/4]
	switch i := int(off-BAR0) / 4; {
	case off == VENDOR_ID, off == REVISION_ID:
	case off == COMMAND:
		status := *r >> 16 &^ (v >> 16 & statusRW1C)
		*r = status<<16 | v&0xffff
	case off >= BAR0 && i < f.bars():
		*r = *r&^f.barMask[i] | v&f.barMask[i]
	default:
		*r = v
	}
}

// snapshot copies every function's registers.
func (c *fakeConfig) snapshot() map[bdf][64]uint32 {
	m := map[bdf][64]uint32{}
	for k, f := range c.fns {
		m[k] = f.regs
	}
	return m
}

// qemuLike models QEMU's pc machine plus a bridge with devices behind it
// and a few broken functions.
func qemuLike(t *testing.T) *fakeConfig {
	return &fakeConfig{
		t: t,
		fns: map[bdf]*fakeFunction{
			{0, 0, 0}: newFn(0x8086, 0x1237, 0x06, 0x00, 0x00, 0x00).cmd(0x0106, 0x0000),
			{0, 1, 0}: newFn(0x8086, 0x7000, 0x06, 0x01, 0x00, 0x80).cmd(0x0107, 0x0200),
			{0, 1, 1}: newFn(0x8086, 0x7010, 0x01, 0x01, 0x80, 0x00).cmd(0x0005, 0x2280).
				bar(4, 0xc041, 0x0000fff0),
			{0, 1, 3}: newFn(0x8086, 0x7113, 0x06, 0x80, 0x00, 0x00).cmd(0x0103, 0x0280).irq(9, 1),
			{0, 2, 0}: newFn(0x1234, 0x1111, 0x03, 0x00, 0x00, 0x00).cmd(0x0103, 0x0000).
				bar(0, 0xfd000008, 0xff000000).bar(2, 0xfebf0000, 0xfffff000),
			{0, 3, 0}: newFn(0x8086, 0x100e, 0x02, 0x00, 0x00, 0x00).cmd(0x0107, 0x0000).irq(11, 1).
				bar(0, 0xfebc0000, 0xfffe0000).bar(1, 0xc001, 0xffffffc0),
			{0, 4, 0}: newFn(0x1b36, 0x0001, 0x06, 0x04, 0x00, 0x01).cmd(0x0107, 0x0010).buses(0, 1, 1).
				bar(0, 0xfe000004, 0xfffff000).bar(1, 0, 0xffffffff),
			{0, 5, 0}: newFn(0x1af4, 0x1000, 0x02, 0x00, 0x00, 0x00).cmd(0x0101, 0x0010).
				bar(0, 0xc081, 0xffffffe0),
			{0, 6, 0}: newFn(0x1234, 0x5678, 0xff, 0x00, 0x00, 0x00).cmd(0x0002, 0x0000).
				bar(0, 0x00000006, 0xfffff000).bar(5, 0x00000004, 0xfffff000),
			{1, 0, 0}: newFn(0x1af4, 0x1001, 0x01, 0x00, 0x00, 0x00).cmd(0x0107, 0x8000).irq(10, 1).
				bar(0, 0xd001, 0xffffffc0).bar(4, 0x0000000c, 0xffffc000).bar(5, 0x8, 0xffffffff),
			{1, 5, 0}:  newFn(0x8086, 0x2934, 0x0c, 0x03, 0x00, 0x80).cmd(0x0005, 0x0000).irq(10, 1),
			{1, 5, 2}:  newFn(0x8086, 0x293a, 0x0c, 0x03, 0x20, 0x00).cmd(0x0006, 0x0000).irq(10, 3),
			{1, 30, 0}: newFn(0x1b36, 0x0001, 0x06, 0x04, 0x00, 0x01).buses(1, 0, 0),
			{1, 31, 0}: newFn(0x1b36, 0x0001, 0x06, 0x04, 0x00, 0x01).buses(1, 1, 1),
		},
		alias: map[[2]uint8]bool{{0, 5}: true},
	}
}

func TestEnumerate(t *testing.T) {
	c := qemuLike(t)
	before := c.snapshot()
	fns := Enumerate(c)

	want := []string{
		"00:00.0 8086:1237 class 06/00/00 host bridge",
		"00:01.0 8086:7000 class 06/01/00 ISA bridge",
		"00:01.1 8086:7010 class 01/01/80 IDE controller BAR4 io 0xc040 size 0x10",
		"00:01.3 8086:7113 class 06/80/00 other bridge INTA irq 9",
		"00:02.0 1234:1111 class 03/00/00 VGA-compatible controller BAR0 mem32 0xfd000000 size 0x1000000 prefetch BAR2 mem32 0xfebf0000 size 0x1000",
		"00:03.0 8086:100e class 02/00/00 Ethernet controller INTA irq 11 BAR0 mem32 0xfebc0000 size 0x20000 BAR1 io 0xc000 size 0x40",
		"00:04.0 1b36:0001 class 06/04/00 PCI-to-PCI bridge bus 1-1 BAR0 mem64 0xfe000000 size 0x1000",
		"00:05.0 1af4:1000 class 02/00/00 Ethernet controller BAR0 io 0xc080 size 0x20",
		"00:06.0 1234:5678 class ff/00/00 unknown class; BAR0: reserved memory type 0b11; BAR5: 64-bit BAR in the last slot",
		"01:00.0 1af4:1001 class 01/00/00 SCSI controller INTA irq 10 BAR0 io 0xd000 size 0x40 BAR4 mem64 0x800000000 size 0x4000 prefetch",
		"01:05.0 8086:2934 class 0c/03/00 USB UHCI controller INTA irq 10",
		"01:05.2 8086:293a class 0c/03/20 USB EHCI controller INTC irq 10",
		"01:1e.0 1b36:0001 class 06/04/00 PCI-to-PCI bridge bus 0-0; secondary bus number not assigned",
		"01:1f.0 1b36:0001 class 06/04/00 PCI-to-PCI bridge bus 1-1; secondary bus 1 already scanned",
	}
	var got []string
	for _, f := range fns {
		got = append(got, f.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Enumerate()")
		for i := 0; i < len(got) || i < len(want); i++ {
			var g, w string
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf(" got %q\nwant %q", g, w)
			}
		}
	}

	// The probe leaves every register as it found it, Status bits
	// included, and only BARs ever see all ones, with decode off.
	if after := c.snapshot(); !reflect.DeepEqual(after, before) {
		for k := range before {
			if before[k] != after[k] {
				t.Errorf("%v: registers changed by Enumerate:\n before %x\n after  %x", k, before[k], after[k])
			}
		}
	}
	for _, w := range c.writes {
		f := c.fns[w.at]
		if w.v != 0xffffffff {
			continue
		}
		if w.off < BAR0 || int(w.off-BAR0)/4 >= f.bars() {
			t.Errorf("%v: all ones written at %#x, not a BAR", w.at, w.off)
		}
		if w.cmd&(1<<CMD_IO_SPACE|1<<CMD_MEMORY_SPACE) != 0 {
			t.Errorf("%v: BAR at %#x probed with COMMAND %#x (decode on)", w.at, w.off, w.cmd)
		}
	}
}

func TestFindClass(t *testing.T) {
	fns := Enumerate(qemuLike(t))
	ide := FindClass(fns, 0x01, 0x01)
	if len(ide) != 1 || ide[0].Bus != 0 || ide[0].Dev != 1 || ide[0].Fn != 1 || ide[0].ProgIF != 0x80 {
		t.Fatalf("FindClass(01/01) = %v, want the PIIX3 IDE at 00:01.1", ide)
	}
	bar4, ok := ide[0].BAR(4)
	if !ok || bar4 != (BAR{Index: 4, IO: true, Addr: 0xc040, Size: 16}) {
		t.Errorf("BAR(4) = %+v, %v, want I/O 0xc040 size 16", bar4, ok)
	}
	if _, ok := ide[0].BAR(0); ok {
		t.Error("BAR(0) of the PIIX3 IDE reported implemented")
	}
	if n := len(FindClass(fns, 0x06, 0x04)); n != 3 {
		t.Errorf("FindClass(06/04) found %d bridges, want 3", n)
	}
	if l := FindClass(fns, 0x01, 0x06); l != nil {
		t.Errorf("FindClass(01/06) = %v, want none", l)
	}
}

func TestAccessHelpers(t *testing.T) {
	c := qemuLike(t)
	c.fns[bdf{0, 1, 1}].regs[HEADER_TYPE/4] |= 0x80 << 24 // BIST capable
	ide := &Function{Bus: 0, Dev: 1, Fn: 1}
	bridge := &Function{Bus: 0, Dev: 4, Fn: 0, HeaderType: HEADER_TYPE_BRIDGE}
	c.fns[bdf{0, 4, 0}].regs[SECONDARY_STATUS/4] = 0x2000_f0f0 // status bit 13, I/O base/limit

	// Reads pick the byte or word out of the dword.
	for _, tc := range []struct {
		name string
		got  uint32
		want uint32
	}{
		{"Read16 VENDOR_ID", uint32(ide.Read16(c, VENDOR_ID)), 0x8086},
		{"Read16 DEVICE_ID", uint32(ide.Read16(c, DEVICE_ID)), 0x7010},
		{"Read16 unaligned reads its word", uint32(ide.Read16(c, DEVICE_ID+1)), 0x7010},
		{"Read8 prog-if", uint32(ide.Read8(c, CLASS_CODE)), 0x80},
		{"Read8 class", uint32(ide.Read8(c, CLASS_CODE+2)), 0x01},
		{"Read16 STATUS", uint32(ide.Read16(c, STATUS)), 0x2280},
		{"Read32 BAR4", ide.Read32(c, BAR0+16), 0xc041},
		{"Read32 unaligned reads its dword", ide.Read32(c, BAR0+17), 0xc041},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}

	// Writes merge into the dword and write RW1C and BIST bits as zero.
	for _, tc := range []struct {
		name    string
		do      func()
		at      bdf
		off     uint8
		written uint32
	}{
		{"Write16 COMMAND keeps Status", func() { ide.Write16(c, COMMAND, 0x0007) }, bdf{0, 1, 1}, COMMAND, 0x0000_0007},
		{"Write16 STATUS clears what it writes", func() { ide.Write16(c, STATUS, 0x2000) }, bdf{0, 1, 1}, COMMAND, 0x2000_0007},
		{"Write8 INTERRUPT_LINE keeps the pin", func() { ide.Write8(c, INTERRUPT_LINE, 14) }, bdf{0, 1, 1}, INTERRUPT_LINE, 0x0000_000e},
		{"Write8 latency timer leaves BIST alone", func() { ide.Write8(c, 0x0d, 0x40) }, bdf{0, 1, 1}, 0x0c, 0x0000_4000},
		{"Write8 bridge I/O limit keeps secondary status", func() { bridge.Write8(c, 0x1d, 0xe0) }, bdf{0, 4, 0}, 0x1c, 0x0000_e0f0},
		{"Write32 BAR", func() { ide.Write32(c, BAR0+16, 0xd001) }, bdf{0, 1, 1}, BAR0 + 16, 0xd001},
	} {
		c.writes = nil
		tc.do()
		if len(c.writes) != 1 || c.writes[0].at != tc.at || c.writes[0].off != tc.off || c.writes[0].v != tc.written {
			t.Errorf("%s: writes %+v, want one of %#x at %v %#x", tc.name, c.writes, tc.written, tc.at, tc.off)
		}
	}
	if got := c.fns[bdf{0, 1, 1}].regs[COMMAND/4]; got != 0x0280_0007 {
		t.Errorf("COMMAND/STATUS = %#x, want 0x02800007 (bit 13 cleared, command 7)", got)
	}
}
