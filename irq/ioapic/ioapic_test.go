//go:build !tamago

package ioapic

import (
	"strings"
	"testing"

	"github.com/ataport/firmware/irq/internal/mmio"
	"github.com/ataport/firmware/kernel"
)

// Known answers for IOREDTBLn (82093AA 3.2.4): each entry and its 64-bit
// register value.
var entryVectors = []struct {
	name string
	e    Entry
	v    uint64
}{
	{"ISA IRQ14 edge high to APIC 0", Entry{Vector: 0x50}, 0x0000000000000050},
	{"masked", Entry{Vector: 0x51, Masked: true}, 0x0000000000010051},
	{"PCI level low", Entry{Vector: 0x3e, ActiveLow: true, Level: true}, 0x000000000000a03e},
	{"level low masked to APIC 1", Entry{Vector: 0x3f, ActiveLow: true, Level: true, Masked: true, Destination: 1},
		0x010000000001a03f},
	{"lowest priority logical to all", Entry{Vector: 0x41, DeliveryMode: DELMOD_LOWEST, Logical: true, Destination: 0xff},
		0xff00000000000941},
	{"SMI", Entry{DeliveryMode: DELMOD_SMI}, 0x0000000000000200},
	{"NMI", Entry{DeliveryMode: DELMOD_NMI}, 0x0000000000000400},
	{"INIT", Entry{DeliveryMode: DELMOD_INIT}, 0x0000000000000500},
	{"ExtINT", Entry{DeliveryMode: DELMOD_EXTINT}, 0x0000000000000700},
	{"send pending", Entry{Vector: 0x20, SendPending: true}, 0x0000000000001020},
	{"remote IRR", Entry{Vector: 0xfe, Level: true, RemoteIRR: true}, 0x000000000000c0fe},
	{"every bit", Entry{Vector: 0xff, DeliveryMode: DELMOD_EXTINT, Logical: true, SendPending: true, ActiveLow: true,
		RemoteIRR: true, Level: true, Masked: true, Destination: 0xff}, 0xff0000000001ffff},
}

func TestEntryKnownAnswers(t *testing.T) {
	for _, tc := range entryVectors {
		if got := tc.e.Encode(); got != tc.v {
			t.Errorf("%s: Encode = %#016x, want %#016x", tc.name, got, tc.v)
		}
		if got := Decode(tc.v); got != tc.e {
			t.Errorf("%s: Decode(%#016x) = %+v, want %+v", tc.name, tc.v, got, tc.e)
		}
	}
	// Reserved bits (55:17) are ignored by Decode.
	if got := Decode(0x00fffffffffe0050); got != (Entry{Vector: 0x50}) {
		t.Errorf("Decode with reserved bits set = %+v", got)
	}
}

func newIOAPIC(t *testing.T, base uint32, pins int) (*IOAPIC, *mmio.FakeIOAPIC) {
	t.Helper()
	f := mmio.NewFakeIOAPIC(2, pins)
	t.Cleanup(mmio.Attach(base, 0x20, f))
	io := &IOAPIC{ID: 2, Base: base, GSIBase: 24}
	return io, f
}

func TestInitMasksEveryEntry(t *testing.T) {
	io, f := newIOAPIC(t, 0xfec00000, 24)
	for pin := range 24 {
		f.SetEntry(pin, 0x30+uint64(pin)) // unmasked garbage left by firmware
	}
	if err := io.Init(); err != nil {
		t.Fatal(err)
	}
	if io.Entries() != 24 || io.Version() != 0x11 || io.HardwareID() != 2 {
		t.Errorf("entries %d version %#x id %d, want 24 0x11 2", io.Entries(), io.Version(), io.HardwareID())
	}
	for pin := range 24 {
		if e := Decode(f.Entry(pin)); !e.Masked || e.Vector != 0x30+uint8(pin) {
			t.Errorf("pin %d after Init: %+v, want masked, vector kept", pin, e)
		}
	}
}

