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
