//go:build !tamago

package irq

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ataport/firmware/irq/internal/mmio"
	"github.com/ataport/firmware/irq/ioapic"
	"github.com/ataport/firmware/kernel"
)

// The machine of the tests: two IOAPICs (GSIs 0-23 and 24-31) and a local
// APIC, as a board would find them in the MADT.
const (
	ioapic0Base = 0xfec00000
	ioapic1Base = 0xfec01000
	lapicBase   = 0xfee00000
)

var (
	fakeIO0, fakeIO1 *mmio.FakeIOAPIC
	fakeLAPIC        *mmio.FakeLAPIC
	machine          = []IOAPICConfig{
		{ID: 0, Base: ioapic0Base, GSIBase: 0},
		{ID: 1, Base: ioapic1Base, GSIBase: 24},
	}
)

func TestMain(m *testing.M) {
	ids := make([]uint32, runtime.GOMAXPROCS(0))
	for i := range ids {
		ids[i] = uint32(i)
	}
	if err := kernel.Init(ids); err != nil {
		panic(err)
	}
	fakeIO0 = mmio.NewFakeIOAPIC(0, 24)
	fakeIO1 = mmio.NewFakeIOAPIC(1, 8)
	fakeLAPIC = mmio.NewFakeLAPIC(0)
	mmio.Attach(ioapic0Base, 0x20, fakeIO0)
	mmio.Attach(ioapic1Base, 0x20, fakeIO1)
	mmio.Attach(lapicBase, 0x400, fakeLAPIC)
	for pin := range 24 {
		fakeIO0.SetEntry(pin, 0x30) // unmasked, as firmware may leave it
	}
	if err := Init(machine, lapicBase); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// recovered runs fn and returns its panic message, "" if none. A panic
// raised through kernel.Bugcheck has already returned the CPU to PASSIVE.
func recovered(fn func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = r.(string)
		}
	}()
	fn()
	return ""
}

func TestInitMaskedEverything(t *testing.T) {
	for pin := range 24 {
		if e := ioapic.Decode(fakeIO0.Entry(pin)); !e.Masked {
			t.Errorf("IOAPIC 0 pin %d not masked after Init", pin)
		}
	}
}

func TestInitErrors(t *testing.T) {
	for _, tc := range []struct {
		cfgs  []IOAPICConfig
		lapic uint32
		want  string
	}{
		{nil, lapicBase, "irq: Init: no IOAPIC"},
		{machine, 0, "irq: Init: no local APIC base"},
		{[]IOAPICConfig{machine[0], {ID: 1, Base: ioapic1Base, GSIBase: 16}}, lapicBase,
			"irq: Init: IOAPIC 1 overlaps the GSIs of IOAPIC 0"},
		{[]IOAPICConfig{{ID: 7, Base: 0}}, lapicBase, "ioapic: IOAPIC 7: no base address"},
	} {
		if err := Init(tc.cfgs, tc.lapic); err == nil || err.Error() != tc.want {
			t.Errorf("Init(%v, %#x) = %v, want %q", tc.cfgs, tc.lapic, err, tc.want)
		}
	}
}

func TestConnectProgramsTheEntry(t *testing.T) {
	isr := func() bool { return true }
	before := len(Lines())
	for _, tc := range []struct {
		name   string
		line   Line
		dirql  kernel.IRQL
		fake   **mmio.FakeIOAPIC
		pin    int
		vector uint8
		entry  uint64
	}{
		{"ata0", Line{GSI: 14}, 5, &fakeIO0, 14, 0x50, 0x0000000000000050},
		{"ata1", Line{GSI: 15}, 5, &fakeIO0, 15, 0x51, 0x0000000000000051},
		{"pci", Line{GSI: 26, Trigger: Level, Polarity: ActiveLow}, 9, &fakeIO1, 2, 0x90, 0x000000000000a090},
	} {
		i, err := Connect(tc.name, tc.line, tc.dirql, isr)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		defer i.Disconnect()
		if i.Vector() != tc.vector || i.Level() != tc.dirql || i.Name() != tc.name || i.Line() != tc.line {
			t.Errorf("%s: vector %#x level %v, want %#x %v", tc.name, i.Vector(), i.Level(), tc.vector, tc.dirql)
		}
		if got := (*tc.fake).Entry(tc.pin); got != tc.entry {
			t.Errorf("%s: entry %#016x, want %#016x", tc.name, got, tc.entry)
		}
		if i.Masked() {
			t.Errorf("%s: masked after Connect", tc.name)
		}
	}
	if n := len(Lines()) - before; n != 3 {
		t.Errorf("%d lines connected, want 3", n)
	}
}

