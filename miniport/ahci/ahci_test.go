package ahci

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// TestH2D checks the Register H2D FIS against SATA 2.6 §10.3.4 for a 28-
// and a 48-bit command, and readD2H's decoding of the copy at RFIS.
func TestH2D(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lba   uint64
		count int
		ext   bool
		cmd   miniport.Command
		want  [20]byte
	}{
		{"READ DMA 28-bit", 0x0abcdef, 256, false, miniport.READ_DMA,
			[20]byte{0x27, 0x80, 0xc8, 0, 0xef, 0xcd, 0xab, 0x40, 0, 0, 0, 0, 0x00, 0}},
		{"READ DMA EXT 48-bit", 0x123456789abc, 0x1234, true, miniport.READ_DMA_EXT,
			[20]byte{0x27, 0x80, 0x25, 0, 0xbc, 0x9a, 0x78, 0x40, 0x56, 0x34, 0x12, 0, 0x34, 0x12}},
	} {
		var tf miniport.TaskFile
		if tc.ext {
			tf.SetLBA48(tc.lba, tc.count)
		} else {
			tf.SetLBA28(tc.lba, tc.count)
		}
		tf.Current.Command = uint8(tc.cmd)
		got := make([]byte, 64)
		for i := range got {
			got[i] = 0xee
		}
		buildH2D(got, &tf)
		if !bytes.Equal(got[:20], tc.want[:]) {
			t.Errorf("%s: FIS % x, want % x", tc.name, got[:20], tc.want)
		}
		var back miniport.TaskFile
		d2h := append([]byte{FIS_TYPE_REG_D2H, 0, 0x51, 0x40}, got[4:20]...)
		readD2H(d2h, &back)
		req := miniport.Request{TaskFile: back, TaskFileReturned: true}
		if tc.ext {
			req.Flags = miniport.Flag48Bit
		}
		if lba, _ := req.ErrorLBA(); lba != tc.lba || back.Current.Command != 0x51 || back.Current.Features != 0x40 {
			t.Errorf("%s: D2H read back as lba %#x status %#x error %#x", tc.name, lba, back.Current.Command, back.Current.Features)
		}
	}
}

// TestFillPRD checks the PRD table (§4.2.3.3): entries of at most 4 MiB,
// DBC the count minus one, the upper address, and the refusals.
func TestFillPRD(t *testing.T) {
	for _, tc := range []struct {
		name string
		segs []miniport.Segment
		s64a bool
		want [][3]uint32 // DBA, DBAU, DW3
		err  error
	}{
		{"one sector", []miniport.Segment{{Addr: 0x50000000, Length: 512}}, false, [][3]uint32{{0x50000000, 0, 511}}, nil},
		{"9 MiB split at 4 MiB", []miniport.Segment{{Addr: 0x50000000, Length: 9 << 20}}, false,
			[][3]uint32{{0x50000000, 0, 4<<20 - 1}, {0x50400000, 0, 4<<20 - 1}, {0x50800000, 0, 1<<20 - 1}}, nil},
		{"above 4 GiB with S64A", []miniport.Segment{{Addr: 0x1_0000_0200, Length: 1024}}, true, [][3]uint32{{0x200, 1, 1023}}, nil},
		{"above 4 GiB without S64A", []miniport.Segment{{Addr: 0xffff_fe00, Length: 1024}}, false, nil, errPRDLimit},
		{"odd address", []miniport.Segment{{Addr: 0x50000001, Length: 512}}, false, nil, errPRDOdd},
		{"odd length", []miniport.Segment{{Addr: 0x50000000, Length: 511}}, false, nil, errPRDOdd},
		{"more than the table holds", []miniport.Segment{{Addr: 0x50000000, Length: 33 << 20}}, false, nil, errPRDTooSmall},
	} {
		prdt := make([]byte, prdEntries*prdEntrySize)
		n, err := fillPRD(prdt, tc.segs, tc.s64a)
		if err != tc.err || err == nil && n != len(tc.want) {
			t.Errorf("%s: %d entries, %v; want %d, %v", tc.name, n, err, len(tc.want), tc.err)
			continue
		}
		for i, w := range tc.want {
			e := prdt[i*prdEntrySize:]
			got := [3]uint32{binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint32(e[12:])}
			if got != w {
				t.Errorf("%s: entry %d = %#x, want %#x", tc.name, i, got, w)
			}
		}
	}
}

