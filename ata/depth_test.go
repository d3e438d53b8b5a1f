package ata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// queuedMiniport is a miniport whose one channel takes depth requests at
// once, as an AHCI port does: StartIo of a read or write only records it;
// each interrupt completes every recorded request, moving its data from or
// to disk, except those that touch the stuck LBA, which never complete.
// While hold is set interrupts complete nothing. Other commands (IDENTIFY,
// SET FEATURES...) complete in StartIo.
type queuedMiniport struct {
	port     miniport.Port
	depth    int
	disk     []byte
	identify []byte
	stuck    atomic.Int64 // LBA whose requests never complete; -1: none
	hold     atomic.Bool
	busy     atomic.Int64 // StartIo answers this many reads and writes busy

	// Under the interrupt lock.
	issued  []*miniport.Request
	most    int
	resets  int
	aborted int // requests in flight that a reset abandoned, the stuck ones left out
}

func newQueuedMiniport(depth, sectors int) *queuedMiniport {
	id := sfftest.BuildIdentify(sfftest.IdentifySpec{
		Model: "QUEUED DISK", Serial: "Q1", Firmware: "F1",
		Sectors28: uint32(sectors), Sectors48: uint64(sectors), LBA48: true,
		PIO4: true, UDMA: 0x3f, IORDY: true, FlushExt: true, Flush: true,
	})
	binary.LittleEndian.PutUint16(id[76*2:], 1<<8) // NCQ
	binary.LittleEndian.PutUint16(id[75*2:], 31)   // 32 tags
	m := &queuedMiniport{depth: depth, disk: make([]byte, sectors*512), identify: id}
	m.stuck.Store(-1)
	for i := range m.disk {
		m.disk[i] = byte(i/512) ^ byte(i)
	}
	return m
}

func (m *queuedMiniport) Properties() miniport.ControllerProperties {
	return miniport.ControllerProperties{Name: "QUEUED", Channels: 1}
}
func (m *queuedMiniport) ChannelEnabled(int) miniport.ChannelState { return miniport.ChannelEnabled }
func (m *queuedMiniport) ChannelInit(_ int, port miniport.Port) (miniport.Channel, miniport.ChannelInfo, error) {
	m.port = port
	return m, miniport.ChannelInfo{DMA: true, QueueDepth: m.depth}, nil
}
func (m *queuedMiniport) TransferModeSelect(_ int, sel *miniport.TransferModeSelect) error {
	for t := range sel.Selected {
		if sel.Present[t] {
			sel.Selected[t] = sel.Supported[t].Best()
		}
	}
	return nil
}
func (m *queuedMiniport) AdapterControl(miniport.AdapterAction) error { return nil }
func (m *queuedMiniport) Initialize(*miniport.DeviceParameters) error { return nil }
func (m *queuedMiniport) BuildIo(*miniport.Request) bool              { return true }
func (m *queuedMiniport) Control(miniport.ControlAction) error        { return nil }
func (m *queuedMiniport) Pending() bool                               { return !m.hold.Load() && m.ready() }

// lba returns the range of a read or write's task file.
func lbaCount(req *miniport.Request) (uint64, int) {
	c, p := &req.TaskFile.Current, &req.TaskFile.Previous
	lba := uint64(c.LBALow) | uint64(c.LBAMid)<<8 | uint64(c.LBAHigh)<<16 |
		uint64(p.LBALow)<<24 | uint64(p.LBAMid)<<32 | uint64(p.LBAHigh)<<40
	n := int(c.Count) | int(p.Count)<<8
	if req.Flags&miniport.Flag48Bit == 0 {
		lba = uint64(c.LBALow) | uint64(c.LBAMid)<<8 | uint64(c.LBAHigh)<<16 | uint64(c.Device&0xf)<<24
		n = int(c.Count)
		if n == 0 {
			n = 256
		}
	}
	return lba, n
}

