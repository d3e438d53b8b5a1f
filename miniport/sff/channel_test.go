package sff_test

import (
	"bytes"
	"testing"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// rig drives an sff.Channel directly on a fake bus, as the port would.
type rig struct {
	t    *testing.T
	mem  *sfftest.Memory
	bus  *sfftest.Bus
	port *sfftest.Port
	ch   *sff.Channel
}

func newRig(t *testing.T, master, slave *sfftest.Device, hooks sff.Hooks) *rig {
	t.Helper()
	mem := sfftest.NewMemory(0x50000000)
	bus := sfftest.NewBus(master, slave, mem)
	port := sfftest.NewPort(bus, mem)
	ch, err := sff.NewChannel(sff.Config{
		Ports: sff.Ports{IO: bus, Cmd: bus.Cmd, Ctl: bus.Ctl, BM: bus.BM},
		Port:  port, PRDEntries: 16, Hooks: hooks,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, mem: mem, bus: bus, port: port, ch: ch}
}

func disk(sectors uint64) *sfftest.Device {
	return &sfftest.Device{
		Spec:     sfftest.IdentifySpec{Model: "FAKE DISK", Sectors28: uint32(min(sectors, 0x0fffffff)), Sectors48: sectors, LBA48: sectors > 0x0fffffff, PIO4: true, MWDMA: 7, FlushExt: true, Flush: true, IORDY: true},
		Capacity: sectors,
	}
}

func cdrom() *sfftest.Device {
	return &sfftest.Device{Spec: sfftest.IdentifySpec{ATAPI: true, Model: "FAKE CD", PIO4: true, MWDMA: 7}, Capacity: 100}
}

// init tells the channel about target t with modes.
func (r *rig) init(t int, dev *sfftest.Device, modes miniport.TransferModes) {
	r.t.Helper()
	id, err := miniport.ParseIdentify(sfftest.BuildIdentify(dev.Spec))
	if err != nil {
		r.t.Fatal(err)
	}
	typ := miniport.DeviceATA
	if dev.Spec.ATAPI {
		typ = miniport.DeviceATAPI
	}
	if err := r.ch.Initialize(&miniport.DeviceParameters{Target: t, Type: typ, Modes: modes, Identify: &id}); err != nil {
		r.t.Fatal(err)
	}
}

// request returns a request with n bytes of DMA-reachable data at offset
// off of a fresh buffer, and a PRD table extension.
func (r *rig) request(f miniport.Function, target int, n, off int) *miniport.Request {
	r.t.Helper()
	ext, err := r.mem.Reserve(128, 128)
	if err != nil {
		r.t.Fatal(err)
	}
	req := &miniport.Request{Function: f, Target: uint8(target), Extension: ext}
	if n > 0 {
		buf, err := r.mem.Reserve(n+off, 4096)
		if err != nil {
			r.t.Fatal(err)
		}
		req.Data = buf.Buf[off : off+n]
	}
	return req
}

func (r *rig) startIo(req *miniport.Request) bool {
	var ok bool
	r.port.Run(func() { ok = r.ch.StartIo(req) })
	return ok
}

func (r *rig) interrupt() bool {
	var ok bool
	r.port.Run(func() { ok = r.ch.Interrupt() })
	return ok
}

func (r *rig) completed(req *miniport.Request) bool {
	for _, c := range r.port.Completed() {
		if c == req {
			return true
		}
	}
	return false
}

// run builds, starts and services req until it completes, as the port
// does: interrupts while INTRQ is up, the miniport's timer otherwise.
func (r *rig) run(req *miniport.Request) miniport.Status {
	r.t.Helper()
	if !r.ch.BuildIo(req) {
		return req.Status
	}
	if !r.startIo(req) {
		return req.Status
	}
	for i := 0; i < 10000 && !r.completed(req); i++ {
		switch {
		case r.bus.INTRQ():
			if !r.interrupt() {
				r.t.Fatalf("interrupt not claimed with INTRQ up")
			}
		case r.port.FireTimer():
		default:
			r.t.Fatalf("request stuck: no INTRQ, no timer; status %v", req.Status)
		}
	}
	if !r.completed(req) {
		r.t.Fatal("request never completed")
	}
	return req.Status
}

func read28(req *miniport.Request, cmd miniport.Command, lba uint64, count int) {
	req.TaskFile.SetLBA28(lba, count)
	req.TaskFile.Current.Command = uint8(cmd)
}

func TestPIOReadWrite(t *testing.T) {
	d := disk(1000)
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4)

	req := r.request(miniport.FunctionATA, 0, 3*512, 0)
	req.Flags = miniport.FlagDataIn | miniport.FlagDRDYRequired
	read28(req, miniport.READ_SECTORS, 5, 3)
	r.bus.ClearOps()
	if s := r.run(req); s != miniport.StatusSuccess {
		t.Fatalf("read: %v status %#x error %#x", s, req.AtaStatus, req.AtaError)
	}
	for i := 0; i < 3; i++ {
		if !bytes.Equal(req.Data[i*512:(i+1)*512], sfftest.Pattern(5+uint64(i), 512)) {
			t.Errorf("sector %d differs", 5+i)
		}
	}
	if req.Transferred != 3*512 {
		t.Errorf("transferred %d", req.Transferred)
	}
	// The generic engine moves PIO data with rep insw, one sector per DRQ.
	words := 0
	for _, o := range r.bus.Ops() {
		if o.Len != 0 {
			if o.Size != 2 || o.Len != 512 {
				t.Errorf("PIO access %v, want 16-bit 512 bytes", o)
			}
			words++
		}
	}
	if words != 3 {
		t.Errorf("%d PIO blocks, want 3", words)
	}

	w := r.request(miniport.FunctionATA, 0, 2*512, 0)
	w.Flags = miniport.FlagDataOut | miniport.FlagDRDYRequired
	read28(w, miniport.WRITE_SECTORS, 7, 2)
	for i := range w.Data {
		w.Data[i] = byte(i * 7)
	}
	if s := r.run(w); s != miniport.StatusSuccess {
		t.Fatalf("write: %v", s)
	}
	if !bytes.Equal(d.Sector(7), w.Data[:512]) || !bytes.Equal(d.Sector(8), w.Data[512:]) {
		t.Error("written sectors differ")
	}
}

// The 48-bit task file goes out previous (HOB) bytes first, each register a
// two-deep FIFO (ATA8-APT), then DEVICE, then COMMAND.
func TestLBA48TaskFileOrder(t *testing.T) {
	d := disk(1 << 40)
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4)
	req := r.request(miniport.FunctionATA, 0, 512, 0)
	req.Flags = miniport.FlagDataIn | miniport.Flag48Bit
	req.TaskFile.SetLBA48(0x123456789a, 1)
	req.TaskFile.Current.Command = uint8(miniport.READ_SECTORS_EXT)
	r.bus.ClearOps()
	if s := r.run(req); s != miniport.StatusSuccess {
		t.Fatal(s)
	}
	var got [][2]uint32
	for _, o := range r.bus.Writes() {
		if o.Port > r.bus.Cmd && o.Port <= r.bus.Cmd+7 && o.Len == 0 {
			got = append(got, [2]uint32{uint32(o.Port - r.bus.Cmd), o.Value})
		}
	}
	want := [][2]uint32{
		{sff.DEVICE, 0xa0}, // Select
		{sff.FEATURES, 0}, {sff.SECTOR_COUNT, 0}, {sff.LBA_LOW, 0x34}, {sff.LBA_MID, 0x12}, {sff.LBA_HIGH, 0x00},
		{sff.FEATURES, 0}, {sff.SECTOR_COUNT, 1}, {sff.LBA_LOW, 0x9a}, {sff.LBA_MID, 0x78}, {sff.LBA_HIGH, 0x56},
		{sff.DEVICE, 0x40}, {sff.COMMAND, 0x24},
	}
	if len(got) != len(want) {
		t.Fatalf("writes %x, want %x", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("write %d = %x, want %x", i, got[i], want[i])
		}
	}
	if !bytes.Equal(req.Data, sfftest.Pattern(0x123456789a, 512)) {
		t.Error("data differs")
	}
}

