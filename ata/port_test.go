package ata

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/piix"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// fakeIntr is an interrupt object on the host: an ISR goroutine that runs
// the port's ISR at the DIRQL holding the lock for each edge, an IOAPIC pin
// mask that loses the edges arriving while it is set (PLATFORM.md), and
// the pending hook called after masked sections, as irq.Interrupt does.
type fakeIntr struct {
	lock    kernel.InterruptLock
	isr     irq.ISR
	pending atomic.Pointer[func() bool]
	masked  atomic.Bool
	changes atomic.Uint64 // mask writes outside SynchronizeMasked
	edges   chan struct{}
	hold    atomic.Bool  // edges wait on the wire until release
	held    atomic.Int64 // edges waiting on the wire
	drop    atomic.Int64 // edges to drop, as if lost on the way
	lost    atomic.Int64 // edges that found the pin masked
}

func (f *fakeIntr) Lock() *kernel.InterruptLock { return &f.lock }

func (f *fakeIntr) Synchronize(fn func()) {
	old := f.lock.Acquire()
	fn()
	f.lock.Release(old)
}

func (f *fakeIntr) SynchronizeMasked(fn func()) bool {
	old := f.lock.Acquire()
	f.masked.Store(true)
	fn()
	f.masked.Store(false)
	s := false
	if p := f.pending.Load(); p != nil {
		s = (*p)()
	}
	f.lock.Release(old)
	return s
}

func (f *fakeIntr) Masked() bool              { return f.masked.Load() }
func (f *fakeIntr) MaskChanges() uint64       { return f.changes.Load() }
func (f *fakeIntr) AcceptedHere() uint32      { return 0 }
func (f *fakeIntr) SetPending(fn func() bool) { f.pending.Store(&fn) }

// edge is the device's INTRQ rising, as the bus reports it.
func (f *fakeIntr) edge() {
	if f.drop.Load() > 0 {
		f.drop.Add(-1)
		return
	}
	if f.hold.Load() {
		f.held.Add(1)
		return
	}
	f.arrive()
}

// release lets the held edges reach the pin now.
func (f *fakeIntr) release() {
	f.hold.Store(false)
	for f.held.Load() > 0 {
		f.held.Add(-1)
		f.arrive()
	}
}

// arrive delivers an edge at the pin: lost when masked.
func (f *fakeIntr) arrive() {
	if f.masked.Load() {
		f.lost.Add(1)
		return
	}
	select {
	case f.edges <- struct{}{}:
	default:
		f.lost.Add(1)
	}
}

func (f *fakeIntr) loop() {
	for range f.edges {
		old := f.lock.Acquire()
		f.isr()
		f.lock.Release(old)
	}
}

// harness is the port on a PIIX3 miniport on a fake primary channel.
type harness struct {
	t    *testing.T
	mem  *sfftest.Memory
	bus  *sfftest.Bus
	intr *fakeIntr
	ctl  *Controller
	ch   *Channel
	logs []string
}

func bigDisk() *sfftest.Device {
	return &sfftest.Device{
		Spec: sfftest.IdentifySpec{
			Model: "FAKE DISK", Serial: "S1", Firmware: "F1",
			Sectors28: 0x0fffffff, Sectors48: 0x20000000, LBA48: true,
			PIO3: true, PIO4: true, MWDMA: 7, UDMA: 0x3f, IORDY: true,
			Flush: true, FlushExt: true, WriteCache: true, WriteCacheEnabled: true, Checksum: true,
		},
		Capacity: 0x20000000,
	}
}

func smallDisk() *sfftest.Device {
	return &sfftest.Device{
		Spec:     sfftest.IdentifySpec{Model: "OLD DISK", Sectors28: 20000, PIO4: true, MWDMA: 7, IORDY: true},
		Capacity: 20000,
	}
}