func (m *queuedMiniport) StartIo(req *miniport.Request) bool {
	switch {
	case req.Function == miniport.FunctionMiniport && req.Target == 0:
		req.TaskFile.Current = miniport.Registers{Count: 1, LBALow: 1}
		req.AtaStatus = miniport.DRDY
	case req.Target != 0:
		req.Status = miniport.StatusSelectionTimeout
		return false
	case req.TaskFile.Current.Command == uint8(miniport.IDENTIFY_DEVICE):
		copy(req.Data, m.identify)
	case req.Flags&(miniport.FlagDataIn|miniport.FlagDataOut) != 0 && m.busy.Add(-1) >= 0:
		// As long as an AHCI StartIo's register accesses under TCG: the
		// next request is built meanwhile and waits for the lock.
		for t := time.Now(); time.Since(t) < 100*time.Microsecond; {
		}
		req.Status = miniport.StatusBusy
		return false
	case req.Flags&(miniport.FlagDataIn|miniport.FlagDataOut) != 0:
		m.issued = append(m.issued, req)
		m.most = max(m.most, len(m.issued))
		return true
	}
	req.Status = miniport.StatusSuccess
	m.port.Complete(req)
	return true
}

// ready reports whether an issued request can complete.
func (m *queuedMiniport) ready() bool {
	for _, req := range m.issued {
		if !m.isStuck(req) {
			return true
		}
	}
	return false
}

func (m *queuedMiniport) isStuck(req *miniport.Request) bool {
	lba, n := lbaCount(req)
	s := m.stuck.Load()
	return s >= 0 && uint64(s) >= lba && uint64(s) < lba+uint64(n)
}

func (m *queuedMiniport) Interrupt() bool {
	if m.hold.Load() || !m.ready() {
		return false
	}
	keep := m.issued[:0]
	for _, req := range m.issued {
		if m.isStuck(req) {
			keep = append(keep, req)
			continue
		}
		lba, n := lbaCount(req)
		if req.Flags&miniport.FlagDataIn != 0 {
			copy(req.Data, m.disk[lba*512:(lba+uint64(n))*512])
		} else {
			copy(m.disk[lba*512:], req.Data[:n*512])
		}
		req.Transferred, req.Status, req.AtaStatus = n*512, miniport.StatusSuccess, miniport.DRDY
		m.port.Complete(req)
	}
	m.issued = keep
	return true
}

func (m *queuedMiniport) Reset() bool {
	for _, req := range m.issued {
		if !m.isStuck(req) {
			m.aborted++
		}
	}
	m.issued, m.resets = nil, m.resets+1
	return true
}

