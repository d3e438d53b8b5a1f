package irq

import (
	"testing"

	"github.com/ataport/firmware/kernel"
)

// TestConnectMSI connects a message-signalled interrupt at DIRQL 7: its
// vector is of class 7, its message goes to the BSP's local APIC with the
// vector as data (fixed, edge); SynchronizeMasked masks and unmasks it
// through the hook, with the lock held, and Masked reads the hook back;
// Disconnect leaves it masked. Bad arguments are refused.
func TestConnectMSI(t *testing.T) {
	masked, sets := false, []bool{}
	hook := MaskHook{
		Set:    func(m bool) bool { sets = append(sets, m); masked = m; return masked },
		Masked: func() bool { return masked },
	}
	i, msg, err := ConnectMSI("ahci", 7, func() bool { return true }, hook)
	if err != nil {
		t.Fatal(err)
	}
	if i.Vector()>>4 != 7 || i.Level() != 7 || i.HasLine() {
		t.Errorf("vector %#x level %v line %v, want class 7, no IOAPIC line", i.Vector(), i.Level(), i.HasLine())
	}
	if msg.Address != 0xfee00000 || msg.Data != uint16(i.Vector()) {
		t.Errorf("message %#x/%#x, want 0xfee00000/%#x (BSP, fixed, edge)", msg.Address, msg.Data, i.Vector())
	}
	var inside, held bool
	i.SynchronizeMasked(func() { inside, held = i.Masked(), i.Lock().HeldByThisCPU() })
	if !inside || !held || i.Masked() || len(sets) != 2 || !sets[0] || sets[1] {
		t.Errorf("masked inside %v with the lock %v, after %v, hook calls %v; want masked inside, unmasked after", inside, held, i.Masked(), sets)
	}
	i.Disconnect()
	if !masked {
		t.Error("Disconnect left the interrupt unmasked")
	}
	for _, tc := range []struct {
		name  string
		level kernel.IRQL
		isr   ISR
		hook  MaskHook
	}{
		{"DISPATCH is no DIRQL", kernel.DISPATCH, func() bool { return true }, hook},
		{"nil ISR", 7, nil, hook},
		{"no mask hook", 7, func() bool { return true }, MaskHook{}},
	} {
		if _, _, err := ConnectMSI("bad", tc.level, tc.isr, tc.hook); err == nil {
			t.Errorf("%s: ConnectMSI succeeded", tc.name)
		}
	}
}
