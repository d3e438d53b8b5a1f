package ata

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/piix"
)

func TestParseSense(t *testing.T) {
	fixed := make([]byte, 18)
	fixed[0], fixed[2], fixed[12], fixed[13] = 0xf0, 0x26, 0x28, 0 // valid bit, ILI noise above the key
	for _, tc := range []struct {
		name string
		b    []byte
		want Sense
		ok   bool
	}{
		{"fixed", fixed, Sense{6, 0x28, 0}, true},
		{"fixed, cut before ASCQ", fixed[:13], Sense{}, false},
		{"descriptor", []byte{0x72, 0x02, 0x3a, 0x01}, Sense{2, 0x3a, 1}, true},
		{"unknown format", []byte{0x7f, 0, 6, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x28, 0}, Sense{}, false},
		{"empty", nil, Sense{}, false},
	} {
		if got, ok := parseSense(tc.b); got != tc.want || ok != tc.ok {
			t.Errorf("%s: %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	for s, want := range map[Sense]string{
		{6, 0x28, 0}: "sense 6/28/00 NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED",
		{2, 0x3a, 0}: "sense 2/3a/00 MEDIUM NOT PRESENT",
		{3, 0x11, 5}: "sense 3/11/05",
	} {
		if got := s.String(); got != want {
			t.Errorf("%+v: %q, want %q", s, got, want)
		}
	}
}

// TestRetryablePacket checks that a PACKET command's sense key is not read
// as ERROR's ICRC bit: only ABORTED COMMAND is tried again.
func TestRetryablePacket(t *testing.T) {
	for _, tc := range []struct {
		packet bool
		err    uint8
		want   bool
	}{
		{false, miniport.ICRC | miniport.ABRT, true},
		{false, miniport.UNC, false},
		{true, 0xb<<4 | miniport.ABRT, true},  // ABORTED COMMAND
		{true, 0x8<<4 | miniport.ABRT, false}, // BLANK CHECK: bit 7 set, no CRC
		{true, 0x6<<4 | miniport.ABRT, false}, // UNIT ATTENTION: handled as a medium event
	} {
		e := &Error{Status: miniport.StatusDeviceError, AtaError: tc.err, Packet: tc.packet, Kind: ErrDevice}
		if got := retryable(e); got != tc.want {
			t.Errorf("packet %v error %#x: retryable %v, want %v", tc.packet, tc.err, got, tc.want)
		}
	}
}

// TestMediumChange swaps and removes the fake drive's disc under reads. The
// drive keeps a UNIT ATTENTION until REQUEST SENSE, as QEMU's does: a read
// that meets it reads the capacity again and goes on with the new disc, or
// fails naming what the disc has now; a drive with no disc fails with its
// sense data and has 0 sectors until one is inserted.
func TestMediumChange(t *testing.T) {
	dvd := cd()
	h := newHarness(t, nil, dvd, nil)
	d := h.device("0:1")
	if d.Sectors() != 300 {
		t.Fatalf("%d sectors after discovery (UNIT ATTENTION of the reset pending), want 300; log %q", d.Sectors(), h.logs)
	}
	read := func(lba uint64, n int) error {
		buf := make([]byte, n*2048)
		_, err := d.ReadAt(buf, int64(lba)*2048)
		if err == nil && !bytes.Equal(buf, pattern(lba, n, 2048)) {
			t.Errorf("lba %d count %d: data differs", lba, n)
		}
		return err
	}

	// A bigger disc: the read goes on after the capacity is read again.
	dvd.Set(func() { dvd.Capacity, dvd.MediumChange = 1000, true })
	if err := read(290, 4); err != nil {
		t.Fatalf("read after a disc change: %v", err)
	}
	if d.Sectors() != 1000 || !slices.Contains(h.logs, "ata0.1: medium changed: 1000 sectors of 2048 bytes") {
		t.Errorf("%d sectors, log %q; want 1000 and the change logged", d.Sectors(), h.logs)
	}
	if err := read(990, 10); err != nil {
		t.Errorf("read at the end of the new disc: %v", err)
	}

	// A smaller one: a read past its end fails, naming the change.
	dvd.Set(func() { dvd.Capacity, dvd.MediumChange = 50, true })
	err := read(60, 2)
	if !errors.Is(err, ErrRange) || !strings.Contains(err.Error(), "the medium changed; the device has 50 sectors") {
		t.Errorf("read past the end of a smaller disc: %v", err)
	}
	if err := read(48, 2); err != nil {
		t.Errorf("read within the smaller disc: %v", err)
	}

	// A disc swapped between two commands of one read: the read fails
	// rather than return sectors of both discs.
	big := make([]byte, 3*d.maxSectors(false)*2048)
	dvd.Set(func() { dvd.Capacity, dvd.MediumChange = 50000, true })
	if err := d.Revalidate(); err != nil || d.Sectors() != 50000 {
		t.Fatalf("Revalidate: %v, %d sectors", err, d.Sectors())
	}
	dvd.Set(func() { dvd.ChangeAfter = 1 })
	_, err = d.ReadAt(big, 0)
	if !errors.Is(err, ErrDevice) || !strings.Contains(err.Error(), fmt.Sprintf("the medium changed after %d of %d sectors were read from the previous one", d.maxSectors(false), 3*d.maxSectors(false))) {
		t.Errorf("read across a disc change: %v", err)
	}
	if _, err := d.ReadAt(big, 0); err != nil {
		t.Errorf("read again after the change: %v", err)
	}

	// No disc: the sense data says so, and the drive has 0 sectors.
	dvd.Set(func() { dvd.NoMedium = true })
	err = read(0, 1)
	if !errors.Is(err, ErrNoMedium) || !strings.Contains(err.Error(), ": no medium (") || !strings.Contains(err.Error(), "sense 2/3a/00 MEDIUM NOT PRESENT") {
		t.Errorf("read with no disc: %v", err)
	}
	if s, ok := senseOf(err); !ok || s != (Sense{SenseNotReady, ASCMediumNotPresent, 0}) {
		t.Errorf("sense %+v %v", s, ok)
	}
	if d.Sectors() != 0 || !slices.Contains(h.logs, "ata0.1: medium removed") {
		t.Errorf("%d sectors with no disc, log %q", d.Sectors(), h.logs)
	}
	if err := d.Revalidate(); !errors.Is(err, ErrNoMedium) {
		t.Errorf("Revalidate with no disc: %v, want no medium", err)
	}

	// A disc inserted: Revalidate finds it.
	dvd.Set(func() { dvd.NoMedium, dvd.MediumChange, dvd.Capacity = false, true, 200 })
	if err := d.Revalidate(); err != nil || d.Sectors() != 200 {
		t.Errorf("Revalidate after a disc was inserted: %v, %d sectors", err, d.Sectors())
	}
	if err := read(199, 1); err != nil {
		t.Errorf("read of the inserted disc: %v", err)
	}
	if err := h.device("0:1").Revalidate(); err != nil {
		t.Errorf("Revalidate with nothing changed: %v", err)
	}
}

// TestNoMediumAtDiscovery: a drive found empty says so in one line and has
// 0 sectors.
func TestNoMediumAtDiscovery(t *testing.T) {
	dvd := cd()
	dvd.NoMedium = true
	h := newHarness(t, nil, dvd, nil)
	if d := h.device("0:1"); d.Sectors() != 0 || !slices.Contains(h.logs, "ata0.1: no medium") {
		t.Errorf("%d sectors, log %q", d.Sectors(), h.logs)
	}
}

// TestPacketPIOChunks reads 100 sectors of 2048 bytes from the fake drive
// by PIO, which QEMU (and the fake) serve one sector at a time, in chunks
// of the byte count limit: a limit of FFFEh ended a chunk 2046 bytes into
// a sector, and the next chunk's first doubleword read then crossed the end
// of that sector, read 0 and moved nothing, until the command timed out.
func TestPacketPIOChunks(t *testing.T) {
	h := newHarness(t, nil, cd(), nil)
	d := h.device("0:1")
	if err := d.SetMode(ModePIO); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100*2048)
	if _, err := d.ReadAt(buf, 7*2048); err != nil {
		t.Fatalf("PIO read of 100 sectors: %v", err)
	}
	if !bytes.Equal(buf, pattern(7, 100, 2048)) {
		t.Error("PIO read of 100 sectors: data differs")
	}
}

// deepPIIX is a fake PIIX whose channel says it keeps 8 requests in flight,
// as an AHCI port does.
type deepPIIX struct{ *piix.Controller }

func (c deepPIIX) ChannelInit(ch int, port miniport.Port) (miniport.Channel, miniport.ChannelInfo, error) {
	mc, info, err := c.Controller.ChannelInit(ch, port)
	info.QueueDepth = 8
	return mc, info, err
}

// TestSenseBeforeOtherCallers has six callers read one fake drive while its
// disc changes, over and over. The drive keeps the UNIT ATTENTION until
// REQUEST SENSE, and any other command replaces its sense data, as QEMU's:
// had another caller's command reached the drive between a failed command
// and its REQUEST SENSE, one of the two would have read "sense 0/00/00" and
// failed. Every read goes on after the change instead; and on a channel
// that keeps several requests in flight PACKET commands still start one at
// a time.
func TestSenseBeforeOtherCallers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mp    miniport.Controller
		depth int
	}{
		{"depth 1", fakePIIX(t, idetimPrimary), 1},
		{"depth 8", deepPIIX{fakePIIX(t, idetimPrimary)}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dvd := cd()
			h := newHarnessOf(t, tc.mp, nil, dvd, nil)
			d := h.device("0:1")
			for round := range 20 {
				dvd.Set(func() { dvd.MediumChange = true })
				var wg sync.WaitGroup
				errs := make([]error, 6)
				for i := range errs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						lba := uint64(round*6 + i)
						buf := make([]byte, 2048)
						_, errs[i] = d.ReadAt(buf, int64(lba)*2048)
						if errs[i] == nil && !bytes.Equal(buf, pattern(lba, 1, 2048)) {
							errs[i] = fmt.Errorf("lba %d: data differs", lba)
						}
					}()
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if s := h.ch.Stats(); s.Depth != tc.depth || s.MaxOutstanding != 1 {
				t.Errorf("depth %d, at most %d requests in flight; want %d and 1", s.Depth, s.MaxOutstanding, tc.depth)
			}
		})
	}
}