func TestDisconnect(t *testing.T) {
	before := len(Lines())
	i, err := Connect("ata0", Line{GSI: 14}, 6, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	v := i.Vector()
	i.Disconnect()
	if !ioapic.Decode(fakeIO0.Entry(14)).Masked || len(Lines()) != before {
		t.Errorf("after Disconnect: entry %#x, %d lines", fakeIO0.Entry(14), len(Lines()))
	}
	unexpected := Totals().Unexpected
	deliver(v)
	if Totals().Unexpected != unexpected+1 {
		t.Error("a disconnected vector was not counted as unexpected")
	}
	j, err := Connect("ata0 again", Line{GSI: 14}, 6, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	defer j.Disconnect()
	if j.Vector() != v {
		t.Errorf("reconnect got vector %#x, want the freed %#x", j.Vector(), v)
	}
	if msg := recovered(i.Disconnect); msg != "irq: Disconnect(ata0): not connected" {
		t.Errorf("second Disconnect: %q", msg)
	}
}

func TestConnectErrors(t *testing.T) {
	isr := func() bool { return true }
	first, err := Connect("ata0", Line{GSI: 14}, 5, isr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Disconnect()
	for _, tc := range []struct {
		name  string
		line  Line
		dirql kernel.IRQL
		isr   ISR
		want  string
	}{
		{"x", Line{GSI: 40}, 5, isr, "irq: Connect(x): no IOAPIC has GSI 40"},
		{"x", Line{GSI: 14}, 5, isr, "irq: Connect(x): GSI 14 already connected to ata0"},
		{"x", Line{GSI: 3}, kernel.DISPATCH, isr, "irq: Connect(x): DISPATCH: level out of range, want DIRQL3..DIRQL12"},
		{"x", Line{GSI: 3}, kernel.CLOCK, isr, "irq: Connect(x): CLOCK: level out of range"},
		{"x", Line{GSI: 3}, 5, nil, "irq: Connect(x): nil ISR"},
	} {
		if _, err := Connect(tc.name, tc.line, tc.dirql, tc.isr); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Connect(%v, %v): %v, want %q", tc.line, tc.dirql, err, tc.want)
		}
	}

	// A full class: 16 vectors of class 11, then a line at DIRQL11 fails.
	for range 16 {
		i, err := ConnectVector("filler", 11, isr)
		if err != nil {
			t.Fatal(err)
		}
		defer i.Disconnect()
	}
	if _, err := Connect("late", Line{GSI: 5}, 11, isr); err == nil ||
		!strings.Contains(err.Error(), "all 16 vectors of class 11 (DIRQL11) are in use") {
		t.Errorf("Connect on a full class: %v", err)
	}
}

// isrProbe records what an ISR and the DPC it queues observe.
type isrProbe struct {
	answer   atomic.Bool
	level    atomic.Int32
	ifOn     atomic.Bool
	locked   atomic.Bool
	dpcLevel atomic.Int32
	dpcAfter atomic.Bool // the DPC ran with the interrupt lock free
	dpcRuns  atomic.Int32
	dpc      *kernel.DPC
	intr     *Interrupt
}

func (p *isrProbe) isr() bool {
	p.level.Store(int32(kernel.Current()))
	p.ifOn.Store(kernel.InterruptsEnabled())
	p.locked.Store(p.intr.Lock().HeldByThisCPU())
	p.dpc.Queue()
	return p.answer.Load()
}

func newProbe(t *testing.T, gsi uint32, dirql kernel.IRQL) *isrProbe {
	t.Helper()
	p := &isrProbe{}
	p.dpc = kernel.NewDPC("completion", func() {
		p.dpcLevel.Store(int32(kernel.Current()))
		p.dpcAfter.Store(!p.intr.Lock().Held())
		p.dpcRuns.Add(1)
	})
	i, err := Connect("probe", Line{GSI: gsi}, dirql, p.isr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(i.Disconnect)
	p.intr = i
	return p
}

// deliver has the executing CPU's local APIC (the host fake) deliver v at
// DISPATCH and lowers back, a safe point where v's ISR runs.
func deliver(v uint8) {
	old := kernel.Raise(kernel.DISPATCH)
	kernel.Deliver(v)
	kernel.Lower(old)
}

func TestDispatch(t *testing.T) {
	p := newProbe(t, 14, 5)
	v := p.intr.Vector()

	p.answer.Store(true)
	deliver(v)
	p.answer.Store(false)
	deliver(v)

	if st := p.intr.Stats(); st != (Stats{Count: 1, NotMine: 1}) {
		t.Errorf("stats %+v, want 1 ours and 1 not mine", st)
	}
	if kernel.IRQL(p.level.Load()) != 5 || !p.ifOn.Load() || !p.locked.Load() {
		t.Errorf("ISR ran at %v IF=%v locked=%v, want DIRQL5, IF=1, holding its lock",
			kernel.IRQL(p.level.Load()), p.ifOn.Load(), p.locked.Load())
	}
	if p.dpcRuns.Load() != 2 || kernel.IRQL(p.dpcLevel.Load()) != kernel.DISPATCH || !p.dpcAfter.Load() {
		t.Errorf("DPC ran %d times at %v after release=%v, want twice at DISPATCH after the lock was released",
			p.dpcRuns.Load(), kernel.IRQL(p.dpcLevel.Load()), p.dpcAfter.Load())
	}
	if kernel.Current() != kernel.PASSIVE {
		t.Errorf("left at %v", kernel.Current())
	}
}

func TestDispatchCountsStrayVectors(t *testing.T) {
	for _, tc := range []struct {
		vector              uint8
		unexpected, spurios uint64
	}{
		{0x99, 1, 0}, // nothing connected
		{0xff, 0, 1}, // the spurious vector, programmed in every SVR
		{0x20, 1, 0}, // lowest usable vector, unconnected
		{0xfe, 1, 0}, // highest vector, unconnected
	} {
		before := Totals()
		deliver(tc.vector)
		after := Totals()
		if after.Unexpected-before.Unexpected != tc.unexpected || after.Spurious-before.Spurious != tc.spurios {
			t.Errorf("vector %#x: unexpected +%d spurious +%d, want +%d +%d", tc.vector,
				after.Unexpected-before.Unexpected, after.Spurious-before.Spurious, tc.unexpected, tc.spurios)
		}
	}
}

func TestDispatchDoesNotAllocate(t *testing.T) {
	p := newProbe(t, 14, 5)
	v := p.intr.Vector()
	if n := testing.AllocsPerRun(100, func() { deliver(v) }); n != 0 {
		t.Errorf("Dispatch allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { deliver(0x99) }); n != 0 {
		t.Errorf("Dispatch of an unexpected vector allocates %v times", n)
	}
}

func TestISRReturningAtAnotherLevel(t *testing.T) {
	i, err := ConnectVector("leaky", kernel.IPI, func() bool { kernel.Raise(kernel.HIGH); return true })
	if err != nil {
		t.Fatal(err)
	}
	msg := recovered(func() { deliver(i.Vector()) })
	// The bugcheck left the interrupt lock held: release it on its CPU.
	if h := i.Lock().Holder(); h >= 0 {
		kernel.RunOnCPU(h, func() {
			old := kernel.Raise(i.Level())
			i.Lock().ReleaseAtLevel()
			kernel.Lower(old)
		})
	}
	i.Disconnect()
	if want := "irq: ISR leaky returned at HIGH or with IF=0, must return at IPI"; msg != want {
		t.Errorf("panic %q, want %q", msg, want)
	}
	if kernel.Current() != kernel.PASSIVE || !kernel.InterruptsEnabled() {
		t.Errorf("left at %v IF=%v", kernel.Current(), kernel.InterruptsEnabled())
	}
}

func TestSynchronize(t *testing.T) {
	p := newProbe(t, 15, 7)
	i := p.intr
	var level kernel.IRQL
	var held, maskedInside, maskedInHook, hookHeld bool
	i.Synchronize(func() {
		level = kernel.Current()
		held = i.Lock().HeldByThisCPU()
	})
	if level != 7 || !held {
		t.Errorf("Synchronize ran at %v holding=%v, want DIRQL7 holding the lock", level, held)
	}

	if got := i.SynchronizeMasked(func() {}); got {
		t.Error("SynchronizeMasked without a pending hook returned true")
	}
	for _, pending := range []bool{false, true} {
		i.SetPending(func() bool {
			maskedInHook = i.Masked()
			hookHeld = i.Lock().HeldByThisCPU() && kernel.Current() == 7
			return pending
		})
		got := i.SynchronizeMasked(func() { maskedInside = i.Masked() })
		if got != pending || !maskedInside || maskedInHook || !hookHeld || i.Masked() {
			t.Errorf("pending %v: returned %v, masked inside %v, in hook %v, hook under lock %v, after %v",
				pending, got, maskedInside, maskedInHook, hookHeld, i.Masked())
		}
	}
	msg := recovered(func() { kernel.Raise(8); i.Synchronize(func() {}) })
	if want := "kernel: Interrupt.Synchronize at DIRQL8, must be PASSIVE..DIRQL7"; msg != want {
		t.Errorf("Synchronize above DIRQL: panic %q, want %q", msg, want)
	}
}

// TestMaskFor holds a line masked for its time, through the driver's own
// SynchronizeMasked, and unmasks it once the last overlapping call's time
// is up.
func TestMaskFor(t *testing.T) {
	p := newProbe(t, 14, 6)
	i := p.intr
	hookRuns := 0
	i.SetPending(func() bool { hookRuns++; return false })
	start := time.Now()
	if err := i.MaskFor(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := i.MaskFor(150 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	i.SynchronizeMasked(func() {})
	if !i.Masked() || hookRuns != 1 {
		t.Errorf("after SynchronizeMasked during MaskFor: masked %v, hook ran %d times, want masked, 1", i.Masked(), hookRuns)
	}
	for i.Masked() && time.Since(start) < 10*time.Second {
		time.Sleep(time.Millisecond)
	}
	if held := time.Since(start); i.Masked() || held < 150*time.Millisecond {
		t.Errorf("line masked %v after %v, want unmasked after the longer call's 150ms", i.Masked(), held)
	}

	v, err := ConnectVector("no line", kernel.IPI, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	defer v.Disconnect()
	if err := v.MaskFor(time.Millisecond); err == nil || err.Error() != "irq: no line: no IOAPIC line to mask" {
		t.Errorf("MaskFor of a bare vector: %v", err)
	}
}

// TestISRAndSynchronizeExclude runs Dispatch and Synchronize of one
// interrupt from many goroutines and checks they never overlap.
func TestISRAndSynchronizeExclude(t *testing.T) {
	const goroutines, rounds = 4, 1000
	var inside, overlaps atomic.Int32
	var counter int
	enter := func() {
		if !inside.CompareAndSwap(0, 1) {
			overlaps.Add(1)
		}
		counter++
		inside.Store(0)
	}
	i, err := Connect("shared", Line{GSI: 10}, 4, func() bool { enter(); return true })
	if err != nil {
		t.Fatal(err)
	}
	defer i.Disconnect()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if g%2 == 0 {
					deliver(i.Vector())
				} else {
					i.Synchronize(enter)
				}
			}
		}()
	}
	wg.Wait()
	if counter != goroutines*rounds || overlaps.Load() != 0 {
		t.Errorf("counter %d (want %d), %d overlaps", counter, goroutines*rounds, overlaps.Load())
	}
}

func TestConnectVectorAndSelfIPI(t *testing.T) {
	var level atomic.Int32
	var ifOn atomic.Bool
	i, err := ConnectVector("self-test", kernel.IPI, func() bool {
		level.Store(int32(kernel.Current()))
		ifOn.Store(kernel.InterruptsEnabled())
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	defer i.Disconnect()
	if i.Vector()>>4 != 0xe || i.Masked() {
		t.Errorf("vector %#x masked=%v, want class 14, no line to mask", i.Vector(), i.Masked())
	}
	deliver(i.Vector())
	if kernel.IRQL(level.Load()) != kernel.IPI || !ifOn.Load() {
		t.Errorf("IPI-class ISR ran at %v IF=%v", kernel.IRQL(level.Load()), ifOn.Load())
	}

	fakeLAPIC.ICR = nil
	var sendErr error
	kernel.RunOnCPU(0, func() { sendErr = SelfIPI(i.Vector()) })
	if sendErr != nil || len(fakeLAPIC.ICR) != 1 || fakeLAPIC.ICR[0] != 0x44000|uint64(i.Vector()) {
		t.Errorf("SelfIPI: %v, ICR %#x", sendErr, fakeLAPIC.ICR)
	}

}

func TestAllocVector(t *testing.T) {
	v, err := AllocVector(kernel.DISPATCH)
	if err != nil || v != 0x20 {
		t.Fatalf("AllocVector(DISPATCH) = %#x, %v", v, err)
	}
	FreeVector(v)
	if _, err := AllocVector(kernel.APC); err == nil {
		t.Error("AllocVector(APC) succeeded")
	}
	if msg := recovered(func() { FreeVector(0x2e) }); msg != "irq: FreeVector: vector 0x2e is not allocated" {
		t.Errorf("FreeVector of a free vector: %q", msg)
	}
	i, err := ConnectVector("owned", kernel.DISPATCH, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	defer i.Disconnect()
	if msg := recovered(func() { FreeVector(i.Vector()) }); msg != "irq: FreeVector: vector 0x20 belongs to owned" {
		t.Errorf("FreeVector of a connected vector: %q", msg)
	}
}