// rig is an HBA with a disk on port 1 (PI 0x3, port 0 without a link),
// started, with port 1's channel initialised and its interrupts enabled.
type rig struct {
	hba  *fakeHBA
	mem  *sfftest.Memory
	ctl  *Controller
	ch   *Channel
	port *sfftest.Port
}

func newRig(t *testing.T, cap2 uint32) *rig {
	t.Helper()
	mem := sfftest.NewMemory(0x50000000)
	hba := newFakeHBA(mem, 0x3)
	hba.g[CAP2] = cap2
	hba.g[BOHC] = 1 << BOHC_BOS
	hba.attach(1, 4096)
	ctl, err := New(PCI{Bus: 0, Device: 0x1f, Function: 2, Vendor: 0x8086, DeviceID: 0x2922, Class: classAHCI,
		ABAR: 0xfebd5000, Regs: hba, Stall: func(d time.Duration) {
			hba.now += d
			if hba.runOnStall {
				hba.run(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.AdapterControl(miniport.AdapterStart); err != nil {
		t.Fatal(err)
	}
	port := sfftest.NewPort(nil, mem)
	port.Lock.Level = 7
	mch, info, err := ctl.ChannelInit(1, port)
	if err != nil {
		t.Fatal(err)
	}
	if !info.DMA || info.DMAAlignment != 2 || info.DMALimit != 1<<32 || info.MaxTransfer != 32<<20 {
		t.Errorf("ChannelInfo %+v", info)
	}
	ch := mch.(*Channel)
	if err := ch.Control(miniport.ControlStart); err != nil {
		t.Fatal(err)
	}
	if err := ch.Initialize(&miniport.DeviceParameters{Type: miniport.DeviceATA, Identify: &miniport.Identify{LBA48: true, FlushCacheExt: true}}); err != nil {
		t.Fatal(err)
	}
	return &rig{hba: hba, mem: mem, ctl: ctl, ch: ch, port: port}
}

// request returns a request of n sectors at lba in fake DMA memory.
func (r *rig) request(t *testing.T, tag uint8, cmd miniport.Command, lba uint64, n int, write bool) *miniport.Request {
	t.Helper()
	data, _ := r.mem.Reserve(n*512, 4096)
	ext, _ := r.mem.Reserve(extSize, cmdTableAlign)
	req := &miniport.Request{Function: miniport.FunctionATA, Tag: tag, Data: data.Buf, Extension: ext,
		Flags: miniport.FlagDMA | miniport.Flag48Bit | miniport.FlagDataIn}
	if write {
		req.Flags = miniport.FlagDMA | miniport.Flag48Bit | miniport.FlagDataOut
	}
	req.TaskFile.SetLBA48(lba, n)
	req.TaskFile.Current.Command = uint8(cmd)
	return req
}

// start runs BuildIo at DISPATCH and StartIo under the lock.
func (r *rig) start(t *testing.T, req *miniport.Request) bool {
	t.Helper()
	old := kernel.Raise(kernel.DISPATCH)
	ok := r.ch.BuildIo(req)
	kernel.Lower(old)
	if !ok {
		t.Fatalf("BuildIo refused the request: %v", req.Status)
	}
	r.port.Run(func() { ok = r.ch.StartIo(req) })
	return ok
}

// TestStart checks the controller start: the BIOS/OS handoff when CAP2.BOH,
// the HBA reset, AE, and the channels enabled by PI and link; the name and
// the port's description.
func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		cap2 uint32
		log  []string
	}{
		{"no handoff (QEMU ICH9)", 0, []string{"HBA reset"}},
		{"handoff first", 1 << CAP2_BOH, []string{"OS ownership", "HBA reset"}},
	} {
		r := newRig(t, tc.cap2)
		if strings.Join(r.hba.log, ",") != strings.Join(tc.log, ",") {
			t.Errorf("%s: sequence %v, want %v", tc.name, r.hba.log, tc.log)
		}
		if r.hba.g[GHC]&(1<<GHC_AE) == 0 || r.hba.g[GHC]&(1<<GHC_IE) == 0 {
			t.Errorf("%s: GHC %#x, want AE and IE", tc.name, r.hba.g[GHC])
		}
		if got := []miniport.ChannelState{r.ctl.ChannelEnabled(0), r.ctl.ChannelEnabled(1), r.ctl.ChannelEnabled(2)}; got[0] != miniport.ChannelDisabled || got[1] != miniport.ChannelEnabled || got[2] != miniport.ChannelDisabled {
			t.Errorf("%s: ChannelEnabled 0..2 = %v, want disabled (no link), enabled, disabled (not in PI)", tc.name, got)
		}
		if p := r.ctl.Properties(); p.Channels != 2 || p.Name != "ICH9 AHCI" || p.RequestExtensionSize != extSize {
			t.Errorf("%s: Properties %+v", tc.name, p)
		}
		if got := r.ctl.DescribeChannel(1); got != "port 1, SATA link 1.5 Gb/s (Gen 1)" {
			t.Errorf("%s: DescribeChannel(1) = %q", tc.name, got)
		}
		if got := r.ctl.DescribeChannel(2); got != "port 2, not implemented (PI 0x3)" {
			t.Errorf("%s: DescribeChannel(2) = %q", tc.name, got)
		}
		for det, want := range map[uint32]string{
			0: "port 0, no device (PxSSTS.DET 0)",
			1: "port 0, device present but no Phy communication (PxSSTS.DET 1)",
			4: "port 0, Phy offline (PxSSTS.DET 4)",
			2: "port 0, no link (PxSSTS.DET 2, reserved)",
		} {
			r.hba.p[0][PxSSTS] = det
			if got := r.ctl.DescribeChannel(0); got != want {
				t.Errorf("%s: DescribeChannel(0) with DET %d = %q, want %q", tc.name, det, got, want)
			}
		}
		if cmd := r.hba.p[1][PxCMD]; cmd&(1<<PxCMD_ST|1<<PxCMD_FRE) != 1<<PxCMD_ST|1<<PxCMD_FRE {
			t.Errorf("%s: PxCMD %#x, want ST and FRE", tc.name, cmd)
		}
	}
}

// TestReadWrite writes and reads back through the command list: StartIo
// claims the lowest slot not issued, the ISR completes exactly the slots
// that left PxCI, PRDBC gives the bytes moved, and a probe answers with
// PxSIG.
func TestReadWrite(t *testing.T) {
	r := newRig(t, 0)
	first := r.request(t, 2, miniport.READ_DMA_EXT, 0, 8, false)
	if !r.start(t, first) || r.hba.p[1][PxCI] != 1 {
		t.Fatalf("first read: PxCI %#x, want slot 0", r.hba.p[1][PxCI])
	}
	w := r.request(t, 0, miniport.WRITE_DMA_EXT, 100, 8, true)
	for i := range w.Data {
		w.Data[i] = byte(i * 7)
	}
	if !r.start(t, w) {
		t.Fatal("StartIo refused the write")
	}
	if r.hba.p[1][PxCI] != 1|1<<1 {
		t.Fatalf("PxCI %#x, want slots 0 and 1", r.hba.p[1][PxCI])
	}
	rd := r.request(t, 1, miniport.READ_DMA_EXT, 100, 8, false)
	if !r.start(t, rd) {
		t.Fatal("StartIo refused the read")
	}
	if r.hba.p[1][PxCI] != 1|1<<1|1<<2 {
		t.Fatalf("PxCI %#x, want slots 0, 1 and 2", r.hba.p[1][PxCI])
	}
	r.hba.run(1)
	var mine bool
	r.port.Run(func() { mine = r.ch.Interrupt() })
	done := r.port.Completed()
	if !mine || len(done) != 3 || done[0] != first || done[1] != w || done[2] != rd {
		t.Fatalf("Interrupt %v completed %d requests", mine, len(done))
	}
	for _, q := range done {
		if q.Status != miniport.StatusSuccess || q.Transferred != 4096 {
			t.Errorf("tag %d: %v, %d bytes", q.Tag, q.Status, q.Transferred)
		}
	}
	if !bytes.Equal(rd.Data, w.Data) || !bytes.Equal(r.hba.disk[1][100*512:108*512], w.Data) {
		t.Error("data read back differs from data written")
	}
	if r.hba.p[1][PxIS] != 0 || r.hba.g[IS] != 0 {
		t.Errorf("PxIS %#x IS %#x left set", r.hba.p[1][PxIS], r.hba.g[IS])
	}
	r.port.Run(func() { mine = r.ch.Interrupt() })
	if mine {
		t.Error("a second interrupt with PxIS clear was claimed")
	}
	probe := &miniport.Request{Function: miniport.FunctionMiniport, Miniport: miniport.MiniportProbe}
	old := kernel.Raise(kernel.DISPATCH)
	r.ch.BuildIo(probe)
	kernel.Lower(old)
	r.port.Run(func() { r.ch.StartIo(probe) })
	if tf := probe.TaskFile.Current; probe.Status != miniport.StatusSuccess || tf.Count != 1 || tf.LBALow != 1 || tf.LBAMid != 0 || tf.LBAHigh != 0 || probe.AtaStatus != 0x50 {
		t.Errorf("probe: %v %+v status %#x", probe.Status, tf, probe.AtaStatus)
	}
	probe1 := &miniport.Request{Function: miniport.FunctionMiniport, Miniport: miniport.MiniportProbe, Target: 1}
	r.port.Run(func() { r.ch.StartIo(probe1) })
	if probe1.Status != miniport.StatusSelectionTimeout {
		t.Errorf("probe of target 1: %v, want selection timeout", probe1.Status)
	}
}

// TestTaskFileError fails a read with UNC (TFES): the ISR completes
// nothing and arms the recovery; the recovery, in a synchronized routine,
// stops and restarts the port, COMRESETs it only when the device stays
// busy, fails the guilty request with STATUS, ERROR and the failing LBA,
// and issues the innocent one again, which then completes.
func TestTaskFileError(t *testing.T) {
	for _, busy := range []bool{false, true} {
		r := newRig(t, 0)
		r.hba.bad[205] = true
		r.hba.busy = busy
		bad := r.request(t, 0, miniport.READ_DMA_EXT, 200, 8, false)
		good := r.request(t, 1, miniport.READ_DMA_EXT, 300, 8, false)
		r.start(t, bad)
		r.start(t, good)
		r.hba.run(1)
		r.port.Run(func() { r.ch.Interrupt() })
		if n := len(r.port.Completed()); n != 0 {
			t.Fatalf("busy %v: the ISR completed %d requests on TFES", busy, n)
		}
		if !r.port.FireTimer() {
			t.Fatalf("busy %v: no recovery requested", busy)
		}
		if r.port.Syncs() != 1 {
			t.Errorf("busy %v: the recovery ran in %d synchronized routines, want 1", busy, r.port.Syncs())
		}
		done := r.port.Completed()
		if len(done) != 1 || done[0] != bad {
			t.Fatalf("busy %v: recovery completed %d requests, want the failing one", busy, len(done))
		}
		lba, ok := bad.ErrorLBA()
		if bad.Status != miniport.StatusDeviceError || bad.AtaStatus&miniport.ERR == 0 || bad.AtaError != miniport.UNC || !ok || lba != 205 {
			t.Errorf("busy %v: failing read: %v status %#x error %#x lba %d", busy, bad.Status, bad.AtaStatus, bad.AtaError, lba)
		}
		if want := map[bool]int{false: 0, true: 1}[busy]; r.hba.comresets != want {
			t.Errorf("busy %v: %d COMRESETs, want %d", busy, r.hba.comresets, want)
		}
		if r.hba.p[1][PxCI] != 1<<1 || r.hba.p[1][PxCMD]&(1<<PxCMD_ST) == 0 {
			t.Fatalf("busy %v: PxCI %#x PxCMD %#x: the innocent read is not issued again on a started port", busy, r.hba.p[1][PxCI], r.hba.p[1][PxCMD])
		}
		r.hba.run(1)
		r.port.Run(func() { r.ch.Interrupt() })
		done = r.port.Completed()
		if len(done) != 2 || done[1] != good || good.Status != miniport.StatusSuccess || good.Transferred != 4096 {
			t.Errorf("busy %v: the innocent read did not complete after the recovery", busy)
		}
	}
}

// TestBuildIoRefusals checks the requests BuildIo refuses without touching
// the HBA.
func TestBuildIoRefusals(t *testing.T) {
	r := newRig(t, 0)
	for _, tc := range []struct {
		name string
		mod  func(*miniport.Request)
		want miniport.Status
	}{
		{"target 1", func(q *miniport.Request) { q.Target = 1 }, miniport.StatusSelectionTimeout},
		{"both directions", func(q *miniport.Request) { q.Flags |= miniport.FlagDataOut }, miniport.StatusInvalidRequest},
		{"data without segments covering it", func(q *miniport.Request) { q.Data = make([]byte, 512) }, miniport.StatusInvalidRequest},
		{"ATAPI packet of 10 bytes", func(q *miniport.Request) { q.Function, q.CdbLength = miniport.FunctionATAPI, 10 }, miniport.StatusInvalidRequest},
	} {
		q := r.request(t, 0, miniport.READ_DMA_EXT, 0, 1, false)
		tc.mod(q)
		old := kernel.Raise(kernel.DISPATCH)
		ok := r.ch.BuildIo(q)
		kernel.Lower(old)
		if ok || q.Status != tc.want {
			t.Errorf("%s: BuildIo %v status %v, want refused with %v", tc.name, ok, q.Status, tc.want)
		}
	}
	if r.hba.p[1][PxCI] != 0 {
		t.Error("a refused request reached PxCI")
	}
}

// TestNCQ queues three reads: BuildIo makes them READ FPDMA QUEUED with
// the count in FEATURES (and leaves them so when it builds them again),
// StartIo puts the slot in COUNT 7:3 as the tag and sets PxSACT before
// PxCI; a flush meanwhile is answered busy (no mixing); the ISR completes
// the slots that left PxSACT.
func TestNCQ(t *testing.T) {
	r := newRig(t, 0)
	if err := r.ch.Initialize(&miniport.DeviceParameters{Type: miniport.DeviceATA, Identify: &miniport.Identify{LBA48: true, FlushCacheExt: true, NCQ: true, NCQDepth: 32}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4096; i++ {
		r.hba.disk[1][i*512] = byte(i)
	}
	var reqs []*miniport.Request
	for i := 0; i < 3; i++ {
		q := r.request(t, uint8(i), miniport.READ_DMA_EXT, uint64(10*i), 4, false)
		q.Flags |= miniport.FlagQueued
		if !r.start(t, q) {
			t.Fatalf("StartIo refused queued read %d: %v", i, q.Status)
		}
		fis := q.Extension.Buf[CFIS:]
		if miniport.Command(fis[2]) != miniport.READ_FPDMA_QUEUED || fis[3] != 4 || fis[11] != 0 || fis[12] != uint8(i)<<3 || fis[7] != 0x40 {
			t.Errorf("queued read %d: FIS % x", i, fis[:16])
		}
		// Built again, as the port does with a request a reset sent back
		// to its queue: the same FIS, the tag aside.
		again := *q
		old := kernel.Raise(kernel.DISPATCH)
		ok := r.ch.BuildIo(&again)
		kernel.Lower(old)
		if got := again.Extension.Buf[CFIS:]; !ok || miniport.Command(got[2]) != miniport.READ_FPDMA_QUEUED || got[3] != 4 || got[11] != 0 || got[7] != 0x40 {
			t.Errorf("queued read %d built again: %v, FIS % x", i, ok, got[:16])
		}
		fis[12] = uint8(i) << 3
		reqs = append(reqs, q)
	}
	if got := strings.Join(r.hba.issue, ","); got != "SACT 0x1,CI 0x1,SACT 0x2,CI 0x2,SACT 0x4,CI 0x4" {
		t.Errorf("PxSACT/PxCI writes %s, want SACT before CI for each", got)
	}
	flush := &miniport.Request{Function: miniport.FunctionFlush, Tag: 9, Extension: reqs[0].Extension}
	ext, _ := r.mem.Reserve(extSize, cmdTableAlign)
	flush.Extension = ext
	if r.start(t, flush) || flush.Status != miniport.StatusBusy {
		t.Errorf("a flush with queued reads outstanding: %v, want busy", flush.Status)
	}
	r.hba.run(1)
	r.port.Run(func() { r.ch.Interrupt() })
	done := r.port.Completed()
	if len(done) != 3 {
		t.Fatalf("%d queued reads completed, want 3", len(done))
	}
	for i, q := range reqs {
		if q.Status != miniport.StatusSuccess || q.Data[0] != byte(10*i) {
			t.Errorf("queued read %d: %v, first byte %d", i, q.Status, q.Data[0])
		}
	}
	if issued, _ := r.ch.QueueStats(); issued != 3 {
		t.Errorf("QueueStats issued %d, want 3", issued)
	}

}

// TestNCQErrorRecovery fails one queued read among others with UNC
// (§6.2.2.2). With a device that keeps the NCQ Command Error log, one
// synchronized routine reads it with READ LOG EXT and fails exactly the
// tag it names, with its STATUS, ERROR and failing LBA, completes the
// commands that finished before the error, and issues the aborted ones
// again, PxSACT before PxCI, without a COMRESET; they complete with their
// data. This also holds with all 32 slots taken, when the log command
// borrows slot 0. A device that aborts READ LOG EXT (QEMU 7.2) gets a
// COMRESET instead, and every queued command not finished fails with
// StatusBusReset, for the port to try again one at a time.
func TestNCQErrorRecovery(t *testing.T) {
	for _, tc := range []struct {
		name   string
		log    bool
		n, bad int // queued reads, the failing one
	}{
		{"log, 3 queued", true, 3, 1},
		{"log, all 32 slots", true, 32, 5},
		{"log aborted", false, 3, 1},
	} {
		r := newRig(t, 0)
		if err := r.ch.Initialize(&miniport.DeviceParameters{Type: miniport.DeviceATA, Identify: &miniport.Identify{LBA48: true, FlushCacheExt: true, NCQ: true, NCQDepth: 32}}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4096; i++ {
			r.hba.disk[1][i*512] = byte(i)
		}
		r.hba.ncqLog = tc.log
		r.hba.runOnStall = true
		badLBA := uint64(10*tc.bad + 2)
		r.hba.bad[badLBA] = true
		var reqs []*miniport.Request
		for i := 0; i < tc.n; i++ {
			q := r.request(t, uint8(i), miniport.READ_DMA_EXT, uint64(10*i), 4, false)
			q.Flags |= miniport.FlagQueued
			if !r.start(t, q) {
				t.Fatalf("%s: StartIo refused queued read %d: %v", tc.name, i, q.Status)
			}
			reqs = append(reqs, q)
		}
		r.hba.issue = nil
		r.hba.run(1)
		r.port.Run(func() { r.ch.Interrupt() })
		if n := len(r.port.Completed()); n != 0 {
			t.Fatalf("%s: the ISR completed %d requests on TFES", tc.name, n)
		}
		if !r.port.FireTimer() {
			t.Fatalf("%s: no recovery after the NCQ error", tc.name)
		}
		if r.port.Syncs() != 1 {
			t.Errorf("%s: the recovery ran in %d synchronized routines, want 1", tc.name, r.port.Syncs())
		}
		p := r.hba.p[1]
		if p[PxCMD]&(1<<PxCMD_ST) == 0 {
			t.Fatalf("%s: PxCMD %#x: port not started after the recovery", tc.name, p[PxCMD])
		}
		bad := reqs[tc.bad]
		if !tc.log {
			// Slots before the bad one completed; the bad one and those
			// after it fail for a retry.
			done := r.port.Completed()
			if len(done) != tc.n || r.hba.comresets != 1 || p[PxSACT] != 0 || p[PxCI] != 0 {
				t.Errorf("%s: %d completed, %d COMRESETs, PxSACT %#x PxCI %#x; want %d, 1, an idle port", tc.name, len(done), r.hba.comresets, p[PxSACT], p[PxCI], tc.n)
			}
			for i, q := range reqs {
				want := miniport.StatusBusReset
				if i < tc.bad {
					want = miniport.StatusSuccess
				}
				if q.Status != want {
					t.Errorf("%s: queued read %d: %v, want %v", tc.name, i, q.Status, want)
				}
			}
			continue
		}
		if r.hba.comresets != 0 || r.hba.ncqErr != nil {
			t.Errorf("%s: %d COMRESETs, log left unread %v: want the log read and no reset", tc.name, r.hba.comresets, r.hba.ncqErr != nil)
		}
		lba, ok := bad.ErrorLBA()
		if bad.Status != miniport.StatusDeviceError || bad.AtaStatus != miniport.DRDY|miniport.ERR || bad.AtaError != miniport.UNC || !ok || lba != badLBA {
			t.Errorf("%s: failing read: %v status %#x error %#x lba %d (%v), want device error 0x41 UNC at %d", tc.name, bad.Status, bad.AtaStatus, bad.AtaError, lba, ok, badLBA)
		}
		innocent := uint32(0)
		for i := tc.bad + 1; i < tc.n; i++ {
			innocent |= 1 << i
		}
		wantIssue := []string{"CI 0x" + strconv.FormatUint(uint64(uint32(1)<<tc.n&^1), 16), "SACT " + hex(innocent), "CI " + hex(innocent)}
		if tc.n == 32 {
			wantIssue[0] = "CI 0x1" // all slots held: the log borrows slot 0
		}
		if got := strings.Join(r.hba.issue, ","); got != strings.Join(wantIssue, ",") {
			t.Errorf("%s: PxCI/PxSACT writes %s, want %s (READ LOG EXT in a free slot, then the aborted reads, PxSACT first)", tc.name, got, strings.Join(wantIssue, ","))
		}
		r.hba.run(1)
		r.port.Run(func() { r.ch.Interrupt() })
		if n := len(r.port.Completed()); n != tc.n {
			t.Errorf("%s: %d requests completed, want %d", tc.name, n, tc.n)
		}
		for i, q := range reqs {
			if i != tc.bad && (q.Status != miniport.StatusSuccess || q.Data[0] != byte(10*i) || q.Transferred != 4*512) {
				t.Errorf("%s: queued read %d: %v, first byte %d, %d bytes; want success with its data", tc.name, i, q.Status, q.Data[0], q.Transferred)
			}
		}
		if p[PxSACT] != 0 || p[PxCI] != 0 {
			t.Errorf("%s: PxSACT %#x PxCI %#x after the reissued reads, want 0", tc.name, p[PxSACT], p[PxCI])
		}
	}
}

func hex(v uint32) string { return "0x" + strconv.FormatUint(uint64(v), 16) }

// TestReset issues two reads the device never answers, then resets the
// port as the port driver does at a timeout (HwReset, §10.4.2): the
// command list stops, a COMRESET runs, PxIE comes back, the slots are
// forgotten without being completed, and the port starts again and takes
// new commands.
func TestReset(t *testing.T) {
	r := newRig(t, 0)
	a := r.request(t, 0, miniport.READ_DMA_EXT, 0, 1, false)
	b := r.request(t, 1, miniport.READ_DMA_EXT, 8, 1, false)
	r.start(t, a)
	r.start(t, b)
	r.hba.p[1][PxTFD] = 0x50 | miniport.BSY // the device hangs
	var ok bool
	r.port.Run(func() { ok = r.ch.Reset() })
	if !ok || r.hba.comresets != 1 {
		t.Fatalf("Reset %v with %d COMRESETs, want true after one", ok, r.hba.comresets)
	}
	if len(r.port.Completed()) != 0 || a.AtaStatus&miniport.BSY == 0 {
		t.Errorf("Reset completed %d requests (want none: the port completes them), recorded status %#x (want BSY)", len(r.port.Completed()), a.AtaStatus)
	}
	p := r.hba.p[1]
	if p[PxCI] != 0 || p[PxCMD]&(1<<PxCMD_ST) == 0 || p[PxIE] != pxieEnabled {
		t.Errorf("after Reset PxCI %#x PxCMD %#x PxIE %#x, want an empty started port with its interrupts enabled", p[PxCI], p[PxCMD], p[PxIE])
	}
	c := r.request(t, 2, miniport.READ_DMA_EXT, 16, 1, false)
	if !r.start(t, c) || p[PxCI] != 1 {
		t.Fatalf("after Reset a new read got PxCI %#x, want slot 0", p[PxCI])
	}
	r.hba.run(1)
	r.port.Run(func() { r.ch.Interrupt() })
	if done := r.port.Completed(); len(done) != 1 || done[0] != c || c.Status != miniport.StatusSuccess {
		t.Errorf("the read after the reset did not complete alone with success")
	}
}

// State reports the issued slot and the port registers that show it.
func TestState(t *testing.T) {
	r := newRig(t, 0)
	rd := r.request(t, 0, miniport.READ_DMA_EXT, 0, 8, false)
	if !r.start(t, rd) {
		t.Fatal("StartIo refused the read")
	}
	labels := r.ch.StateLabels()
	v := make([]uint32, len(labels))
	r.port.Run(func() { r.ch.State(v) })
	got := map[string]uint32{}
	for i, l := range labels {
		got[l] = v[i]
	}
	if got["issued"] != 1 || got["queued"] != 0 || got["PxCI"] != 1 || got["PxCMD"]&(1<<PxCMD_ST) == 0 {
		t.Errorf("State %v, want slot 0 issued and in PxCI, the port started", got)
	}
}