// newQueuedHarness attaches m with a fake interrupt whose edges the test's
// ticker raises every tick.
func newQueuedHarness(t *testing.T, m *queuedMiniport, tick time.Duration) (*Channel, *Device) {
	t.Helper()
	mem := sfftest.NewMemory(0x50000000)
	intr := &fakeIntr{edges: make(chan struct{}, 1024)}
	ctl, err := Attach(m, Config{
		Lines:    []Line{{Line: irq.Line{GSI: 16}, DIRQL: 7}},
		DMA:      mem,
		IO:       sfftest.NewBus(nil, nil, mem),
		Timeout:  300 * time.Millisecond,
		Requests: 16,
		Connect: func(name string, _ irq.Line, dirql kernel.IRQL, isr irq.ISR) (Interrupt, error) {
			intr.lock.Name, intr.lock.Level, intr.isr = name, dirql, isr
			go intr.loop()
			return intr, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(tick):
				intr.edge()
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	ch := ctl.Channels()[0]
	d := ch.Devices()
	if len(d) != 1 {
		t.Fatalf("%d devices found, want 1", len(d))
	}
	return ch, d[0]
}

// TestQueueDepth has 12 readers on a channel of depth 8 while the device
// completes nothing: the port keeps exactly 8 in flight, then all
// complete with the right data; NCQ is on by default on such a device.
func TestQueueDepth(t *testing.T) {
	m := newQueuedMiniport(8, 4096)
	m.hold.Store(true)
	ch, d := newQueuedHarness(t, m, time.Millisecond)
	if !d.NCQ() || ch.Stats().Depth != 8 {
		t.Errorf("NCQ %v depth %d, want NCQ on and depth 8", d.NCQ(), ch.Stats().Depth)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 8*512)
			if _, err := d.ReadAt(buf, int64(i*8*512)); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(buf, m.disk[i*8*512:(i+1)*8*512]) {
				errs <- errors.New("data differs")
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for ch.Stats().MaxOutstanding < 8 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // a ninth would start now if the port let it
	m.hold.Store(false)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := ch.Stats(); s.MaxOutstanding != 8 || m.most != 8 {
		t.Errorf("max outstanding %d (miniport saw %d), want 8", s.MaxOutstanding, m.most)
	}
	if ch.timer.Pending() {
		t.Error("the channel's timer is still armed with nothing in flight (Complete cancels it with the last)")
	}
}

// TestQueueTimeout keeps four readers busy while a fifth read never
// completes: at its deadline the channel is reset, the stuck read fails
// with a timeout (after the block API's two retries), the reads reset
// with it go back to the queue and complete, and no reader sees an error.
func TestQueueTimeout(t *testing.T) {
	m := newQueuedMiniport(8, 4096)
	ch, d := newQueuedHarness(t, m, 2*time.Millisecond)
	m.stuck.Store(1000)
	stuckErr := make(chan error, 1)
	go func() {
		_, err := d.ReadAt(make([]byte, 512), 1000*512)
		stuckErr <- err
	}()
	var wg sync.WaitGroup
	var reads atomic.Int64
	stop := make(chan struct{})
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4*512)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				lba := uint64(i*100 + n%50)
				if _, err := d.ReadAt(buf, int64(lba*512)); err != nil {
					t.Errorf("reader %d at LBA %d: %v", i, lba, err)
					return
				}
				if !bytes.Equal(buf, m.disk[lba*512:(lba+4)*512]) {
					t.Errorf("reader %d at LBA %d: data differs", i, lba)
					return
				}
				reads.Add(1)
			}
		}()
	}
	var err error
	select {
	case err = <-stuckErr:
	case <-time.After(20 * time.Second):
		t.Fatal("the stuck read never failed")
	}
	close(stop)
	wg.Wait()
	var e *Error
	if !errors.As(err, &e) || e.Status != miniport.StatusTimeout || e.Retries != maxRetries {
		t.Errorf("stuck read: %v, want a timeout after %d retries", err, maxRetries)
	}
	s := ch.Stats()
	t.Logf("stats %+v, %d reads meanwhile, %d miniport resets abandoning %d other requests", s, reads.Load(), m.resets, m.aborted)
	if s.Timeouts != 3 || reads.Load() == 0 || m.aborted == 0 {
		t.Errorf("%d timeouts, %d reads, %d requests requeued by the resets; want 3 timeouts, reads meanwhile, some requeued", s.Timeouts, reads.Load(), m.aborted)
	}
}

// TestQueueBusy has 16 readers on a channel of depth 8 whose StartIo
// answers busy 300 times, as an AHCI port does while a non-queued command
// is issued among queued ones: requests refused on two CPUs at once each
// wait for their own retry (none takes the place of another), and every
// read completes with the right data.
func TestQueueBusy(t *testing.T) {
	m := newQueuedMiniport(8, 4096)
	ch, d := newQueuedHarness(t, m, 100*time.Microsecond)
	m.busy.Store(300)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4*512)
			for n := range 200 {
				lba := uint64(i*200 + n)
				if _, err := d.ReadAt(buf, int64(lba*512)); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf, m.disk[lba*512:(lba+4)*512]) {
					errs <- fmt.Errorf("reader %d at LBA %d: data differs", i, lba)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("readers still waiting after 30 s (%d busy answers left):\n%s", m.busy.Load(), ch.QueueState())
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s := ch.Stats(); s.BusyRetries == 0 || m.busy.Load() > 0 {
		t.Errorf("%d busy retries, %d busy answers left: want every busy answer given and retried", s.BusyRetries, m.busy.Load())
	}
}
