package ata

// Faults and recovery on the fake channel (miniport/sff/sfftest): device
// errors with the failing LBA, bounded retries, timeouts with reset,
// re-identification and requeue, lost and delayed interrupts, devices that
// lie, and a stress workload under faults checked sector by sector.

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/stress"
	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// mux routes port I/O to the fake bus that owns the port: the secondary
// channel's command block (0x170), control block (0x376) and bus master
// (BMIBA+8), or else the primary's.
type mux struct{ pri, sec *sfftest.Bus }

func (m mux) bus(port uint16) miniport.PortIO {
	if port >= 0x170 && port <= 0x177 || port == 0x376 || port >= 0xc008 && port < 0xc010 {
		return m.sec
	}
	return m.pri
}

func (m mux) In8(p uint16) uint8          { return m.bus(p).In8(p) }
func (m mux) Out8(p uint16, v uint8)      { m.bus(p).Out8(p, v) }
func (m mux) In16(p uint16) uint16        { return m.bus(p).In16(p) }
func (m mux) Out16(p uint16, v uint16)    { m.bus(p).Out16(p, v) }
func (m mux) In32(p uint16) uint32        { return m.bus(p).In32(p) }
func (m mux) Out32(p uint16, v uint32)    { m.bus(p).Out32(p, v) }
func (m mux) InsW(p uint16, b []byte)     { m.bus(p).InsW(p, b) }
func (m mux) OutsW(p uint16, b []byte)    { m.bus(p).OutsW(p, b) }
func (m mux) InsL(p uint16, b []byte)     { m.bus(p).InsL(p, b) }
func (m mux) OutsL(p uint16, b []byte)    { m.bus(p).OutsL(p, b) }
func (m mux) String() string              { return "primary and secondary fake buses" }
func (m mux) devices() [2]*sfftest.Device { return [2]*sfftest.Device{m.pri.Dev[0], m.sec.Dev[0]} }

// twoChannels is the port on a PIIX3 with both channels decoding, a disk
// on each, each channel with its own interrupt object.
type twoChannels struct {
	ctl  *Controller
	ch   [2]*Channel
	disk [2]*sfftest.Device
	logs []string
}