func cd() *sfftest.Device {
	return &sfftest.Device{
		Spec:     sfftest.IdentifySpec{ATAPI: true, Model: "FAKE DVD-ROM", PIO4: true, MWDMA: 7, IORDY: true},
		Capacity: 300, UnitAttention: true,
	}
}

// IDETIM (PCI config 0x40-0x43, primary then secondary) with IDE Decode
// Enable set for the primary channel only, or for both.
const (
	idetimPrimary = 0x00008000
	idetimBoth    = 0x80008000
)

// ideLines are the lines of the two legacy IDE channels (ISA IRQ 14 and
// 15), both at DIRQL 5 as the firmware connects them.
var ideLines = []Line{{Line: irq.Line{GSI: 14}, DIRQL: 5}, {Line: irq.Line{GSI: 15}, DIRQL: 5}}

// fakePIIX returns the PIIX3 miniport over a PCI configuration space held
// in memory, with I/O decoding on and IDETIM as given.
func fakePIIX(t *testing.T, idetim uint32) *piix.Controller {
	t.Helper()
	regs := map[uint8]uint32{0x40: idetim, 0x04: 0x5}
	var mu sync.Mutex
	mp, err := piix.New(piix.PCI{
		Vendor: 0x8086, DeviceID: 0x7010, Class: 0x010180, BAR4: 0xc001,
		Read32: func(off uint8) uint32 {
			mu.Lock()
			defer mu.Unlock()
			return regs[off&^3]
		},
		Write32: func(off uint8, v uint32) {
			mu.Lock()
			defer mu.Unlock()
			regs[off&^3] = v
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mp
}

// logTo returns a Config.Log that appends each line to *logs; the port
// logs from several goroutines.
func logTo(logs *[]string) func(string) {
	var mu sync.Mutex
	return func(s string) {
		mu.Lock()
		*logs = append(*logs, s)
		mu.Unlock()
	}
}

func newHarness(t *testing.T, master, slave *sfftest.Device, edit func(*Config)) *harness {
	t.Helper()
	return newHarnessOf(t, fakePIIX(t, idetimPrimary), master, slave, edit)
}

// newHarnessOf is newHarness with the miniport mp, a fake PIIX whose
// secondary channel is disabled, or one that wraps it.
func newHarnessOf(t *testing.T, mp miniport.Controller, master, slave *sfftest.Device, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, mem: sfftest.NewMemory(0x50000000)}
	h.bus = sfftest.NewBus(master, slave, h.mem)
	h.intr = &fakeIntr{edges: make(chan struct{}, 1024)}
	h.bus.IRQ = h.intr.edge
	cfg := Config{
		Lines:       ideLines,
		IO:          h.bus,
		DMA:         h.mem,
		Timeout:     2 * time.Second,
		BusyTimeout: 2 * time.Second,
		Log:         logTo(&h.logs),
		Connect: func(name string, line irq.Line, dirql kernel.IRQL, isr irq.ISR) (Interrupt, error) {
			h.intr.lock.Name, h.intr.lock.Level, h.intr.isr = name, dirql, isr
			go h.intr.loop()
			return h.intr, nil
		},
	}
	if edit != nil {
		edit(&cfg)
	}
	var err error
	h.ctl, err = Attach(mp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if chs := h.ctl.Channels(); len(chs) != 1 {
		t.Fatalf("%d channels up, want the primary only", len(chs))
	} else {
		h.ch = chs[0]
	}
	return h
}

func (h *harness) device(name string) *Device {
	h.t.Helper()
	d, ok := h.ctl.Device(name)
	if !ok {
		h.t.Fatalf("no device %s; log: %q", name, h.logs)
	}
	return d
}

// quiet waits until the channel has nothing queued or in flight.
func (h *harness) quiet() {
	for i := 0; i < 1000; i++ {
		old := h.ch.qlock.Acquire()
		idle := h.ch.started == 0 && h.ch.head == nil && h.ch.built == nil && h.ch.retryHead == nil
		h.ch.qlock.Release(old)
		if idle {
			return
		}
		time.Sleep(time.Millisecond)
	}
	h.t.Fatal("channel never went idle")
}

func TestDiscovery(t *testing.T) {
	disk, dvd := bigDisk(), cd()
	h := newHarness(t, disk, dvd, nil)
	devs := h.ctl.Devices()
	if len(devs) != 2 {
		t.Fatalf("%d devices; log %q", len(devs), h.logs)
	}
	d0, d1 := devs[0], devs[1]
	if d0.Name() != "0:0" || d0.String() != "ata0.0" || d1.Name() != "0:1" {
		t.Errorf("names %s %s %s", d0.Name(), d0, d1.Name())
	}
	if d0.Type() != miniport.DeviceATA || d0.Identify().Model != "FAKE DISK" || !d0.Identify().Checksummed ||
		d0.Sectors() != 0x20000000 || d0.Size() != 0x20000000*512 || d0.SectorSize() != 512 {
		t.Errorf("disk: %v %+v %d", d0.Type(), d0.Identify(), d0.Size())
	}
	if d0.Modes() != miniport.PIO4|miniport.MWDMA2 || d0.Mode() != ModeDMA {
		t.Errorf("disk modes %v mode %v, want PIO4 MWDMA2 (PIIX3) in DMA", d0.Modes(), d0.Mode())
	}
	if m := disk.Modes(); len(m) != 2 || m[0] != 0x0c || m[1] != 0x22 {
		t.Errorf("disk got SET FEATURES % x, want 0c 22", m)
	}
	if d1.Type() != miniport.DeviceATAPI || d1.SectorSize() != 2048 || d1.Sectors() != 300 {
		t.Errorf("dvd: %v %d x %d; log %q", d1.Type(), d1.Sectors(), d1.SectorSize(), h.logs)
	}
	if !bytes.Equal(d0.IdentifyData(), sfftest.BuildIdentify(disk.Spec)) {
		t.Error("IDENTIFY data differs")
	}
	if len(h.logs) != 3 || !strings.Contains(h.logs[0], `ata0.0: ATA "FAKE DISK"`) || h.logs[2] != "ata1: disabled by the controller" {
		t.Errorf("log %q", h.logs)
	}
}

// describedPIIX is a fake PIIX that describes its channels, as the AHCI
// miniport does.
type describedPIIX struct{ *piix.Controller }

func (describedPIIX) DescribeChannel(ch int) string { return fmt.Sprintf("channel %d, decode off", ch) }

// TestDisabledChannelDescribed checks the line that reports a channel the
// controller leaves disabled: the miniport's description when it has one.
func TestDisabledChannelDescribed(t *testing.T) {
	h := newHarnessOf(t, describedPIIX{fakePIIX(t, idetimPrimary)}, nil, nil, nil)
	if len(h.logs) != 2 || h.logs[1] != "ata1: channel 1, decode off: not attached" {
		t.Errorf("log %q, want the primary's line, then \"ata1: channel 1, decode off: not attached\"", h.logs)
	}
}

// TestNoDevices checks an empty channel, and that finding no device is not
// counted as an error: neither there nor at an absent slave.
func TestNoDevices(t *testing.T) {
	h := newHarness(t, nil, nil, nil)
	if n := len(h.ctl.Devices()); n != 0 {
		t.Errorf("%d devices on an empty channel", n)
	}
	if s := h.ch.Stats(); s.Requests == 0 || s.Errors != 0 {
		t.Errorf("empty channel: %d requests, %d errors; want the probes and no error", s.Requests, s.Errors)
	}
	if s := newHarness(t, bigDisk(), nil, nil).ch.Stats(); s.Errors != 0 {
		t.Errorf("master without a slave: %d errors after discovery, want 0", s.Errors)
	}
	h = newHarness(t, nil, nil, nil)
	h.bus.EmptyZero = true
	if err := h.ch.Reset(); err != nil {
		t.Fatal(err)
	}
}

func pattern(lba uint64, n, ss int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, sfftest.Pattern(lba+uint64(i), ss)...)
	}
	return b
}

// Transfers are split into what one command moves, with 28-bit commands
// where they suffice and 48-bit ones past 256 sectors or LBA 2^28.
func TestReadWriteSplitting(t *testing.T) {
	disk := bigDisk()
	h := newHarness(t, disk, nil, nil)
	d := h.device("0:0")
	for _, tc := range []struct {
		name  string
		mode  Mode
		lba   uint64
		n     int
		write bool
		cmds  []miniport.Command
	}{
		{"DMA read 600 from 0", ModeDMA, 0, 600, false, []miniport.Command{miniport.READ_DMA_EXT, miniport.READ_DMA}},
		{"PIO read 8 from 100", ModePIO, 100, 8, false, []miniport.Command{miniport.READ_SECTORS}},
		{"DMA read across 2^28", ModeDMA, 0x0fffff00, 600, false, []miniport.Command{miniport.READ_DMA_EXT, miniport.READ_DMA_EXT}},
		{"PIO read 8 at 0x0FFFFFF8", ModePIO, 0x0ffffff8, 8, false, []miniport.Command{miniport.READ_SECTORS_EXT}},
		{"DMA write 300 at 2^28", ModeDMA, 0x10000000, 300, true, []miniport.Command{miniport.WRITE_DMA_EXT}},
		{"PIO write 256 at 1000", ModePIO, 1000, 256, true, []miniport.Command{miniport.WRITE_SECTORS}},
		{"PIO write 520 at 5000, one command into the caller's buffer", ModePIO, 5000, 520, true, []miniport.Command{miniport.WRITE_SECTORS_EXT}},
	} {
		if err := d.SetMode(tc.mode); err != nil {
			t.Fatal(err)
		}
		if tc.write {
			if err := d.SetWritable(true); err != nil {
				t.Fatal(err)
			}
		}
		before := len(disk.Commands())
		buf := make([]byte, tc.n*512)
		var n int
		var err error
		if tc.write {
			for i := range buf {
				buf[i] = byte(i*13 + int(tc.lba))
			}
			n, err = d.WriteAt(buf, int64(tc.lba)*512)
		} else {
			n, err = d.ReadAt(buf, int64(tc.lba)*512)
		}
		if err != nil || n != len(buf) {
			t.Fatalf("%s: %d, %v", tc.name, n, err)
		}
		if cmds := disk.Commands()[before:]; fmt.Sprint(cmds) != fmt.Sprint(tc.cmds) {
			t.Errorf("%s: commands %v, want %v", tc.name, cmds, tc.cmds)
		}
		if tc.write {
			got := make([]byte, len(buf))
			if _, err := d.ReadAt(got, int64(tc.lba)*512); err != nil || !bytes.Equal(got, buf) {
				t.Errorf("%s: read back differs (%v)", tc.name, err)
			}
		} else if !bytes.Equal(buf, pattern(tc.lba, tc.n, 512)) {
			t.Errorf("%s: data differs", tc.name)
		}
	}
	small := newHarness(t, smallDisk(), nil, nil)
	sd := small.device("0:0")
	buf := make([]byte, 600*512)
	before := len(small.bus.Dev[0].Commands())
	if _, err := sd.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if cmds := small.bus.Dev[0].Commands()[before:]; fmt.Sprint(cmds) != fmt.Sprint([]miniport.Command{miniport.READ_DMA, miniport.READ_DMA, miniport.READ_DMA}) {
		t.Errorf("28-bit device: %v, want three READ DMA", cmds)
	}
}

// Refused requests never reach the hardware.
func TestRefusals(t *testing.T) {
	h := newHarness(t, bigDisk(), cd(), nil)
	d := h.device("0:0")
	dvd := h.device("ata0.1")
	h.quiet()
	h.bus.ClearOps()
	buf := make([]byte, 4096)
	for _, tc := range []struct {
		name string
		fn   func() (int, error)
		kind error
		msg  string
	}{
		{"write while read-only", func() (int, error) { return d.WriteAt(buf, 0) }, ErrReadOnly,
			"ata0.0: write lba 0 count 8: read-only (not made writable with SetWritable(true))"},
		{"read past the end", func() (int, error) { return d.ReadAt(buf, (0x20000000-4)*512) }, ErrRange,
			"ata0.0: read lba 536870908 count 8: out of range (the device has 536870912 sectors)"},
		{"read at a huge offset", func() (int, error) { return d.ReadAt(buf, 1<<62) }, ErrRange, ""},
		{"misaligned offset", func() (int, error) { return d.ReadAt(buf, 100) }, ErrInvalid,
			"ata0.0: read: invalid request (offset 100 length 4096: not whole 512-byte sectors)"},
		{"partial sector", func() (int, error) { return d.ReadAt(buf[:100], 0) }, ErrInvalid, ""},
		{"negative offset", func() (int, error) { return d.ReadAt(buf, -512) }, ErrInvalid, ""},
		{"ATAPI 512-byte read", func() (int, error) { return dvd.ReadAt(buf[:512], 0) }, ErrInvalid, ""},
		{"ATAPI write", func() (int, error) { return dvd.WriteAt(buf, 0) }, ErrReadOnly, ""},
	} {
		n, err := tc.fn()
		if n != 0 || !errors.Is(err, tc.kind) {
			t.Errorf("%s: %d, %v; want %v", tc.name, n, err, tc.kind)
		}
		if tc.msg != "" && (err == nil || err.Error() != tc.msg) {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.msg)
		}
	}
	if err := dvd.SetWritable(true); !errors.Is(err, ErrReadOnly) {
		t.Errorf("ATAPI SetWritable: %v", err)
	}
	if ops := h.bus.Ops(); len(ops) != 0 {
		t.Errorf("refused requests reached the hardware: %v", ops)
	}
	if n, err := d.ReadAt(nil, 512); n != 0 || err != nil {
		t.Errorf("empty read: %d %v", n, err)
	}
}

