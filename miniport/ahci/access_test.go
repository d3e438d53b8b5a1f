package ahci

import (
	"strings"
	"testing"

	"github.com/ataport/firmware/miniport"
)

// TestRegisterAccesses counts the MMIO accesses of the hot path, each an
// exit from translated code under an emulator: StartIo of a queued read
// with nothing issued reads PxTFD (is the device idle?) and writes PxSACT
// and PxCI; with commands issued it only writes PxSACT and PxCI, as
// libahci's ahci_qc_issue. The ISR reads PxIS, clears it and IS, and reads
// PxSACT alone for queued commands (PxCI alone for non-queued ones); the
// completed commands' STATUS comes from the FIS the device sent (Set
// Device Bits, D2H Register or PIO Setup), which the HBA wrote into
// memory, and PxTFD is not read.
func TestRegisterAccesses(t *testing.T) {
	r := newRig(t, 0)
	if err := r.ch.Initialize(&miniport.DeviceParameters{Type: miniport.DeviceATA, Identify: &miniport.Identify{LBA48: true, NCQ: true, NCQDepth: 32}}); err != nil {
		t.Fatal(err)
	}
	access := func(what string, fn func(), want string) {
		t.Helper()
		r.hba.accesses, r.hba.logAccesses = nil, true
		fn()
		r.hba.logAccesses = false
		if got := strings.Join(r.hba.accesses, ", "); got != want {
			t.Errorf("%s: register accesses %s, want %s", what, got, want)
		}
	}
	var reqs []*miniport.Request
	for i := 0; i < 2; i++ {
		q := r.request(t, uint8(i), miniport.READ_DMA_EXT, uint64(8*i), 8, false)
		q.Flags |= miniport.FlagQueued
		want := "w PxSACT, w PxCI"
		if i == 0 {
			want = "r PxTFD, " + want
		}
		access("StartIo of queued read "+string(rune('0'+i)), func() {
			if !r.start(t, q) {
				t.Fatalf("StartIo refused queued read %d: %v", i, q.Status)
			}
		}, want)
		reqs = append(reqs, q)
	}
	r.hba.run(1)
	access("ISR of the queued reads", func() { r.port.Run(func() { r.ch.Interrupt() }) }, "r PxIS, w PxIS, w IS, r PxSACT")
	done := r.port.Completed()
	if len(done) != 2 {
		t.Fatalf("%d of 2 queued reads completed", len(done))
	}
	for _, q := range done {
		if q.Status != miniport.StatusSuccess || q.AtaStatus != miniport.DRDY|miniport.DSC {
			t.Errorf("queued read %d: %v, STATUS %#x; want success, 0x50 from the Set Device Bits FIS", q.Tag, q.Status, q.AtaStatus)
		}
	}
	nonQueued := func(what string, q *miniport.Request, want uint8) {
		t.Helper()
		access("StartIo of "+what, func() { r.start(t, q) }, "r PxTFD, w PxCI")
		r.hba.run(1)
		n := len(r.port.Completed())
		access("ISR of "+what, func() { r.port.Run(func() { r.ch.Interrupt() }) }, "r PxIS, w PxIS, w IS, r PxCI")
		done := r.port.Completed()
		if len(done) != n+1 || done[n] != q || q.Status != miniport.StatusSuccess || q.AtaStatus != want {
			t.Fatalf("%s: %d completed, %v, STATUS %#x; want it completed with success, STATUS %#x", what, len(done)-n, q.Status, q.AtaStatus, want)
		}
	}
	// The fake leaves different STATUS in each FIS area, so that the test
	// tells which one was read.
	fis, _ := r.mem.Slice(uint64(r.hba.p[1][PxFB]), rfisSize)
	nonQueued("a DMA read", r.request(t, 5, miniport.READ_DMA_EXT, 0, 8, false), 0x50)
	fis[RFIS+2] = 0x51
	id := r.request(t, 6, miniport.IDENTIFY_DEVICE, 0, 1, false)
	id.Flags = miniport.FlagDataIn
	id.TaskFile = miniport.TaskFile{Current: miniport.Registers{Command: uint8(miniport.IDENTIFY_DEVICE)}}
	nonQueued("IDENTIFY DEVICE (PIO data-in, ended by the PIO Setup FIS)", id, 0x50)
}