// A DMA request on an idle channel: BuildIo writes the PRD table (split at
// 64 KiB) without a synchronized routine, and StartIo loads BMIDTPX once,
// before the command.
func TestDMAReadWrite(t *testing.T) {
	d := disk(1 << 20)
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4|miniport.MWDMA2)

	req := r.request(miniport.FunctionATA, 0, 128*512, 0xf000) // crosses 64 KiB boundaries
	req.Flags = miniport.FlagDataIn | miniport.FlagDMA | miniport.FlagDRDYRequired
	read28(req, miniport.READ_DMA, 1000, 128)
	r.bus.ClearOps()
	if s := r.run(req); s != miniport.StatusSuccess {
		t.Fatalf("read: %v status %#x host %#x", s, req.AtaStatus, req.HostStatus)
	}
	for i := 0; i < 128; i++ {
		if !bytes.Equal(req.Data[i*512:(i+1)*512], sfftest.Pattern(1000+uint64(i), 512)) {
			t.Fatalf("sector %d differs", 1000+i)
		}
	}
	if r.port.Syncs() != 0 {
		t.Errorf("%d synchronized routines on an idle channel, want none", r.port.Syncs())
	}
	var loads, cmdAt, loadAt int
	for i, o := range r.bus.Writes() {
		if o.Port == r.bus.BM+sff.BMIDTPX {
			loads++
			loadAt = i
			if uint64(o.Value) != req.Extension.Addr {
				t.Errorf("BMIDTPX = %#x, want the PRD table at %#x", o.Value, req.Extension.Addr)
			}
		}
		if o.Port == r.bus.Cmd+sff.COMMAND {
			cmdAt = i
		}
	}
	if loads != 1 || loadAt > cmdAt {
		t.Errorf("BMIDTPX loaded %d times, last at write %d, command at %d", loads, loadAt, cmdAt)
	}

	w := r.request(miniport.FunctionATA, 0, 8*512, 0)
	w.Flags = miniport.FlagDataOut | miniport.FlagDMA | miniport.Flag48Bit
	w.TaskFile.SetLBA48(77, 8)
	w.TaskFile.Current.Command = uint8(miniport.WRITE_DMA_EXT)
	for i := range w.Data {
		w.Data[i] = byte(i)
	}
	if s := r.run(w); s != miniport.StatusSuccess {
		t.Fatalf("write: %v", s)
	}
	if !bytes.Equal(d.Sector(80), w.Data[3*512:4*512]) {
		t.Error("written sector differs")
	}
}

