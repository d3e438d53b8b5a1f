package ata

import (
	"testing"

	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/kernel"
)

// TestSharedInterrupt connects two channels to one interrupt: it is
// connected once; its ISR runs both channels' ISRs and claims the
// interrupt when either does; after a masked section of channel 0 during
// which only channel 1's device signalled, channel 1's ISR runs at once
// and channel 0 is told to look at its own device.
func TestSharedInterrupt(t *testing.T) {
	f := &fakeIntr{edges: make(chan struct{}, 1)}
	f.lock.Name, f.lock.Level = "shared", 7
	connects := 0
	s := NewSharedInterrupt(func(isr irq.ISR) (Interrupt, error) {
		connects++
		f.isr = isr
		return f, nil
	})
	var runs [2]int
	var claim, pend [2]bool
	var views [2]Interrupt
	for i := range views {
		v, err := s.Connect("ata", irq.Line{}, 7, func() bool { runs[i]++; return claim[i] })
		if err != nil {
			t.Fatal(err)
		}
		v.SetPending(func() bool { return pend[i] })
		views[i] = v
	}
	if connects != 1 || views[0].Lock() != views[1].Lock() {
		t.Fatalf("%d connections, locks shared %v; want one interrupt for both", connects, views[0].Lock() == views[1].Lock())
	}
	claim[1] = true
	old := f.lock.Acquire()
	mine := f.isr()
	f.lock.Release(old)
	if !mine || runs != [2]int{1, 1} {
		t.Errorf("shared ISR: claimed %v, ISR runs %v; want claimed, each ISR once", mine, runs)
	}
	pend[1] = true
	masked := false
	signalled := views[0].SynchronizeMasked(func() { masked = f.Masked() })
	if !masked || !signalled || runs != [2]int{1, 2} {
		t.Errorf("masked section: masked %v, signalled %v, ISR runs %v; want masked, signalled, channel 1's ISR run once more", masked, signalled, runs)
	}
	pend[1] = false
	if views[0].SynchronizeMasked(func() {}) {
		t.Error("a masked section with no device signalling reported a signal")
	}
	if kernel.Current() != kernel.PASSIVE {
		t.Errorf("left at %v", kernel.Current())
	}
}