// TestLinkDown takes the device off the link: the ISR, told by PxIS.PRCS,
// reads PxSSTS, and StartIo answers the next request StatusSelectionTimeout
// without issuing it; with the link back (PRCS again) requests go through.
func TestLinkDown(t *testing.T) {
	r := newRig(t, 0)
	link := r.hba.p[1][PxSSTS]
	change := func(ssts uint32) {
		r.hba.p[1][PxSSTS] = ssts
		r.hba.p[1][PxIS] |= 1 << PxIS_PRCS
		r.hba.g[IS] |= 1 << 1
		var mine bool
		r.port.Run(func() { mine = r.ch.Interrupt() })
		if !mine {
			t.Fatal("the ISR did not claim PxIS.PRCS")
		}
	}
	change(0)
	q := r.request(t, 0, miniport.READ_DMA_EXT, 0, 8, false)
	if ok := r.start(t, q); ok || q.Status != miniport.StatusSelectionTimeout || r.hba.p[1][PxCI] != 0 {
		t.Fatalf("read without a link: StartIo answered %v, %v, PxCI %#x; want false, StatusSelectionTimeout, nothing issued", ok, q.Status, r.hba.p[1][PxCI])
	}
	change(link)
	q = r.request(t, 0, miniport.READ_DMA_EXT, 0, 8, false)
	if !r.start(t, q) || r.hba.p[1][PxCI] != 1 {
		t.Fatalf("read with the link back: %v, PxCI %#x", q.Status, r.hba.p[1][PxCI])
	}
}

// TestLinkDownBeforeStart takes the link away without a PRCS interrupt,
// as happens between ChannelInit and HwControl(IdeStart) while PxIE is 0:
// IdeStart clears PxIS, so it reads the link again, and StartIo answers
// StatusSelectionTimeout.
func TestLinkDownBeforeStart(t *testing.T) {
	r := newRig(t, 0)
	r.hba.p[1][PxSSTS] = 0
	if err := r.ch.Control(miniport.ControlStart); err != nil {
		t.Fatal(err)
	}
	q := r.request(t, 0, miniport.READ_DMA_EXT, 0, 8, false)
	if ok := r.start(t, q); ok || q.Status != miniport.StatusSelectionTimeout || r.hba.p[1][PxCI] != 0 {
		t.Fatalf("read after the link went down before IdeStart: StartIo answered %v, %v, PxCI %#x; want false, StatusSelectionTimeout, nothing issued", ok, q.Status, r.hba.p[1][PxCI])
	}
}

// TestReturnTaskFile asks for the task file back (FlagReturnTaskFile) from
// a queued read, an IDENTIFY DEVICE (PIO data-in) and a DMA read, and
// checks that each comes from the FIS that ended that command: the Set
// Device Bits FIS (STATUS and ERROR only), the PIO Setup FIS with its
// E_Status, the D2H Register FIS. The D2H FIS area holds poison before
// the first two, which the device ends without one.
func TestReturnTaskFile(t *testing.T) {
	r := newRig(t, 0)
	if err := r.ch.Initialize(&miniport.DeviceParameters{Type: miniport.DeviceATA, Identify: &miniport.Identify{LBA48: true, NCQ: true, NCQDepth: 32}}); err != nil {
		t.Fatal(err)
	}
	fis, _ := r.mem.Slice(uint64(r.hba.p[1][PxFB]), rfisSize)
	poison := func() {
		for i := RFIS; i < RFIS+RFISLength; i++ {
			fis[i] = 0xee
		}
	}
	run := func(what string, q *miniport.Request, want miniport.TaskFile) {
		t.Helper()
		q.Flags |= miniport.FlagReturnTaskFile
		if !r.start(t, q) {
			t.Fatalf("%s: StartIo refused it: %v", what, q.Status)
		}
		r.hba.run(1)
		n := len(r.port.Completed())
		r.port.Run(func() { r.ch.Interrupt() })
		if done := r.port.Completed(); len(done) != n+1 || done[n] != q || q.Status != miniport.StatusSuccess {
			t.Fatalf("%s: %d completed, %v; want it completed with success", what, len(done)-n, q.Status)
		}
		if !q.TaskFileReturned || q.TaskFile != want {
			t.Errorf("%s: task file returned %v, %+v; want %+v", what, q.TaskFileReturned, q.TaskFile, want)
		}
	}

	poison()
	q := r.request(t, 0, miniport.READ_DMA_EXT, 64, 8, false)
	q.Flags |= miniport.FlagQueued
	run("queued read (Set Device Bits FIS)", q, miniport.TaskFile{Current: miniport.Registers{Command: miniport.DRDY | miniport.DSC}})

	poison()
	id := r.request(t, 1, miniport.IDENTIFY_DEVICE, 0, 1, false)
	id.Flags = miniport.FlagDataIn
	id.TaskFile = miniport.TaskFile{Current: miniport.Registers{Command: uint8(miniport.IDENTIFY_DEVICE)}}
	run("IDENTIFY DEVICE (PIO Setup FIS)", id, miniport.TaskFile{Current: miniport.Registers{Command: miniport.DRDY | miniport.DSC, Device: 0xa0, Count: 1}})

	poison()
	lba := uint64(0x345)
	run("DMA read (D2H Register FIS)", r.request(t, 2, miniport.READ_DMA_EXT, lba, 8, false), miniport.TaskFile{
		Current: miniport.Registers{Command: miniport.DRDY | miniport.DSC, LBALow: 0x45, LBAMid: 0x03, Device: 0x40},
	})
}