// While a DMA request is in flight the engine is not the next request's:
// the synchronized routine leaves BMIDTPX alone and StartIo loads it.
func TestDMAPreloadWhileInFlight(t *testing.T) {
	d := disk(1 << 20)
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4|miniport.MWDMA2)
	a := r.request(miniport.FunctionATA, 0, 512, 0)
	a.Flags = miniport.FlagDataIn | miniport.FlagDMA
	read28(a, miniport.READ_DMA, 1, 1)
	b := r.request(miniport.FunctionATA, 0, 512, 0)
	b.Flags = miniport.FlagDataIn | miniport.FlagDMA
	read28(b, miniport.READ_DMA, 2, 1)

	if !r.ch.BuildIo(a) || !r.startIo(a) {
		t.Fatal("a not started")
	}
	r.bus.ClearOps()
	if !r.ch.BuildIo(b) {
		t.Fatal("b refused")
	}
	for _, o := range r.bus.Writes() {
		if o.Port == r.bus.BM+sff.BMIDTPX {
			t.Fatal("BuildIo of b loaded BMIDTPX while a's DMA was in flight")
		}
	}
	if !r.interrupt() || !r.completed(a) || a.Status != miniport.StatusSuccess {
		t.Fatalf("a: %v", a.Status)
	}
	r.bus.ClearOps()
	if !r.startIo(b) {
		t.Fatal("b not started")
	}
	loaded := false
	for _, o := range r.bus.Writes() {
		loaded = loaded || o.Port == r.bus.BM+sff.BMIDTPX && uint64(o.Value) == b.Extension.Addr
	}
	if !loaded {
		t.Error("StartIo of b did not load its PRD table")
	}
	if !r.interrupt() || b.Status != miniport.StatusSuccess || !bytes.Equal(b.Data, sfftest.Pattern(2, 512)) {
		t.Fatalf("b: %v", b.Status)
	}
}

