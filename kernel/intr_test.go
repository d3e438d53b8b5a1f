//go:build !tamago

package kernel

import (
	"fmt"
	"reflect"
	"testing"
)

func TestTakePendingKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		set  []int
		lv   IRQL
		want []int // in the order taken
	}{
		{nil, PASSIVE, nil},
		{[]int{0x30, 0x50, 0x51, 0xe3}, PASSIVE, []int{0xe3, 0x51, 0x50, 0x30}},
		{[]int{0x30, 0x50, 0x51, 0xe3}, 5, []int{0xe3}},             // class 5 and below held at 5
		{[]int{0x3f, 0x40}, 3, []int{0x40}},                         // 0x3f is class 3
		{[]int{0x7f, 0x80, 0xbf, 0xc0}, 7, []int{0xc0, 0xbf, 0x80}}, // word boundaries
		{[]int{0x20}, DISPATCH, nil},
		{[]int{0x20}, APC, []int{0x20}},
	} {
		var p [4]uint64
		for _, v := range tc.set {
			p[v/64] |= 1 << (v % 64)
		}
		var got []int
		for v := takePending(&p, tc.lv); v >= 0; v = takePending(&p, tc.lv) {
			got = append(got, v)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("pending %#x at %v: took %#x, want %#x", tc.set, tc.lv, got, tc.want)
		}
	}
}

// lapicModel follows the local APIC's in-service bits: a delivery sets the
// vector's, an EOI clears the highest. It logs the events of one test.
type lapicModel struct {
	inService  [256]bool
	log        []string
	onDispatch map[uint8]func()
}

func (m *lapicModel) deliver(v uint8) {
	m.inService[v] = true
	Deliver(v)
}

func (m *lapicModel) install(t *testing.T) {
	SetDispatcher(func(v uint8) {
		m.log = append(m.log, fmt.Sprintf("isr %#x at %v", v, Current()))
		if f := m.onDispatch[v]; f != nil {
			f()
		}
	})
	fakeEOIHook = func(int) {
		for v := 255; v >= 0; v-- {
			if m.inService[v] {
				m.inService[v] = false
				m.log = append(m.log, fmt.Sprintf("eoi %#x", v))
				return
			}
		}
		m.log = append(m.log, "eoi with nothing in service")
	}
	t.Cleanup(func() {
		fakeEOIHook = nil
		dispatcher.Store(nil)
	})
}

// TestServiceOrder: vectors accepted while raised run at the safe point
// of Lower, highest first, each at its class and followed by its own EOI;
// a vector of the current class stays pending until the level drops below
// it.
func TestServiceOrder(t *testing.T) {
	m := &lapicModel{}
	m.install(t)
	old := Raise(5)
	m.deliver(0x50)
	m.deliver(0x61)
	ServicePoint()
	m.log = append(m.log, "point at 5")
	Lower(old)
	want := []string{"isr 0x61 at DIRQL6", "eoi 0x61", "point at 5", "isr 0x50 at DIRQL5", "eoi 0x50"}
	if !reflect.DeepEqual(m.log, want) {
		t.Errorf("events %q, want %q", m.log, want)
	}
}

// TestServiceNesting: a higher vector accepted during an ISR runs at the
// ISR's safe point (a Stall), and its EOI goes out before the lower one's,
// so that each EOI retires the vector whose ISR ended.
func TestServiceNesting(t *testing.T) {
	m := &lapicModel{}
	m.onDispatch = map[uint8]func(){
		0x50: func() {
			m.deliver(0x72)
			Stall(1)
			m.log = append(m.log, "0x50 returns")
		},
	}
	m.install(t)
	old := Raise(DISPATCH)
	m.deliver(0x50)
	Lower(old)
	want := []string{"isr 0x50 at DIRQL5", "isr 0x72 at DIRQL7", "eoi 0x72", "0x50 returns", "eoi 0x50"}
	if !reflect.DeepEqual(m.log, want) {
		t.Errorf("events %q, want %q", m.log, want)
	}
}