func newTwoChannels(t *testing.T, timeout time.Duration) *twoChannels {
	t.Helper()
	h := &twoChannels{disk: [2]*sfftest.Device{bigDisk(), bigDisk()}}
	mem := sfftest.NewMemory(0x50000000)
	m := mux{pri: sfftest.NewBus(h.disk[0], nil, mem), sec: sfftest.NewBus(h.disk[1], nil, mem)}
	m.sec.Cmd, m.sec.Ctl, m.sec.BM = 0x170, 0x376, 0xc008
	buses := map[irq.Line]*sfftest.Bus{{GSI: 14}: m.pri, {GSI: 15}: m.sec}
	var err error
	h.ctl, err = Attach(fakePIIX(t, idetimBoth), Config{
		Lines:       ideLines,
		IO:          m,
		DMA:         mem,
		Timeout:     timeout,
		BusyTimeout: 2 * time.Second,
		Log:         logTo(&h.logs),
		Connect: func(name string, line irq.Line, dirql kernel.IRQL, isr irq.ISR) (Interrupt, error) {
			f := &fakeIntr{edges: make(chan struct{}, 1024), isr: isr}
			f.lock.Name, f.lock.Level = name, dirql
			buses[line].IRQ = f.edge
			go f.loop()
			return f, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	chs := h.ctl.Channels()
	if len(chs) != 2 || len(h.ctl.Devices()) != 2 {
		t.Fatalf("%d channels, %d devices; log %q", len(chs), len(h.ctl.Devices()), h.logs)
	}
	h.ch[0], h.ch[1] = chs[0], chs[1]
	return h
}

// A device error names the command, its range and the failing sector the
// device reported, in 28-bit and 48-bit commands, by DMA and PIO; media
// errors are not retried and the sectors around still read.
func TestDeviceErrorNamesFailingLBA(t *testing.T) {
	disk := bigDisk()
	disk.BadSectors = map[uint64]uint8{1003: miniport.UNC, 0x10000005: miniport.UNC, 2000: miniport.IDNF | miniport.ABRT}
	h := newHarness(t, disk, nil, nil)
	d := h.device("0:0")
	if err := d.SetWritable(true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16*512)
	for _, tc := range []struct {
		mode  Mode
		write bool
		lba   uint64
		n     int
		want  string
	}{
		{ModeDMA, false, 1000, 8, "ata0.0: READ DMA lba 1000 count 8: device error (status 0x51 DRDY|DSC|ERR, error 0x40 UNC; failing lba 1003)"},
		{ModePIO, false, 1000, 8, "ata0.0: READ SECTORS lba 1000 count 8: device error (status 0x51 DRDY|DSC|ERR, error 0x40 UNC; failing lba 1003)"},
		{ModeDMA, false, 0x10000000, 16, "ata0.0: READ DMA EXT lba 268435456 count 16: device error (status 0x51 DRDY|DSC|ERR, error 0x40 UNC; failing lba 268435461)"},
		{ModePIO, true, 1996, 8, "ata0.0: WRITE SECTORS lba 1996 count 8: device error (status 0x51 DRDY|DSC|ERR, error 0x14 IDNF|ABRT; failing lba 2000)"},
		{ModeDMA, true, 0x0ffffffc, 16, "ata0.0: WRITE DMA EXT lba 268435452 count 16: device error (status 0x51 DRDY|DSC|ERR, error 0x40 UNC; failing lba 268435461)"},
	} {
		if err := d.SetMode(tc.mode); err != nil {
			t.Fatal(err)
		}
		var err error
		b := buf[:tc.n*512]
		if tc.write {
			_, err = d.WriteAt(b, int64(tc.lba)*512)
		} else {
			_, err = d.ReadAt(b, int64(tc.lba)*512)
		}
		var e *Error
		if !errors.Is(err, ErrDevice) || err.Error() != tc.want || !errors.As(err, &e) || !e.HasFailedLBA {
			t.Errorf("got  %v\nwant %s", err, tc.want)
		}
	}
	if _, err := d.ReadAt(buf[:8*512], 1004*512); err != nil || !bytes.Equal(buf[:8*512], pattern(1004, 8, 512)) {
		t.Errorf("sectors after the bad one: %v", err)
	}
	if s := h.ch.Stats(); s.Retries != 0 || s.Resets != 1 || s.Recoveries != 0 {
		t.Errorf("media errors were retried or reset the channel: %+v", s)
	}
}

// An interface CRC error is retried, at most maxRetries times, each retry
// counted; the error after the last names the retries.
func TestICRCRetried(t *testing.T) {
	disk := bigDisk()
	var calls atomic.Int32
	disk.ErrorAt = func(c miniport.Command, lba uint64) uint8 {
		switch {
		case lba == 500 && calls.Add(1) <= 2:
			return miniport.ICRC | miniport.ABRT
		case lba == 600:
			return miniport.ICRC | miniport.ABRT
		}
		return 0
	}
	h := newHarness(t, disk, nil, nil)
	d := h.device("0:0")
	buf := make([]byte, 512)
	if _, err := d.ReadAt(buf, 500*512); err != nil || !bytes.Equal(buf, pattern(500, 1, 512)) {
		t.Fatalf("read after two CRC errors: %v", err)
	}
	if s := h.ch.Stats(); s.Retries != 2 || s.Errors != 2 {
		t.Errorf("stats %+v, want 2 retries of 2 errors", s)
	}
	_, err := d.ReadAt(buf, 600*512)
	want := "ata0.0: READ DMA lba 600 count 1: device error (status 0x51 DRDY|DSC|ERR, error 0x84 ICRC|ABRT; failing lba 600; after 2 retries)"
	var e *Error
	if err == nil || err.Error() != want || !errors.As(err, &e) || e.Retries != 2 {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if s := h.ch.Stats(); s.Retries != 4 || s.Timeouts != 0 || s.Recoveries != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A request that times out fails once, the channel is reset, the device is
// re-identified and re-programmed before any other request of an upper
// layer starts (a request built before the reset included), and then the
// retry and the requests queued meanwhile complete once each with the
// right data.
func TestTimeoutRecoveryOrder(t *testing.T) {
	disk := bigDisk()
	h := newHarness(t, disk, nil, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	d := h.device("0:0")
	before := h.ch.Stats()
	first := len(disk.Commands())
	disk.Set(func() { disk.HangCommands = 1 })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			lba := uint64(100 * (i + 1))
			buf := make([]byte, 4*512)
			if _, err := d.ReadAt(buf, int64(lba)*512); err != nil {
				errs <- err
			} else if !bytes.Equal(buf, pattern(lba, 4, 512)) {
				errs <- fmt.Errorf("reader %d: data differs", i)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	cmds := disk.Commands()[first:]
	want := "[READ DMA IDENTIFY DEVICE SET FEATURES SET FEATURES READ DMA READ DMA READ DMA READ DMA]"
	if fmt.Sprint(cmds) != want {
		t.Errorf("commands %v\nwant     %s", cmds, want)
	}
	s := h.ch.Stats()
	if s.Timeouts != 1 || s.Retries != 1 || s.Recoveries != before.Recoveries+1 || s.Resets != before.Resets+1 {
		t.Errorf("stats %+v", s)
	}
}

// While one channel waits for a hung device, times out and recovers, the
// other keeps serving its requests.
func TestOtherChannelKeepsWorking(t *testing.T) {
	h := newTwoChannels(t, time.Second)
	pri, sec := h.ctl.Devices()[0], h.ctl.Devices()[1]
	if pri.Channel() == sec.Channel() {
		t.Fatal("both disks on one channel")
	}
	first := len(h.disk[0].Commands())
	h.disk[0].HangCommands = 1
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		buf := make([]byte, 512)
		_, err := pri.ReadAt(buf, 9*512)
		if err == nil && !bytes.Equal(buf, pattern(9, 1, 512)) {
			err = errors.New("primary data differs")
		}
		done <- err
	}()
	for len(h.disk[0].Commands()) == first {
		time.Sleep(time.Millisecond) // until the primary's READ hangs in the device
	}
	buf := make([]byte, 8*512)
	for i := uint64(0); i < 50; i++ {
		if _, err := sec.ReadAt(buf, int64(i*8)*512); err != nil || !bytes.Equal(buf, pattern(i*8, 8, 512)) {
			t.Fatalf("secondary read %d: %v", i, err)
		}
	}
	select {
	case err := <-done:
		t.Fatalf("the primary read ended (%v) after %v, before the secondary's 50 reads were done", err, time.Since(start))
	default:
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("the primary read completed after %v, before its timeout", el)
	}
	if s := h.ch[0].Stats(); s.Timeouts != 1 || s.Retries != 1 || s.Recoveries != 1 {
		t.Errorf("primary stats %+v", s)
	}
	if s := h.ch[1].Stats(); s.Timeouts != 0 || s.Resets != 1 || s.Recoveries != 0 {
		t.Errorf("secondary stats %+v", s)
	}
}

// Dropped interrupts (InjectDrop) are found by the lost-interrupt check
// within lostInterruptCheck, long before the timeout: every request
// completes once with the right data, nothing is reset. Each read here
// raises one interrupt, so that each drop is one lost interrupt.
func TestDroppedInterruptsRecovered(t *testing.T) {
	h := newHarness(t, bigDisk(), nil, func(c *Config) { c.Timeout = 10 * time.Second })
	d := h.device("0:0")
	before := h.ch.Stats()
	h.ch.InjectDrop(6)
	if inj := h.ch.Injection(); inj.Drop != 6 {
		t.Errorf("injection %+v", inj)
	}
	start := time.Now()
	buf := make([]byte, 4*512)
	for i, m := range []Mode{ModeDMA, ModeDMA, ModePIO, ModeDMA, ModeDMA, ModePIO} {
		if err := d.SetMode(m); err != nil {
			t.Fatal(err)
		}
		lba, n := uint64(i*64), 4
		if m == ModePIO {
			n = 1
		}
		if _, err := d.ReadAt(buf[:n*512], int64(lba)*512); err != nil || !bytes.Equal(buf[:n*512], pattern(lba, n, 512)) {
			t.Fatalf("read %d (%v): %v", i, m, err)
		}
	}
	el := time.Since(start)
	s := h.ch.Stats()
	if s.Dropped-before.Dropped != 6 || s.LostInterrupts != 6 || s.Timeouts != 0 || s.Resets != before.Resets {
		t.Errorf("stats %+v", s)
	}
	if el > 6*(lostInterruptCheck+100*time.Millisecond) {
		t.Errorf("6 dropped interrupts took %v to recover", el)
	}
	if inj := h.ch.Injection(); inj.Drop != 0 {
		t.Errorf("injection left %+v", inj)
	}
}

// A delayed interrupt (InjectDelay) completes its request that much later;
// one delayed past the lost-interrupt check is caught by it instead, never
// a timeout; InjectOff ends it.
func TestInjectDelay(t *testing.T) {
	h := newHarness(t, bigDisk(), nil, func(c *Config) { c.Timeout = 10 * time.Second })
	d := h.device("0:0")
	buf := make([]byte, 512)
	h.ch.InjectDelay(40 * time.Millisecond)
	for i := uint64(0); i < 3; i++ {
		start := time.Now()
		if _, err := d.ReadAt(buf, int64(i)*512); err != nil || !bytes.Equal(buf, pattern(i, 1, 512)) {
			t.Fatalf("delayed read: %v", err)
		}
		if el := time.Since(start); el < 40*time.Millisecond {
			t.Errorf("read with a 40 ms delay took %v", el)
		}
	}
	if s := h.ch.Stats(); s.Delayed < 3 || s.LostInterrupts != 0 {
		t.Errorf("stats %+v", s)
	}
	h.ch.InjectDelay(time.Hour)
	if _, err := d.ReadAt(buf, 512); err != nil || !bytes.Equal(buf, pattern(1, 1, 512)) {
		t.Fatalf("read with an hour's delay: %v", err)
	}
	if s := h.ch.Stats(); s.LostInterrupts != 1 || s.Timeouts != 0 {
		t.Errorf("stats %+v", s)
	}
	h.ch.InjectOff()
	if inj := h.ch.Injection(); inj != (Injection{}) {
		t.Errorf("injection after off: %+v", inj)
	}
	delayed := h.ch.Stats().Delayed
	if _, err := d.ReadAt(buf, 0); err != nil || h.ch.Stats().Delayed != delayed {
		t.Errorf("after off: %v, %+v", err, h.ch.Stats())
	}
}

// An injected BuildIo stall makes each BuildIo that much longer, inside
// the call, so that with a request in flight its ISR runs during the next
// one's BuildIo; it is capped at MaxBuildIoStall, and InjectOff ends it.
func TestInjectBuildIoStall(t *testing.T) {
	h := newHarness(t, bigDisk(), nil, nil)
	d := h.device("0:0")
	overlaps := func() uint64 {
		for _, r := range h.ctl.Contexts() {
			if r.Routine == RoutineBuildIo {
				return r.Overlap
			}
		}
		return 0
	}
	before := overlaps()
	h.ch.InjectBuildIoStall(5 * time.Millisecond)
	if inj := h.ch.Injection(); inj.BuildIoStall != 5*time.Millisecond {
		t.Errorf("injection %+v", inj)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for i := uint64(w); i < 8; i += 2 {
				if _, err := d.ReadAt(buf, int64(i)*512); err != nil || !bytes.Equal(buf, pattern(i, 1, 512)) {
					t.Errorf("read %d with BuildIo stalled: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	if el := time.Since(start); el < 8*5*time.Millisecond {
		t.Errorf("8 reads with 5 ms BuildIo stalls took %v", el)
	}
	if n := overlaps() - before; n == 0 {
		t.Error("no ISR ran during a stalled BuildIo with a request in flight")
	}
	h.ch.InjectBuildIoStall(time.Hour)
	if inj := h.ch.Injection(); inj.BuildIoStall != MaxBuildIoStall {
		t.Errorf("an hour's stall: %+v, want it capped at %v", inj, MaxBuildIoStall)
	}
	h.ch.InjectOff()
	if inj := h.ch.Injection(); inj != (Injection{}) {
		t.Errorf("injection after off: %+v", inj)
	}
}

// IDENTIFY data a device should not send leave the device out of the
// port, with a message naming what is wrong; nothing panics.
func TestIdentifyLies(t *testing.T) {
	for _, tc := range []struct {
		name string
		dev  *sfftest.Device
		log  string
	}{
		{"bad checksum", &sfftest.Device{Spec: sfftest.IdentifySpec{Model: "X", Sectors28: 100, Checksum: true, BadChecksum: true}, Capacity: 100},
			"ata0.0: IDENTIFY DEVICE: protocol error (IDENTIFY data checksum wrong: word 255 is 0x"},
		{"capacity 0", &sfftest.Device{Spec: sfftest.IdentifySpec{Model: "X", Checksum: true}},
			"ata0.0: IDENTIFY DEVICE: protocol error (IDENTIFY words 60-61 and 100-103: capacity of 0 sectors)"},
		{"capacity past 2^48", &sfftest.Device{Spec: sfftest.IdentifySpec{Model: "X", Sectors28: 0x0fffffff, LBA48: true, Sectors48: 1<<48 + 1}, Capacity: 100},
			"ata0.0: IDENTIFY DEVICE: protocol error (IDENTIFY words 100-103: capacity beyond 2^48 sectors)"},
		{"all ones", &sfftest.Device{Identify: bytes.Repeat([]byte{0xff}, 512)},
			"ata0.0: IDENTIFY DEVICE: protocol error (IDENTIFY data reads all ones: nothing drives the bus)"},
		{"short", &sfftest.Device{Identify: []byte{0x40, 0, 1, 2}},
			"ata0.0: IDENTIFY DEVICE: protocol error (IDENTIFY word 49: device without LBA addressing (CHS only) is not supported)"},
	} {
		h := newHarness(t, tc.dev, nil, nil)
		if n := len(h.ctl.Devices()); n != 0 {
			t.Errorf("%s: %d devices attached", tc.name, n)
		}
		if !strings.Contains(strings.Join(h.logs, "\n"), tc.log) {
			t.Errorf("%s: log %q lacks %q", tc.name, h.logs, tc.log)
		}
	}
}

// A device that keeps DRQ set after the data of a PIO read: a protocol
// error, the extra data never reach the caller's buffer, the channel is
// reset and recovered, and the next read works.
func TestDeviceKeepsDRQ(t *testing.T) {
	disk := bigDisk()
	h := newHarness(t, disk, nil, nil)
	d := h.device("0:0")
	if err := d.SetMode(ModePIO); err != nil {
		t.Fatal(err)
	}
	before := h.ch.Stats()
	disk.Set(func() { disk.ExtraDRQ = true })
	buf := bytes.Repeat([]byte{0xee}, 2*512)
	_, err := d.ReadAt(buf[:512], 5*512)
	want := "ata0.0: READ SECTORS lba 5 count 1: protocol error (moved 512 of 512 bytes; status 0x58 DRDY|DSC|DRQ; DRQ still set: the device has more data than asked for)"
	if !errors.Is(err, ErrProtocol) || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	if !bytes.Equal(buf[512:], bytes.Repeat([]byte{0xee}, 512)) {
		t.Error("the extra data overran the caller's buffer")
	}
	disk.Set(func() { disk.ExtraDRQ = false })
	if _, err := d.ReadAt(buf[:512], 5*512); err != nil || !bytes.Equal(buf[:512], pattern(5, 1, 512)) {
		t.Fatalf("read after the recovery: %v", err)
	}
	if s := h.ch.Stats(); s.Resets != before.Resets+1 || s.Recoveries != before.Recoveries+1 || s.Retries != 0 {
		t.Errorf("stats %+v", s)
	}
}

// A device whose DMA data and the PRD table disagree: moving less ends in
// a protocol error naming the bus master's status; wanting more leaves the
// device waiting, which the timeout ends, tried again and reported. The
// port's buffers bound what moves; the next read works.
func TestDMAOutOfStep(t *testing.T) {
	disk := bigDisk()
	h := newHarness(t, disk, nil, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	d := h.device("0:0")
	buf := bytes.Repeat([]byte{0xee}, 8*512)
	disk.Set(func() { disk.DMAShort = 512 })
	_, err := d.ReadAt(buf[:4*512], 64*512)
	want := "ata0.0: READ DMA lba 64 count 4: protocol error (DMA of 2048 bytes ended with the device and the PRD table out of step, host status 0x65; status 0x50 DRDY|DSC)"
	if !errors.Is(err, ErrProtocol) || err.Error() != want {
		t.Errorf("short DMA:\n got  %v\n want %s", err, want)
	}
	disk.Set(func() { disk.DMAShort, disk.DMALong = 0, 512 })
	_, err = d.ReadAt(buf[:4*512], 64*512)
	want = "ata0.0: READ DMA lba 64 count 4: timeout (no completion within 200ms; channel reset; status 0x58 DRDY|DSC|DRQ, host status 0x60; after 2 retries)"
	if !errors.Is(err, ErrTimeout) || err.Error() != want {
		t.Errorf("long DMA:\n got  %v\n want %s", err, want)
	}
	if !bytes.Equal(buf[4*512:], bytes.Repeat([]byte{0xee}, 4*512)) {
		t.Error("the DMA overran the caller's buffer")
	}
	disk.Set(func() { disk.DMALong = 0 })
	if _, err := d.ReadAt(buf[:4*512], 64*512); err != nil || !bytes.Equal(buf[:4*512], pattern(64, 4, 512)) {
		t.Fatalf("read after the recoveries: %v", err)
	}
	if s := h.ch.Stats(); s.Timeouts != 3 || s.Recoveries != 4 {
		t.Errorf("stats %+v", s)
	}
}

// The stress workload of `ata stress` on the fake disk, with interrupts
// dropped, commands hanging into timeouts, CRC errors and writes failing
// on bad sectors: afterwards every sector of every stripe holds what the
// replayed record allows (its last acknowledged write, a failed write
// since, or its original contents where none was acknowledged), and every
// failure was reported.
func TestStressUnderFaults(t *testing.T) {
	disk := bigDisk()
	var cmds atomic.Int64
	disk.ErrorAt = func(c miniport.Command, lba uint64) uint8 {
		if cmds.Add(1)%41 == 0 {
			return miniport.ICRC | miniport.ABRT
		}
		return 0
	}
	disk.BadSectors = map[uint64]uint8{70: miniport.UNC, 1500: miniport.IDNF | miniport.ABRT}
	disk.HangCommands = 2
	h := newHarness(t, disk, nil, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	d := h.device("0:0")
	if err := d.SetWritable(true); err != nil {
		t.Fatal(err)
	}
	cfg := stress.Config{Seed: 11, Workers: 4, MaxSectors: 32,
		Targets: []stress.Target{{Name: "0:0", LBA: 0, Count: 2048, SectorSize: 512}}}
	plan, err := stress.Plan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const ops = 300
	failed := make([]map[uint64]bool, len(plan))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var reported []string
	for w, s := range plan {
		failed[w] = map[uint64]bool{}
		wg.Add(1)
		go func(w int, s stress.Stripe) {
			defer wg.Done()
			st := stress.NewStream(cfg, s)
			buf := make([]byte, cfg.MaxSectors*512)
			for i := 0; i < ops; i++ {
				op := st.Next()
				if i%60 == 17 {
					h.ch.InjectDrop(1)
				}
				b := buf[:op.Count*512]
				var err error
				if op.Kind == stress.Write {
					stress.Fill(cfg.Seed, op, b, 512)
					_, err = d.WriteAt(b, int64(op.LBA)*512)
				} else {
					_, err = d.ReadAt(b, int64(op.LBA)*512)
				}
				if err != nil {
					failed[w][op.Seq] = true
					mu.Lock()
					reported = append(reported, stress.FailedLine(op, err))
					mu.Unlock()
				}
			}
		}(w, s)
	}
	wg.Wait()
	var out strings.Builder
	fmt.Fprintln(&out, stress.Header(cfg))
	fmt.Fprintln(&out, stress.TargetLine(cfg, 0))
	for _, s := range plan {
		fmt.Fprintln(&out, stress.WorkerLine(s, ops))
	}
	for _, l := range reported {
		fmt.Fprintln(&out, l)
	}
	rep, err := stress.ParseReport(out.String())
	if err != nil {
		t.Fatal(err)
	}
	recs, err := rep.Replay()
	if err != nil {
		t.Fatal(err)
	}
	corrupt, written, maybe := 0, 0, 0
	for _, rec := range recs {
		for lba := rec.Stripe.LBA; lba < rec.Stripe.LBA+rec.Stripe.Count; lba++ {
			if g, f := rec.Acked(lba); g != 0 {
				written++
			} else if f != 0 {
				maybe++
			}
			if v := rec.Check(lba, disk.Sector(lba), sfftest.Pattern(lba, 512)); v != stress.Match {
				corrupt++
				if corrupt < 5 {
					t.Errorf("lba %d: %v", lba, v)
				}
			}
		}
	}
	s := h.ch.Stats()
	t.Logf("%d ops, %d failed; %d sectors acknowledged-written, %d only by failed writes; %d corrupted; stats %+v",
		len(plan)*ops, len(reported), written, maybe, corrupt, s)
	if corrupt != 0 || written < 1000 {
		t.Errorf("%d corrupted sectors, %d written", corrupt, written)
	}
	// A dropped interrupt is found by the lost-interrupt check, or first
	// by the pending check after a masked section (a lost edge).
	if len(reported) == 0 || s.Timeouts < 2 || s.Retries < 2 || s.Dropped == 0 || s.LostInterrupts+s.LostEdges == 0 || s.Recoveries < 2 {
		t.Errorf("the faults were not all exercised: %d failures, stats %+v", len(reported), s)
	}
}