func TestErrors(t *testing.T) {
	d := disk(1000)
	d.ErrorAt = func(c miniport.Command, lba uint64) uint8 {
		if lba == 13 {
			return miniport.UNC
		}
		return 0
	}
	d.DMAError = false
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4|miniport.MWDMA2)

	req := r.request(miniport.FunctionATA, 0, 512, 0)
	req.Flags = miniport.FlagDataIn
	read28(req, miniport.READ_SECTORS, 13, 1)
	if s := r.run(req); s != miniport.StatusDeviceError || req.AtaStatus != 0x51 || req.AtaError != 0x40 {
		t.Errorf("UNC: %v status %#x error %#x", s, req.AtaStatus, req.AtaError)
	}

	req = r.request(miniport.FunctionATA, 0, 512, 0)
	req.Flags = miniport.FlagDataIn
	read28(req, miniport.READ_SECTORS, 2000, 1)
	if s := r.run(req); s != miniport.StatusDeviceError || req.AtaError != miniport.IDNF|miniport.ABRT {
		t.Errorf("IDNF: %v error %#x", s, req.AtaError)
	}

	d.DMAError = true
	req = r.request(miniport.FunctionATA, 0, 512, 0)
	req.Flags = miniport.FlagDataIn | miniport.FlagDMA
	read28(req, miniport.READ_DMA, 1, 1)
	if s := r.run(req); s != miniport.StatusHostBusError || req.HostStatus&sff.IDEDMAERR == 0 {
		t.Errorf("DMA error: %v host status %#x", s, req.HostStatus)
	}
}

// The hooks run instead of the defaults: 32-bit PIO (what PIIX uses), and a
// BMISX filter (what VMware's PIIX4 needs).
func TestHooksOverride(t *testing.T) {
	d := disk(1000)
	d.DMAError = true
	filtered := 0
	r := newRig(t, d, nil, sff.Hooks{
		DataXfer: sff.DataXfer32,
		BMStatus: func(p *sff.Ports) uint8 {
			filtered++
			return p.BMStatus() &^ sff.IDEDMAERR
		},
	})
	r.init(0, d, miniport.PIO4|miniport.MWDMA2)
	req := r.request(miniport.FunctionATA, 0, 2*512, 0)
	req.Flags = miniport.FlagDataIn
	read28(req, miniport.READ_SECTORS, 3, 2)
	r.bus.ClearOps()
	if s := r.run(req); s != miniport.StatusSuccess || !bytes.Equal(req.Data[512:], sfftest.Pattern(4, 512)) {
		t.Fatalf("PIO read: %v", s)
	}
	for _, o := range r.bus.Ops() {
		if o.Len != 0 && o.Size != 4 {
			t.Errorf("PIO access %v, want 32-bit", o)
		}
	}
	req = r.request(miniport.FunctionATA, 0, 512, 0)
	req.Flags = miniport.FlagDataIn | miniport.FlagDMA
	read28(req, miniport.READ_DMA, 1, 1)
	if s := r.run(req); s != miniport.StatusSuccess || filtered == 0 {
		t.Errorf("DMA with the error filtered: %v, hook ran %d times", s, filtered)
	}
}

func TestProbe(t *testing.T) {
	probe := func(r *rig, target int) *miniport.Request {
		req := r.request(miniport.FunctionMiniport, target, 0, 0)
		req.Miniport = miniport.MiniportProbe
		r.run(req)
		return req
	}
	r := newRig(t, disk(10), cdrom(), sff.Hooks{})
	if req := probe(r, 0); req.Status != miniport.StatusSuccess || req.AtaStatus != 0x50 ||
		req.TaskFile.Current.LBAMid != 0 || req.TaskFile.Current.LBAHigh != 0 {
		t.Errorf("ATA probe: %v %+v status %#x", req.Status, req.TaskFile.Current, req.AtaStatus)
	}
	if req := probe(r, 1); req.Status != miniport.StatusSuccess ||
		req.TaskFile.Current.LBAMid != 0x14 || req.TaskFile.Current.LBAHigh != 0xeb {
		t.Errorf("ATAPI probe: %v %+v", req.Status, req.TaskFile.Current)
	}
	r = newRig(t, disk(10), nil, sff.Hooks{})
	if req := probe(r, 1); req.Status != miniport.StatusSuccess || req.AtaStatus != 0 {
		t.Errorf("absent slave: %v status %#x", req.Status, req.AtaStatus)
	}
	r = newRig(t, nil, nil, sff.Hooks{})
	if req := probe(r, 0); req.Status != miniport.StatusSelectionTimeout || req.AtaStatus != 0xff {
		t.Errorf("floating bus: %v status %#x", req.Status, req.AtaStatus)
	}
	if len(r.port.Completed()) != 0 {
		t.Error("a refused probe was completed")
	}
}