// TestBecomingReady: a drive that answers NOT READY, BECOMING READY (a disc
// spinning up) is asked again until it is ready, for at most the command
// timeout, after which the error says so in one line.
func TestBecomingReady(t *testing.T) {
	dvd := cd()
	h := newHarness(t, nil, dvd, func(c *Config) { c.Timeout = 500 * time.Millisecond })
	d := h.device("0:1")
	buf := make([]byte, 2*2048)
	dvd.Set(func() { dvd.BecomingReady = 3 })
	if _, err := d.ReadAt(buf, 10*2048); err != nil || !bytes.Equal(buf, pattern(10, 2, 2048)) {
		t.Fatalf("read while the drive became ready: %v", err)
	}
	dvd.Set(func() { dvd.BecomingReady, dvd.MediumChange, dvd.Capacity = 2, true, 400 })
	if err := d.Revalidate(); err != nil || d.Sectors() != 400 {
		t.Errorf("Revalidate while the drive became ready: %v, %d sectors", err, d.Sectors())
	}
	dvd.Set(func() { dvd.BecomingReady = 1 << 30 })
	start := time.Now()
	_, err := d.ReadAt(buf, 0)
	want := "PACKET READ(10) lba 0 count 2: device error (status 0x41 DRDY|ERR, error 0x24 sense key 0x2 NOT READY|ABRT; sense 2/04/01 LOGICAL UNIT IS IN PROCESS OF BECOMING READY; not ready after 500ms)"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("read of a drive never ready: %v; want it to end %q", err, want)
	}
	if took := time.Since(start); took < 500*time.Millisecond || took > 5*time.Second {
		t.Errorf("the read gave up after %v, want the 500ms timeout", took)
	}
	dvd.Set(func() { dvd.BecomingReady = 0 })
	if _, err := d.ReadAt(buf, 0); err != nil {
		t.Errorf("read once ready: %v", err)
	}
}