// TestRaiseIsASafePoint: a vector accepted at DISPATCH runs before Raise
// lifts the level above its class, not when the level comes back down.
func TestRaiseIsASafePoint(t *testing.T) {
	m := &lapicModel{}
	m.install(t)
	old := Raise(DISPATCH)
	m.deliver(0x40)
	Raise(9)
	m.log = append(m.log, "at DIRQL9")
	Lower(old)
	want := []string{"isr 0x40 at DIRQL4", "eoi 0x40", "at DIRQL9"}
	if !reflect.DeepEqual(m.log, want) {
		t.Errorf("events %q, want %q", m.log, want)
	}
}

// TestServiceRunsQueuedDPCs: a DPC queued by an ISR served at a PASSIVE
// safe point runs there, at DISPATCH, after the EOI; CR8 steps from the
// vector's class straight down to DISPATCH for it and then to PASSIVE,
// three writes in all.
func TestServiceRunsQueuedDPCs(t *testing.T) {
	m := &lapicModel{}
	var dpc *DPC
	dpc = NewDPC("test", func() { m.log = append(m.log, "dpc at "+Current().String()) })
	m.onDispatch = map[uint8]func(){0x30: func() { dpc.Queue() }}
	m.install(t)
	p := procPin()
	m.deliver(0x30)
	writes := fakeCR8Writes[p].Load()
	ServicePoint()
	writes = fakeCR8Writes[p].Load() - writes
	procUnpin()
	want := []string{"isr 0x30 at DIRQL3", "eoi 0x30", "dpc at DISPATCH"}
	if !reflect.DeepEqual(m.log, want) {
		t.Errorf("events %q, want %q", m.log, want)
	}
	if writes != 3 {
		t.Errorf("%d CR8 writes, want 3 (DIRQL3, DISPATCH, PASSIVE)", writes)
	}
	if Current() != PASSIVE {
		t.Errorf("left at %v", Current())
	}
}

// TestSpuriousAndWake: the spurious vector is counted and never EOIed or
// dispatched; the wake vector is EOIed by the entry and not dispatched.
func TestSpuriousAndWake(t *testing.T) {
	m := &lapicModel{}
	m.install(t)
	old := Raise(DISPATCH)
	me := CPU()
	eois := fakeEOIs[me].Load()
	spur := Accepted(me, SpuriousVector)
	Deliver(SpuriousVector)
	m.inService[WakeVector] = true
	Deliver(WakeVector)
	Lower(old)
	if got := fakeEOIs[me].Load() - eois; got != 1 {
		t.Errorf("%d EOIs, want 1 (the wake vector's)", got)
	}
	if Accepted(me, SpuriousVector) != spur+1 {
		t.Error("the spurious vector was not counted")
	}
	if want := []string{"eoi 0xef"}; !reflect.DeepEqual(m.log, want) {
		t.Errorf("events %q, want %q", m.log, want)
	}
}

// TestWakeAccepted: WakeAccepted gives the executing CPU and the TSC of its
// entry's latest acceptance of the wake vector, which a delivery of another
// vector does not move.
func TestWakeAccepted(t *testing.T) {
	m := &lapicModel{}
	m.install(t)
	old := Raise(DISPATCH)
	defer Lower(old)
	before := readTSC()
	m.inService[WakeVector] = true
	Deliver(WakeVector)
	after := readTSC()
	cpu, at := WakeAccepted()
	if cpu != CPU() {
		t.Errorf("WakeAccepted on CPU %d gave CPU %d", CPU(), cpu)
	}
	if at < before || at > after {
		t.Errorf("wake vector accepted at TSC %d, want within [%d, %d] of its delivery", at, before, after)
	}
	Deliver(SpuriousVector)
	if _, again := WakeAccepted(); again != at {
		t.Errorf("a spurious vector moved the wake vector's acceptance from %d to %d", at, again)
	}
}