// A reset with device 1 (absent) left selected, as a BIOS may leave it,
// must not make device 0 look absent to the probe that follows: with the
// devices still busy, a selection of device 0 is ignored (QEMU), and an
// absent device 1 reads STATUS 0. The probe must answer busy, then find
// the disk.
func TestProbeAfterResetWithDevice1Selected(t *testing.T) {
	d := disk(100)
	d.BusyReads = 5
	r := newRig(t, d, nil, sff.Hooks{})
	r.bus.AbsentBusyReads = 5
	r.bus.Out8(r.bus.Cmd+sff.DEVICE, miniport.DeviceOBS|miniport.DeviceDEV)
	r.port.Run(func() { r.ch.Reset() })
	var status miniport.Status
	for try := 0; try < 20; try++ {
		probe := r.request(miniport.FunctionMiniport, 0, 0, 0)
		probe.Miniport = miniport.MiniportProbe
		if !r.ch.BuildIo(probe) {
			t.Fatalf("probe refused by BuildIo: %v", probe.Status)
		}
		r.startIo(probe)
		if status = probe.Status; status == miniport.StatusBusy {
			continue
		}
		if status != miniport.StatusSuccess || probe.AtaStatus == 0 || probe.AtaStatus&miniport.BSY != 0 {
			t.Fatalf("probe of device 0 after the reset: %v, status %#x: device 0 looks absent", status, probe.AtaStatus)
		}
		return
	}
	t.Fatalf("probe still %v after 20 tries", status)
}

// After a reset the device holds BSY: StartIo answers busy without
// touching the task file; Reset records the registers of the request it
// abandons.
func TestResetAndBusy(t *testing.T) {
	d := disk(100)
	d.BusyReads = 10
	d.Hang = true
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4)
	req := r.request(miniport.FunctionATA, 0, 512, 0)
	req.Flags = miniport.FlagDataIn
	read28(req, miniport.READ_SECTORS, 1, 1)
	if !r.ch.BuildIo(req) || !r.startIo(req) {
		t.Fatal("not started")
	}
	var pending bool
	r.port.Run(func() { pending = r.ch.Pending() })
	if pending {
		t.Error("Pending with the device busy")
	}
	r.port.Run(func() { r.ch.Reset() })
	if req.AtaStatus&miniport.BSY == 0 {
		t.Errorf("Reset recorded status %#x, want BSY", req.AtaStatus)
	}
	if r.completed(req) {
		t.Error("Reset completed the request itself")
	}
	d.Hang = false
	next := r.request(miniport.FunctionATA, 0, 512, 0)
	next.Flags = miniport.FlagDataIn | miniport.FlagDRDYRequired
	read28(next, miniport.READ_SECTORS, 1, 1)
	r.bus.ClearOps()
	if r.ch.BuildIo(next) && r.startIo(next) || next.Status != miniport.StatusBusy {
		t.Fatalf("after reset: %v, want busy", next.Status)
	}
	for _, o := range r.bus.Writes() {
		if o.Port == r.bus.Cmd+sff.COMMAND {
			t.Error("a command was written to a busy device")
		}
	}
	next.Status = miniport.StatusPending
	for i := 0; i < 5 && next.Status != miniport.StatusSuccess; i++ {
		next.Status = miniport.StatusPending
		r.run(next)
	}
	if next.Status != miniport.StatusSuccess {
		t.Errorf("once BSY cleared: %v", next.Status)
	}
}

// Pending reports the interrupt an edge lost while masked would have
// delivered: IDEINTS set and the device not busy.
func TestPending(t *testing.T) {
	d := disk(100)
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4)
	var pending bool
	r.port.Run(func() { pending = r.ch.Pending() })
	if pending {
		t.Error("Pending with nothing in flight")
	}
	req := r.request(miniport.FunctionATA, 0, 512, 0)
	req.Flags = miniport.FlagDataIn
	read28(req, miniport.READ_SECTORS, 1, 1)
	if !r.ch.BuildIo(req) || !r.startIo(req) {
		t.Fatal("not started")
	}
	r.port.Run(func() { pending = r.ch.Pending() })
	if !pending {
		t.Error("not Pending with the device's interrupt unserviced")
	}
	if !r.interrupt() || req.Status != miniport.StatusSuccess {
		t.Fatal(req.Status)
	}
	r.port.Run(func() { pending = r.ch.Pending() })
	if pending {
		t.Error("Pending after the interrupt was serviced")
	}
	if r.interrupt() {
		t.Error("a stray interrupt was claimed")
	}
}

