package sff_test

import (
	"bytes"
	"testing"

	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

// READ/WRITE MULTIPLE move the device's multiple block per DRQ block, so
// one interrupt per block (the last one shorter); without a multiple block
// given to Initialize they are refused before they reach the device.
func TestReadWriteMultiple(t *testing.T) {
	d := disk(1000)
	d.Spec.MultipleMax = 16
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4)

	early := r.request(miniport.FunctionATA, 0, 512, 0)
	early.Flags = miniport.FlagDataIn
	read28(early, miniport.READ_MULTIPLE, 0, 1)
	if r.ch.BuildIo(early) || early.Status != miniport.StatusInvalidRequest {
		t.Fatalf("READ MULTIPLE before a multiple block: %v, want refused", early.Status)
	}

	set := r.request(miniport.FunctionATA, 0, 0, 0)
	set.TaskFile.Current = miniport.Registers{Count: 8, Command: uint8(miniport.SET_MULTIPLE_MODE)}
	if s := r.run(set); s != miniport.StatusSuccess {
		t.Fatalf("SET MULTIPLE MODE: %v", s)
	}
	id, err := miniport.ParseIdentify(sfftest.BuildIdentify(d.Spec))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ch.Initialize(&miniport.DeviceParameters{Target: 0, Type: miniport.DeviceATA, Modes: miniport.PIO4, Identify: &id, Multiple: 8}); err != nil {
		t.Fatal(err)
	}

	w := r.request(miniport.FunctionATA, 0, 20*512, 0)
	w.Flags = miniport.FlagDataOut
	read28(w, miniport.WRITE_MULTIPLE, 100, 20)
	for i := range w.Data {
		w.Data[i] = byte(i * 7)
	}
	if s := r.run(w); s != miniport.StatusSuccess {
		t.Fatalf("WRITE MULTIPLE: %v", s)
	}
	for i := 0; i < 20; i++ {
		if !bytes.Equal(d.Sector(100+uint64(i)), w.Data[i*512:(i+1)*512]) {
			t.Fatalf("sector %d differs after WRITE MULTIPLE", 100+i)
		}
	}

	req := r.request(miniport.FunctionATA, 0, 20*512, 0)
	req.Flags = miniport.FlagDataIn
	read28(req, miniport.READ_MULTIPLE, 100, 20)
	if !r.ch.BuildIo(req) || !r.startIo(req) {
		t.Fatalf("READ MULTIPLE not started: %v", req.Status)
	}
	interrupts := 0
	for i := 0; i < 10 && !r.completed(req); i++ {
		if !r.bus.INTRQ() || !r.interrupt() {
			t.Fatal("no interrupt while the read is in flight")
		}
		interrupts++
	}
	if req.Status != miniport.StatusSuccess || !bytes.Equal(req.Data, w.Data) {
		t.Fatalf("READ MULTIPLE: %v, data equal %v", req.Status, bytes.Equal(req.Data, w.Data))
	}
	if interrupts != 3 {
		t.Errorf("%d interrupts for 20 sectors in blocks of 8, want 3", interrupts)
	}
}

// With a PIO request in flight, BuildIo of a DMA request asks for no
// synchronized routine and leaves the engine alone; StartIo loads the PRD
// table address and direction under the interrupt lock.
func TestDMABuildIoBehindPIOIsUnsynchronized(t *testing.T) {
	d := disk(1 << 20)
	r := newRig(t, d, nil, sff.Hooks{})
	r.init(0, d, miniport.PIO4|miniport.MWDMA2)
	a := r.request(miniport.FunctionATA, 0, 512, 0)
	a.Flags = miniport.FlagDataIn
	read28(a, miniport.READ_SECTORS, 1, 1)
	b := r.request(miniport.FunctionATA, 0, 512, 0)
	b.Flags = miniport.FlagDataIn | miniport.FlagDMA
	read28(b, miniport.READ_DMA, 2, 1)

	if !r.ch.BuildIo(a) || !r.startIo(a) {
		t.Fatal("a not started")
	}
	r.bus.ClearOps()
	if !r.ch.BuildIo(b) || r.port.Syncs() != 0 {
		t.Fatalf("BuildIo of b behind a PIO request: %d synchronized routines, want 0", r.port.Syncs())
	}
	for _, o := range r.bus.Writes() {
		if o.Port >= r.bus.BM && o.Port < r.bus.BM+8 {
			t.Fatalf("BuildIo wrote bus-master register %#x", o.Port)
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
		loaded = loaded || o.Port == r.bus.BM+sff.BMIDTPX
	}
	if !loaded {
		t.Fatal("StartIo did not load BMIDTPX")
	}
	if !r.interrupt() || b.Status != miniport.StatusSuccess || !bytes.Equal(b.Data, sfftest.Pattern(2, 512)) {
		t.Fatalf("b: %v", b.Status)
	}
}
