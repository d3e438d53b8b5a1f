//go:build tamago

package kernel

import "unsafe"

// defined in entry_amd64.s

// vectorTable and vectorEntry are the interrupt entry: IDT targets only.
func vectorTable()
func vectorEntry()

// nmiEntry is the NMI gate's target.
func nmiEntry()

// idtBase returns the IDT base address (sidt).
func idtBase() uint64

// vectorTableAddr returns the address of vectorTable's first CALL.
func vectorTableAddr() uint64

// nmiEntryAddr returns the address of nmiEntry.
func nmiEntryAddr() uint64

// IDT gate fields (SDM Vol 3A 6.14.1 "64-Bit Mode IDT", Figure "64-Bit IDT
// Gate Descriptors").
const (
	gateSize       = 16
	codeSelector   = 1 << 3 // the 64-bit code segment of TamaGo's GDT
	interruptGate  = 0x8e   // P=1, DPL=0, type 0xE: IF cleared on entry
	nmiVector      = 2
	entryCallBytes = 5 // one CALL rel32 per vector in vectorTable
)

// InstallEntry points the IDT gates of NMI and of vectors FirstVector-255
// at the firmware's entry. Every CPU loads the same IDT (TamaGo's AP start
// loads the BSP's IDTR), so this covers them all.
//
// Context: PASSIVE, before any interrupt source is unmasked (TamaGo's CPU
// init leaves interrupts on with every source masked); does not block.
func InstallEntry() {
	AssertMayBlock("kernel.InstallEntry")
	idt := uintptr(idtBase())
	table := uintptr(vectorTableAddr())
	for v := FirstVector; v <= 0xff; v++ {
		setGate(idt, v, table+uintptr(v-FirstVector)*entryCallBytes)
	}
	setGate(idt, nmiVector, uintptr(nmiEntryAddr()))
}

// setGate writes an interrupt gate for vector v to target. The low half is
// written last, with the present bit, so that the CPU never sees a present
// gate with a stale offset.
func setGate(idt uintptr, v int, target uintptr) {
	a := idt + uintptr(v)*gateSize
	*word64(a + 8) = uint64(target >> 32)
	*word64(a) = uint64(target&0xffff) | codeSelector<<16 | interruptGate<<40 | uint64(target>>16&0xffff)<<48
}

// word64 returns a pointer to the 8 bytes at physical (identity-mapped)
// address a (RAM). The address is converted through memory rather than
// with unsafe.Pointer(uintptr), which vet rightly rejects for Go heap
// addresses.
func word64(a uintptr) *uint64 {
	return *(**uint64)(unsafe.Pointer(&a))
}