// A device slow to raise DRQ for PIO data-out: StartIo gives up spinning
// and asks the port for a timer, whose routine sends the block through a
// synchronized routine.
func TestPIOWriteWaitsForDRQ(t *testing.T) {
	d := disk(100)
	d.WriteDelay = 30
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4)
	w := r.request(miniport.FunctionATA, 0, 512, 0)
	w.Flags = miniport.FlagDataOut
	read28(w, miniport.WRITE_SECTORS, 9, 1)
	w.Data[0] = 0xaa
	if !r.ch.BuildIo(w) || !r.startIo(w) {
		t.Fatal("not started")
	}
	if !r.port.FireTimer() {
		t.Fatal("no timer requested while DRQ was late")
	}
	if r.port.Syncs() == 0 {
		t.Error("the timer routine did not use a synchronized routine")
	}
	for i := 0; i < 5 && !r.completed(w); i++ {
		if r.bus.INTRQ() {
			r.interrupt()
		} else {
			r.port.FireTimer()
		}
	}
	if w.Status != miniport.StatusSuccess || d.Sector(9)[0] != 0xaa {
		t.Errorf("write: %v", w.Status)
	}
}

func TestPacket(t *testing.T) {
	cd := cdrom()
	cd.UnitAttention = true
	r := newRig(t, nil, cd, sff.Hooks{})
	r.init(1, cd, miniport.PIO4|miniport.MWDMA2)
	r.port.Run(func() { r.ch.Reset() }) // arms UNIT ATTENTION

	cap := func() *miniport.Request {
		req := r.request(miniport.FunctionATAPI, 1, 8, 0)
		req.Flags = miniport.FlagDataIn
		req.Cdb[0], req.CdbLength = 0x25, 12
		r.run(req)
		return req
	}
	for _, which := range []string{"first packet", "second packet"} {
		if req := cap(); req.Status != miniport.StatusDeviceError || req.AtaError>>4 != 6 {
			t.Errorf("%s: %v error %#x, want UNIT ATTENTION (kept until REQUEST SENSE)", which, req.Status, req.AtaError)
		}
	}
	sense := r.request(miniport.FunctionATAPI, 1, 18, 0)
	sense.Flags = miniport.FlagDataIn
	sense.Cdb[0], sense.Cdb[4], sense.CdbLength = 0x03, 18, 12
	if s := r.run(sense); s != miniport.StatusSuccess || sense.Data[0] != 0x70 || sense.Data[2] != 6 || sense.Data[12] != 0x29 {
		t.Errorf("REQUEST SENSE: %v % x, want fixed format, UNIT ATTENTION, ASC 29h", s, sense.Data)
	}
	if req := cap(); req.Status != miniport.StatusSuccess || !bytes.Equal(req.Data, []byte{0, 0, 0, 99, 0, 0, 8, 0}) {
		t.Errorf("READ CAPACITY: %v % x", req.Status, req.Data)
	}
	for _, dma := range []bool{false, true} {
		req := r.request(miniport.FunctionATAPI, 1, 3*2048, 0)
		req.Flags = miniport.FlagDataIn
		if dma {
			req.Flags |= miniport.FlagDMA
		}
		req.Cdb = [16]byte{0x28, 0, 0, 0, 0, 10, 0, 0, 3}
		req.CdbLength = 12
		if s := r.run(req); s != miniport.StatusSuccess {
			t.Fatalf("READ(10) dma=%v: %v error %#x", dma, s, req.AtaError)
		}
		for i := 0; i < 3; i++ {
			if !bytes.Equal(req.Data[i*2048:(i+1)*2048], sfftest.Pattern(10+uint64(i), 2048)) {
				t.Errorf("dma=%v sector %d differs", dma, 10+i)
			}
		}
	}
	req := r.request(miniport.FunctionATAPI, 1, 2048, 0)
	req.Flags = miniport.FlagDataIn
	req.Cdb = [16]byte{0x28, 0, 0, 0, 0x10, 0, 0, 0, 1}
	req.CdbLength = 12
	if s := r.run(req); s != miniport.StatusDeviceError || miniport.PacketErrorString(req.AtaError) != "sense key 0x5 ILLEGAL REQUEST|ABRT" {
		t.Errorf("READ(10) past the end: %v %s", s, miniport.PacketErrorString(req.AtaError))
	}
}