// Requests from many goroutines on both channels' worth of request blocks
// complete exactly once (a second completion panics) with the right data.
func TestConcurrentIO(t *testing.T) {
	disk := bigDisk()
	h := newHarness(t, disk, cd(), nil)
	d := h.device("0:0")
	dvd := h.device("0:1")
	if err := d.SetWritable(true); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				switch {
				case w == 7:
					buf := make([]byte, 2*2048)
					lba := uint64(i % 200)
					if _, err := dvd.ReadAt(buf, int64(lba)*2048); err != nil {
						errs <- err
					} else if !bytes.Equal(buf, pattern(lba, 2, 2048)) {
						errs <- fmt.Errorf("dvd lba %d differs", lba)
					}
				case w%2 == 0:
					n := 1 + (w*7+i*13)%300
					lba := uint64(w*100000 + i*1000)
					buf := make([]byte, n*512)
					if _, err := d.ReadAt(buf, int64(lba)*512); err != nil {
						errs <- err
					} else if !bytes.Equal(buf, pattern(lba, n, 512)) {
						errs <- fmt.Errorf("worker %d lba %d differs", w, lba)
					}
				default:
					n := 1 + (w*5+i*11)%200
					lba := uint64(1<<20 + w*100000 + i*1000)
					buf := bytes.Repeat([]byte{byte(w), byte(i)}, n*256)
					if _, err := d.WriteAt(buf, int64(lba)*512); err != nil {
						errs <- err
						continue
					}
					got := make([]byte, len(buf))
					if _, err := d.ReadAt(got, int64(lba)*512); err != nil {
						errs <- err
					} else if !bytes.Equal(got, buf) {
						errs <- fmt.Errorf("worker %d lba %d read back differs", w, lba)
					}
				}
				if i == rounds/2 && w == 0 {
					if err := d.SetMode(ModePIO); err != nil {
						errs <- err
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	h.quiet()
	s := h.ch.Stats()
	if s.Errors != 1 || s.Timeouts != 0 || s.DPCs == 0 || s.Interrupts == 0 {
		// The one error is the UNIT ATTENTION of the first READ CAPACITY.
		t.Errorf("stats %+v", s)
	}
	if h.intr.lost.Load() != 0 {
		t.Errorf("%d edges lost", h.intr.lost.Load())
	}
}

// A device that never answers: each try of the request fails once with a
// timeout naming the command, the channel is reset with its line masked,
// the devices are re-identified and get their transfer modes again before
// the next try, and after maxRetries retries the caller gets the timeout.
func TestTimeoutResets(t *testing.T) {
	disk := bigDisk()
	h := newHarness(t, disk, nil, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	d := h.device("0:0")
	modes := len(disk.Modes())
	before := h.ch.Stats()
	disk.Set(func() { disk.Hang = true })
	buf := make([]byte, 1024)
	start := time.Now()
	_, err := d.ReadAt(buf, 512*42)
	if !errors.Is(err, ErrTimeout) || err.Error() != "ata0.0: READ DMA lba 42 count 2: timeout (no completion within 200ms; channel reset; status 0xc0 BSY|DRDY, host status 0x61; after 2 retries)" {
		t.Fatalf("hung read: %v", err)
	}
	if el := time.Since(start); el < 600*time.Millisecond || el > 3*time.Second {
		t.Errorf("three tries timed out after %v", el)
	}
	disk.Set(func() { disk.Hang = false })
	// The next read waits for the recovery after the last timeout.
	if _, err := d.ReadAt(buf, 512*42); err != nil || !bytes.Equal(buf, pattern(42, 2, 512)) {
		t.Errorf("after the reset: %v", err)
	}
	s := h.ch.Stats()
	if s.Timeouts != 3 || s.Resets != before.Resets+3 || s.Retries != 2 || s.Recoveries != before.Recoveries+3 {
		t.Errorf("stats %+v", s)
	}
	if len(disk.Modes()) != modes+6 {
		t.Errorf("SET FEATURES after the resets: %x", disk.Modes())
	}
	var reset ContextRow
	for _, r := range h.ctl.Contexts() {
		if r.Routine == RoutineReset {
			reset = r
		}
	}
	if reset.Count < 2 || reset.MinCR8 != 5 || reset.MaxCR8 != 5 || reset.Masked != SeenTrue || reset.LockHeld != SeenTrue {
		t.Errorf("HwReset contexts %+v", reset)
	}
}

// An interrupt that never arrives for a finished command: the timeout finds
// the device done and completes the request through the interrupt path.
func TestLostInterruptAtTimeout(t *testing.T) {
	h := newHarness(t, bigDisk(), nil, func(c *Config) { c.Timeout = 100 * time.Millisecond })
	d := h.device("0:0")
	h.intr.drop.Store(1)
	buf := make([]byte, 512)
	if _, err := d.ReadAt(buf, 512*7); err != nil || !bytes.Equal(buf, pattern(7, 1, 512)) {
		t.Fatalf("read: %v", err)
	}
	if s := h.ch.Stats(); s.LostInterrupts != 1 || s.Timeouts != 0 {
		t.Errorf("stats %+v", s)
	}
}

// An edge that arrives while a synchronized routine has the line masked is
// lost at the pin; the pending hook finds it and the port services it.
func TestLostEdgeAfterMaskedSection(t *testing.T) {
	h := newHarness(t, bigDisk(), nil, nil)
	d := h.device("0:0")
	if err := d.SetMode(ModePIO); err != nil {
		t.Fatal(err)
	}
	h.intr.hold.Store(true)
	done := make(chan error, 1)
	buf := make([]byte, 512)
	go func() {
		_, err := d.ReadAt(buf, 512*3)
		done <- err
	}()
	// The read's INTRQ reaches the pin while a synchronized routine (as a
	// BuildIo's would) has the line masked.
	for !h.bus.INTRQ() {
		runtime.Gosched()
	}
	ok := h.ch.RequestSynchronizedRoutine(func(*miniport.Request) bool {
		h.intr.release()
		return true
	}, nil)
	if !ok {
		t.Error("synchronized routine's answer lost")
	}
	if err := <-done; err != nil || !bytes.Equal(buf, pattern(3, 1, 512)) {
		t.Fatalf("read: %v", err)
	}
	if h.intr.lost.Load() != 1 || h.ch.Stats().LostEdges != 1 {
		t.Errorf("edges lost at the pin %d, serviced as lost edges %d", h.intr.lost.Load(), h.ch.Stats().LostEdges)
	}
}

// A device that holds BSY after a reset: commands wait, retried, and run
// once it clears; one that never clears fails naming the wait.
func TestBusyRetry(t *testing.T) {
	disk := bigDisk()
	h := newHarness(t, disk, nil, func(c *Config) { c.BusyTimeout = 300 * time.Millisecond })
	d := h.device("0:0")
	disk.Set(func() { disk.BusyReads = 40 })
	if err := h.ch.Reset(); err != nil {
		t.Fatal(err)
	}
	if s := h.ch.Stats(); s.BusyRetries == 0 {
		t.Errorf("no busy retries: %+v", s)
	}
	buf := make([]byte, 512)
	if _, err := d.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	disk.Set(func() { disk.BusyReads = 1 << 30 })
	if err := h.ch.Reset(); err != nil {
		t.Fatal(err)
	}
	_, err := d.ReadAt(buf, 0)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "BSY still set after 300ms") {
		t.Errorf("stuck BSY: %v", err)
	}
}

func TestDeviceErrorsAndFlush(t *testing.T) {
	disk := bigDisk()
	disk.ErrorAt = func(c miniport.Command, lba uint64) uint8 {
		if lba == 77 {
			return miniport.UNC
		}
		return 0
	}
	h := newHarness(t, disk, nil, nil)
	d := h.device("0:0")
	buf := make([]byte, 512)
	_, err := d.ReadAt(buf, 512*77)
	if !errors.Is(err, ErrDevice) || err.Error() != "ata0.0: READ DMA lba 77 count 1: device error (status 0x51 DRDY|DSC|ERR, error 0x40 UNC; failing lba 77)" {
		t.Errorf("UNC: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.AtaError != miniport.UNC || e.Status != miniport.StatusDeviceError {
		t.Errorf("error fields %+v", e)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if c := disk.Commands(); c[len(c)-1] != miniport.FLUSH_CACHE_EXT {
		t.Errorf("flush sent %v", c[len(c)-1])
	}
	small := newHarness(t, smallDisk(), nil, nil)
	if err := small.device("0:0").SetMode(ModeDMA); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, &sfftest.Device{Spec: sfftest.IdentifySpec{Model: "PIO ONLY", Sectors28: 100}, Capacity: 100}, nil, nil)
	pd := h2.device("0:0")
	if pd.Modes() != miniport.PIO2 || pd.Mode() != ModePIO {
		t.Errorf("PIO-only device: %v %v", pd.Modes(), pd.Mode())
	}
	if err := pd.SetMode(ModeDMA); !errors.Is(err, ErrInvalid) {
		t.Errorf("DMA on a PIO-only device: %v", err)
	}
}

// The contexts table proves the contract of docs/DESIGN.md "Who runs where".
// TestMaskedSeesInjectedMask: a mask written outside the port's masked
// sections (`irq mask`) is read back from the line, not taken from the
// record's cache of the last read.
func TestMaskedSeesInjectedMask(t *testing.T) {
	h := newHarness(t, bigDisk(), nil, nil)
	for i, want := range []bool{false, false, true, true, false, false} {
		if i == 2 || i == 4 {
			h.intr.masked.Store(want)
			h.intr.changes.Add(1)
		}
		if got := h.ch.masked(); got != want {
			t.Errorf("read %d: masked() = %v, want %v", i, got, want)
		}
	}
}

func TestContexts(t *testing.T) {
	disk := bigDisk()
	h := newHarness(t, disk, cd(), nil)
	d := h.device("0:0")
	buf := make([]byte, 64*512)
	for i := 0; i < 100; i++ {
		if _, err := d.ReadAt(buf, int64(i)*512*64); err != nil {
			t.Fatal(err)
		}
	}
	// A PIO write whose device raises DRQ late has the miniport poll for
	// it through a synchronized routine.
	disk.Set(func() { disk.WriteDelay = 30 })
	if err := d.SetMode(ModePIO); err != nil {
		t.Fatal(err)
	}
	if err := d.SetWritable(true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.WriteAt(buf[:512], 0); err != nil {
		t.Fatal(err)
	}
	if err := h.ch.Reset(); err != nil {
		t.Fatal(err)
	}
	h.quiet()
	rows := map[Routine]ContextRow{}
	for _, r := range h.ctl.Contexts() {
		rows[r.Routine] = r
	}
	for _, tc := range []struct {
		r              Routine
		min, max       kernel.IRQL
		masked, locked Seen
	}{
		{RoutineAdapterControl, 0, 0, SeenFalse, SeenFalse},
		{RoutineChannelEnabled, 0, 0, SeenFalse, SeenFalse},
		{RoutineChannelInit, 0, 0, SeenFalse, SeenFalse},
		{RoutineTransferModeSelect, 0, 0, SeenFalse, SeenFalse},
		{RoutineInitialize, 0, 0, SeenFalse, SeenFalse},
		{RoutineControl, 0, 0, SeenFalse, SeenFalse},
		{RoutineBuildIo, 2, 2, SeenFalse, SeenFalse},
		{RoutineStartIo, 5, 5, SeenFalse, SeenTrue},
		{RoutineInterrupt, 5, 5, SeenFalse, SeenTrue},
		{RoutinePending, 5, 5, SeenFalse, SeenTrue},
		{RoutineReset, 5, 5, SeenTrue, SeenTrue},
		{RoutineSynchronized, 5, 5, SeenTrue, SeenTrue},
		{RoutineCompletionDPC, 2, 2, SeenFalse, SeenFalse},
	} {
		r, ok := rows[tc.r]
		if !ok || r.Count == 0 {
			t.Errorf("%v never recorded", tc.r)
			continue
		}
		if r.MinCR8 != tc.min || r.MaxCR8 != tc.max || r.IF != SeenTrue || r.Masked != tc.masked || r.LockHeld != tc.locked {
			t.Errorf("%v: CR8 %v..%v IF %v masked %v lock %v, want %v..%v IF 1 masked %v lock %v",
				tc.r, r.MinCR8, r.MaxCR8, r.IF, r.Masked, r.LockHeld, tc.min, tc.max, tc.masked, tc.locked)
		}
	}
	hist := h.ch.History()
	if len(hist) != ringSize {
		t.Errorf("history of %d records, want a full ring of %d", len(hist), ringSize)
	}
	for i := 1; i < len(hist); i++ {
		if hist[i].Time < hist[i-1].Time-time.Millisecond {
			t.Fatalf("history out of order at %d", i)
		}
	}
}

// QueueState of an idle channel: nothing queued or in flight, no deadline,
// not held (the PIIX miniport reports no state of its own). The completion
// DPC uncounts the discovery's last request after waking its waiter, so
// the test waits for that first.
func TestQueueStateIdle(t *testing.T) {
	h := newHarness(t, bigDisk(), nil, nil)
	h.quiet()
	want := "ata0: queued 0 built false building false busy-retry 0 (waiting false) started 0 in flight 0 [] first deadline in none held false done 0"
	if got := h.ch.QueueState(); got != want {
		t.Errorf("QueueState\n got %q\nwant %q", got, want)
	}
}
