package ahci

import (
	"errors"
	"testing"
	"time"

	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// startFake starts a controller on hba, whose stalls advance its clock,
// and reports the fake time the start took.
func startFake(t *testing.T, hba *fakeHBA) (*Controller, time.Duration) {
	t.Helper()
	ctl, err := New(PCI{Bus: 0, Device: 0x1f, Function: 2, Vendor: 0x8086, DeviceID: 0x2922, Class: classAHCI,
		ABAR: 0xfebd5000, Regs: hba, Stall: func(d time.Duration) { hba.now += d }})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctl.AdapterControl(miniport.AdapterStart); err != nil {
		t.Fatal(err)
	}
	return ctl, hba.now
}

// TestLinkSettle starts a controller of six ports, a disk on port 1: the
// empty ports settle together after 100 ms of PxSSTS.DET 0 (they took
// 50 ms each before session 24); a drive whose link comes up 700 ms after
// the start (DET 1 until then) is found, where the 50 ms wait found none;
// one whose link never comes up is given up after 2 s and described by
// its DET.
func TestLinkSettle(t *testing.T) {
	for _, c := range []struct {
		name       string
		noPhyUntil time.Duration
		enabled    bool
		min, max   time.Duration
	}{
		{"link up at once", 0, true, 100 * time.Millisecond, 110 * time.Millisecond},
		{"link up after 700 ms", 700 * time.Millisecond, true, 700 * time.Millisecond, 710 * time.Millisecond},
		{"link never up", time.Hour, false, 2 * time.Second, 2 * time.Second},
	} {
		hba := newFakeHBA(sfftest.NewMemory(0x50000000), 0x3f)
		hba.attach(1, 64)
		hba.noPhyUntil[1] = c.noPhyUntil
		ctl, took := startFake(t, hba)
		if took < c.min || took > c.max {
			t.Errorf("%s: the controller start waited %v for the links, want %v-%v", c.name, took, c.min, c.max)
		}
		if got := ctl.ChannelEnabled(1) == miniport.ChannelEnabled; got != c.enabled {
			t.Errorf("%s: port 1 enabled %v, want %v (%s)", c.name, got, c.enabled, ctl.DescribeChannel(1))
		}
		for _, p := range []int{0, 2, 3, 4, 5} {
			if ctl.ChannelEnabled(p) != miniport.ChannelDisabled {
				t.Errorf("%s: empty port %d enabled", c.name, p)
			}
		}
		if want := "port 1, device present but no Phy communication (PxSSTS.DET 1)"; !c.enabled && ctl.DescribeChannel(1) != want {
			t.Errorf("%s: DescribeChannel(1) = %q, want %q", c.name, ctl.DescribeChannel(1), want)
		}
	}
}

// TestSpinUp initialises the port of a disk that shows BSY after the
// controller start, as one still spinning up does: 5 s of BSY is waited
// out (the port gave up after 1 s before session 24); 20 s is not, and
// ChannelInit says what PxTFD showed after 10 s.
func TestSpinUp(t *testing.T) {
	for _, c := range []struct {
		name  string
		busy  time.Duration
		ready bool
	}{
		{"5 s", 5 * time.Second, true},
		{"20 s", 20 * time.Second, false},
	} {
		hba := newFakeHBA(sfftest.NewMemory(0x50000000), 0x3)
		hba.attach(1, 64)
		ctl, start := startFake(t, hba)
		hba.busyUntil[1] = start + c.busy
		port := sfftest.NewPort(nil, hba.mem)
		port.Lock.Level = 7
		_, _, err := ctl.ChannelInit(1, port)
		took := hba.now - start
		switch {
		case c.ready && (err != nil || took < c.busy || took > c.busy+time.Millisecond):
			t.Errorf("%s of BSY: ChannelInit took %v: %v; want success once BSY clears", c.name, took, err)
		case !c.ready && (!errors.Is(err, errNotReady) || took < spinUpWait || took > spinUpWait+time.Millisecond):
			t.Errorf("%s of BSY: ChannelInit took %v: %v; want %v after %v", c.name, took, err, errNotReady, spinUpWait)
		case !c.ready && err.Error() != "ahci: port 1: device busy (PxTFD BSY or DRQ) after the link came up (PxTFD 0x80)":
			t.Errorf("%s of BSY: ChannelInit: %v", c.name, err)
		}
		if cmd := hba.p[1][PxCMD]; (cmd&(1<<PxCMD_ST) != 0) != c.ready {
			t.Errorf("%s of BSY: PxCMD %#x, want ST %v", c.name, cmd, c.ready)
		}
	}
}