func TestBuildIoRefuses(t *testing.T) {
	d := disk(100)
	r := newRig(t, d, cdrom(), sff.Hooks{})
	r.init(0, d, miniport.PIO4) // no DMA mode
	r.init(1, cdrom(), miniport.PIO4)
	for _, tc := range []struct {
		name string
		edit func(req *miniport.Request)
	}{
		{"both directions", func(req *miniport.Request) { req.Flags = miniport.FlagDataIn | miniport.FlagDataOut }},
		{"data without direction", func(req *miniport.Request) { req.Flags = 0 }},
		{"partial sector", func(req *miniport.Request) { req.Data = req.Data[:100]; req.Flags = miniport.FlagDataIn }},
		{"DMA without a DMA mode", func(req *miniport.Request) { req.Flags = miniport.FlagDataIn | miniport.FlagDMA }},
		{"target 2", func(req *miniport.Request) { req.Target = 2; req.Flags = miniport.FlagDataIn }},
		{"ATAPI data out", func(req *miniport.Request) {
			req.Function, req.Target, req.CdbLength, req.Flags = miniport.FunctionATAPI, 1, 12, miniport.FlagDataOut
		}},
		{"ATAPI 16-byte packet to a 12-byte device", func(req *miniport.Request) {
			req.Function, req.Target, req.CdbLength, req.Flags = miniport.FunctionATAPI, 1, 16, miniport.FlagDataIn
		}},
		{"flush of ATAPI", func(req *miniport.Request) {
			req.Function, req.Target, req.Data, req.Flags = miniport.FunctionFlush, 1, nil, 0
		}},
	} {
		req := r.request(miniport.FunctionATA, 0, 512, 0)
		tc.edit(req)
		if r.ch.BuildIo(req) || req.Status != miniport.StatusInvalidRequest {
			t.Errorf("%s: accepted (%v)", tc.name, req.Status)
		}
	}
}

func TestFlushAndControl(t *testing.T) {
	d := disk(100)
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4)
	req := r.request(miniport.FunctionFlush, 0, 0, 0)
	if s := r.run(req); s != miniport.StatusSuccess || miniport.Command(req.TaskFile.Current.Command) != miniport.FLUSH_CACHE {
		t.Errorf("flush of a 28-bit disk: %v %v", s, miniport.Command(req.TaskFile.Current.Command))
	}
	d48 := disk(1 << 30)
	r48 := newRig(t, d48, nil, sff.Hooks{})
	r48.init(0, d48, miniport.PIO4)
	req = r48.request(miniport.FunctionFlush, 0, 0, 0)
	if s := r48.run(req); s != miniport.StatusSuccess || miniport.Command(req.TaskFile.Current.Command) != miniport.FLUSH_CACHE_EXT {
		t.Errorf("flush of a 48-bit disk: %v %v", s, miniport.Command(req.TaskFile.Current.Command))
	}
	r.bus.ClearOps()
	if err := r.ch.Control(miniport.ControlStart); err != nil {
		t.Fatal(err)
	}
	if w := r.bus.Writes(); len(w) != 1 || w[0].Port != r.bus.Ctl || w[0].Value != 0x08 {
		t.Errorf("IdeStart wrote %v, want DEVICE CONTROL 0x08 (nIEN clear)", w)
	}
	if err := r.ch.Control(miniport.ControlPowerDown); err == nil {
		t.Error("IdePowerDown accepted")
	}
}

// The routines check their context at entry; the checks report through
// kernel.Bugcheck, which returns to PASSIVE before panicking.
func TestContextChecks(t *testing.T) {
	d := disk(100)
	r := newRig(t, d, nil, sff.Hooks{})
	req := r.request(miniport.FunctionATA, 0, 512, 0)
	for name, fn := range map[string]func(){
		"StartIo":   func() { r.ch.StartIo(req) },
		"Interrupt": func() { r.ch.Interrupt() },
		"Pending":   func() { r.ch.Pending() },
		"Reset":     func() { r.ch.Reset() },
		"Interrupt at DIRQL without the lock": func() {
			kernel.Raise(5)
			r.ch.Interrupt()
		},
		"BuildIo at DIRQL": func() {
			rr := newRig(t, d, nil, sff.Hooks{})
			rr.port.Run(func() { rr.ch.BuildIo(req) })
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s at PASSIVE did not panic", name)
				}
			}()
			fn()
		}()
	}
	if kernel.Current() != kernel.PASSIVE {
		t.Fatal("left raised")
	}
}
