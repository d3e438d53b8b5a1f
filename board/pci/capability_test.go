package pci

import "testing"

// TestCapabilityAndMSI walks a capabilities list modelled on QEMU's ICH9
// AHCI (SATA capability at 0xa8, MSI at 0x80, 64-bit, no per-vector mask)
// and programs its MSI capability; a looping list and a function without a
// list find nothing.
func TestCapabilityAndMSI(t *testing.T) {
	c := &fakeConfig{t: t, fns: map[bdf]*fakeFunction{}}
	ahci := newFn(0x8086, 0x2922, 0x01, 0x06, 0x01, 0).cmd(0x0006, 1<<STATUS_CAP_LIST)
	ahci.regs[CAP_PTR/4] = 0x80
	ahci.regs[0x80/4] = uint32(1<<MSI_CTRL_64BIT)<<16 | 0xa8<<8 | CAP_ID_MSI
	ahci.regs[0xa8/4] = 0x0010_0012 // SATA capability, end of list
	c.fns[bdf{0, 0x1f, 2}] = ahci
	loop := newFn(0x1234, 0x5678, 0x01, 0x06, 0x01, 0).cmd(0, 1<<STATUS_CAP_LIST)
	loop.regs[CAP_PTR/4] = 0x40
	loop.regs[0x40/4] = 0x44<<8 | 0x09
	loop.regs[0x44/4] = 0x40<<8 | 0x09
	c.fns[bdf{0, 3, 0}] = loop
	plain := newFn(0x8086, 0x7010, 0x01, 0x01, 0x80, 0)
	c.fns[bdf{0, 1, 1}] = plain

	f := &Function{Bus: 0, Dev: 0x1f, Fn: 2}
	for _, tc := range []struct {
		name string
		fn   *Function
		id   uint8
		off  uint8
		ok   bool
	}{
		{"MSI first in the list", f, CAP_ID_MSI, 0x80, true},
		{"SATA second", f, 0x12, 0xa8, true},
		{"absent ID", f, 0x11, 0, false},
		{"looping list ends", &Function{Bus: 0, Dev: 3}, CAP_ID_MSI, 0, false},
		{"no list (Status bit 4 clear)", &Function{Bus: 0, Dev: 1, Fn: 1}, CAP_ID_MSI, 0, false},
	} {
		off, ok := tc.fn.Capability(c, tc.id)
		if off != tc.off || ok != tc.ok {
			t.Errorf("%s: Capability(%#x) = %#x, %v; want %#x, %v", tc.name, tc.id, off, ok, tc.off, tc.ok)
		}
	}

	pvm, err := f.EnableMSI(c, 0xfee00000, 0x0071)
	if err != nil || pvm {
		t.Fatalf("EnableMSI = %v, %v; want no per-vector mask, no error", pvm, err)
	}
	if got := ahci.regs[0x84/4]; got != 0xfee00000 {
		t.Errorf("message address = %#x", got)
	}
	if got := ahci.regs[0x88/4]; got != 0 {
		t.Errorf("upper address = %#x, want 0", got)
	}
	if got := uint16(ahci.regs[0x8c/4]); got != 0x0071 {
		t.Errorf("message data = %#x, want 0x71", got)
	}
	if ctl := uint16(ahci.regs[0x80/4] >> 16); ctl&1 == 0 || ctl&(7<<MSI_CTRL_MME) != 0 {
		t.Errorf("message control = %#x, want enabled with one message", ctl)
	}
	if cmd := uint16(ahci.regs[COMMAND/4]); cmd != 0x0006|1<<CMD_INTX_DISABLE {
		t.Errorf("COMMAND = %#x, want memory, bus master and INTx disable", cmd)
	}
	if _, err := plain.asFunction(0, 1, 1).EnableMSI(c, 0xfee00000, 0x71); err == nil {
		t.Error("EnableMSI on a function without MSI succeeded")
	}
}

// asFunction names the fake's address for a Function.
func (*fakeFunction) asFunction(bus, dev, fn uint8) *Function {
	return &Function{Bus: bus, Dev: dev, Fn: fn}
}
