//go:build !tamago

package lapic

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ataport/firmware/irq/internal/mmio"
	"github.com/ataport/firmware/kernel"
)

const base = 0xfee00000

func newLAPIC(t *testing.T) (*LAPIC, *mmio.FakeLAPIC) {
	t.Helper()
	f := mmio.NewFakeLAPIC(3)
	t.Cleanup(mmio.Attach(base, 0x400, f))
	return &LAPIC{Base: base}, f
}

func TestRegisters(t *testing.T) {
	l, f := newLAPIC(t)
	f.Set(LAPIC_TPR, 0x50)
	f.Set(LAPIC_PPR, 0x60)
	if l.ID() != 3 || l.TPR() != 0x50 || l.PPR() != 0x60 || l.SpuriousVector() != 0xff || !l.Enabled() {
		t.Errorf("ID %d TPR %#x PPR %#x SVR vector %#x enabled %v", l.ID(), l.TPR(), l.PPR(), l.SpuriousVector(), l.Enabled())
	}
	l.EOI()
	if f.EOIs.Load() != 1 {
		t.Errorf("%d EOIs written, want 1", f.EOIs.Load())
	}
}

// Known answers: vector v is bit v%32 of the 32-bit register at
// base + 0x10*(v/32) of the 256-bit ISR, TMR or IRR.
func TestVectorBits(t *testing.T) {
	for _, tc := range []struct {
		reg    uint32
		bit    uint32
		vector uint8
		get    func(*LAPIC, uint8) bool
	}{
		{0x100, 0, 0x00, (*LAPIC).InService},
		{0x130, 5, 0x65, (*LAPIC).InService},
		{0x170, 31, 0xff, (*LAPIC).InService},
		{0x210, 0, 0x20, (*LAPIC).Requested},
		{0x250, 16, 0xb0, (*LAPIC).Requested},
		{0x1f0, 31, 0xff, (*LAPIC).LevelTriggered},
		{0x180, 14, 0x0e, (*LAPIC).LevelTriggered},
	} {
		t.Run(fmt.Sprintf("%#x", tc.vector), func(t *testing.T) {
			l, f := newLAPIC(t)
			f.Set(tc.reg, 1<<tc.bit)
			if !tc.get(l, tc.vector) {
				t.Errorf("vector %#x not seen at register %#x bit %d", tc.vector, tc.reg, tc.bit)
			}
			if tc.get(l, tc.vector^1) {
				t.Errorf("vector %#x seen at register %#x bit %d", tc.vector^1, tc.reg, tc.bit)
			}
		})
	}
}

// Known answers for the ICR (SDM Vol 3A, "Interrupt Command Register").
func TestIPIEncoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(*LAPIC) error
		icr  uint64
	}{
		{"self 0x35", func(l *LAPIC) error { return l.SelfIPI(0x35) }, 0x0000000000044035},
		{"self 0xd2", func(l *LAPIC) error { return l.SelfIPI(0xd2) }, 0x00000000000440d2},
		{"APIC 1 vector 0x40", func(l *LAPIC) error { return l.IPI(1, 0x40) }, 0x0100000000004040},
		{"APIC 0xfe vector 0xef", func(l *LAPIC) error { return l.IPI(0xfe, 0xef) }, 0xfe000000000040ef},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, f := newLAPIC(t)
			old := kernel.Raise(kernel.DISPATCH)
			err := tc.send(l)
			kernel.Lower(old)
			if err != nil || len(f.ICR) != 1 || f.ICR[0] != tc.icr {
				t.Errorf("err %v, ICR %#x, want %#016x", err, f.ICR, tc.icr)
			}
		})
	}
}

func TestIPIErrors(t *testing.T) {
	l, f := newLAPIC(t)
	if err := l.IPI(1, 15); err == nil || !strings.Contains(err.Error(), "below 16") {
		t.Errorf("IPI vector 15: %v", err)
	}
	f.Busy.Store(true)
	err := l.IPI(1, 0x40)
	if err == nil || !strings.Contains(err.Error(), "lapic: IPI vector 0x40 to APIC ID 1: ICR delivery status still pending after 100ms") {
		t.Errorf("busy ICR: %v", err)
	}
	if len(f.ICR) != 0 {
		t.Errorf("sent %#x while the ICR was busy", f.ICR)
	}
	msg := func() (msg string) {
		defer func() { msg, _ = recover().(string) }()
		l.SelfIPI(0x40)
		return ""
	}()
	if want := "kernel: lapic.SelfIPI at PASSIVE, must be DISPATCH..HIGH"; msg != want {
		t.Errorf("SelfIPI at PASSIVE: panic %q, want %q", msg, want)
	}
}