func TestInitRejectsAbsentWindow(t *testing.T) {
	t.Cleanup(mmio.Attach(0xfec10000, 0x20, allOnes{}))
	io := &IOAPIC{ID: 3, Base: 0xfec10000}
	err := io.Init()
	if err == nil || !strings.Contains(err.Error(), "IOAPICVER reads 0xffffffff") {
		t.Errorf("Init on an all-ones window: %v", err)
	}
	if err := (&IOAPIC{ID: 4}).Init(); err == nil || !strings.Contains(err.Error(), "no base address") {
		t.Errorf("Init without base: %v", err)
	}
}

type allOnes struct{}

func (allOnes) Read32(uint32) uint32   { return 0xffffffff }
func (allOnes) Write32(uint32, uint32) {}

// TestWriteSequence checks the three steps of Write: mask the old entry,
// write DEST, write the new low dword.
func TestWriteSequence(t *testing.T) {
	io, f := newIOAPIC(t, 0xfec20000, 24)
	if err := io.Init(); err != nil {
		t.Fatal(err)
	}
	f.SetEntry(14, 0x0000000000000035) // live, unmasked
	f.Writes = nil
	e := Entry{Vector: 0x50, Level: true, ActiveLow: true, Destination: 3}
	io.Write(14, e)
	want := [][2]uint32{
		{0x10 + 28, 0x00010035}, // 1. old entry masked
		{0x10 + 29, 0x03000000}, // 2. DEST
		{0x10 + 28, 0x0000a050}, // 3. new low dword, unmasked
	}
	if len(f.Writes) != len(want) {
		t.Fatalf("writes %x, want %x", f.Writes, want)
	}
	for i := range want {
		if f.Writes[i] != want[i] {
			t.Errorf("write %d: %x, want %x", i, f.Writes[i], want[i])
		}
	}
	if got := io.Read(14); got != e {
		t.Errorf("Read back %+v, want %+v", got, e)
	}
}

func TestMaskUnmaskReadBack(t *testing.T) {
	io, f := newIOAPIC(t, 0xfec30000, 24)
	if err := io.Init(); err != nil {
		t.Fatal(err)
	}
	io.Write(15, Entry{Vector: 0x51})
	f.SetEntry(15, f.Entry(15)|1<<RIRR) // status bits survive masking
	for _, tc := range []struct {
		op     func(int)
		masked bool
	}{{io.Mask, true}, {io.Unmask, false}, {io.Mask, true}} {
		old := kernel.Raise(5) // DIRQL callers, as SynchronizeMasked
		tc.op(15)
		got := io.Masked(15)
		kernel.Lower(old)
		if got != tc.masked {
			t.Errorf("Masked = %v, want %v", got, tc.masked)
		}
		if e := Decode(f.Entry(15)); e.Vector != 0x51 || !e.RemoteIRR {
			t.Errorf("entry changed beyond MASK: %+v", e)
		}
	}
}

func TestPinAndRange(t *testing.T) {
	io, _ := newIOAPIC(t, 0xfec40000, 24)
	if err := io.Init(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		gsi uint32
		pin int
		ok  bool
	}{{23, 0, false}, {24, 0, true}, {38, 14, true}, {47, 23, true}, {48, 0, false}} {
		if pin, ok := io.Pin(tc.gsi); pin != tc.pin || ok != tc.ok {
			t.Errorf("Pin(%d) = %d %v, want %d %v", tc.gsi, pin, ok, tc.pin, tc.ok)
		}
	}
	msg := func() (msg string) {
		defer func() { msg, _ = recover().(string) }()
		io.Mask(24)
		return ""
	}()
	if want := "ioapic: IOAPIC 2 Mask: pin 24 out of range 0..23"; msg != want {
		t.Errorf("Mask(24) panic %q, want %q", msg, want)
	}
}
