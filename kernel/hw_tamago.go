//go:build tamago

package kernel

import (
	"errors"
	"runtime"
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/ataport/firmware/board/mmio"
	"github.com/ataport/firmware/board/msr"
)

// Local APIC register used to identify the executing CPU (SDM Vol 3A, APIC
// chapter 10/11, "Local APIC ID Register"; default base "Local APIC Status
// and Location", 0xFEE00000, which TamaGo also uses).
const (
	lapicBase    = 0xfee00000
	lapicIDReg   = 0x20 // LAPIC_ID, Local APIC ID Register
	lapicIDShift = 24   // APIC ID, bits 31:24 (xAPIC)
	lapicEOIReg  = 0xb0 // LAPIC_EOI, EOI Register (write-only)
)

// defined in hw_amd64.s

// readCR8 returns CR8 (mov rax, cr8).
func readCR8() uint64

// writeCR8 sets CR8 (mov cr8, rax).
func writeCR8(v uint64)

// pinSetCR8 pins the calling goroutine to its CPU as runtime.procPin
// does, then sets CR8 and returns the executing CPU's local APIC ID, in
// one call: Raise needs all three (pinned first, so that the CPU named
// stays the caller's).
func pinSetCR8(v uint64) (apic uint8)

// lowerCR8 sets CR8 to v and returns the executing CPU's local APIC ID;
// when v is 0 it also undoes one runtime.procPin, in the same call: Lower
// to PASSIVE needs all three, and pins again where it was not pinned.
func lowerCR8(v uint64) (apic uint8)

// lowerCR8Unpins is true: lowerCR8 unpins, and Lower's few statements
// after it cannot be preempted, since TamaGo has no asynchronous
// preemption and they call nothing that checks the stack.
const lowerCR8Unpins = true

// mLocks returns the count runtime.procPin raises (m.locks of the
// calling goroutine's M), read at the offset pinSetCR8 uses.
func mLocks() int32

// readFlags returns RFLAGS (pushfq; pop rax).
func readFlags() uint64

// readTSC returns the time-stamp counter (rdtsc).
func readTSC() uint64

// localAPICID returns the byte at GS:0 once gsIsAPICID is set, before
// that LAPIC_ID bits 31:24 read at lapicBase+lapicIDReg (xAPIC IDs are 8
// bits).
func localAPICID() uint8

// cli clears RFLAGS.IF (cli).
func cli()

// sti sets RFLAGS.IF (sti).
func sti()

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// IA32_GS_BASE (SDM Vol 4, MSR index C000_0101H), the base of the GS
// segment in 64-bit mode (SDM Vol 3A 3.4.4 "Segment Loading Instructions
// in IA-32e Mode"). Neither Go nor TamaGo uses GS on amd64 (TLS is FS), so
// each CPU's GS base points at its own cell of gsCells, which holds its
// local APIC ID: one GS-relative load names the executing CPU.
const msrGSBase = 0xc0000101

// gsCells are the cells the CPUs' GS bases point at, one per xAPIC ID,
// each holding its ID; a global, so that the addresses never move.
var gsCells [256]uint64

// gsIsAPICID is set to 1 (atomic.StoreUint32) once every CPU's GS base
// points at its cell (setupCPUID, publishCPUID); localAPICID reads it.
var gsIsAPICID uint32

// apicID returns the executing CPU's local APIC ID: through GS once
// publishCPUID has run, otherwise from its memory-mapped LAPIC_ID register
// (each CPU sees its own local APIC there). Every Raise and Lower needs
// it. Under QEMU's TCG the MMIO read goes through the device model, and
// RDTSCP, used before, reads the TSC under a spin lock that all vCPUs
// share (cpu_get_ticks), which with more vCPUs than host cores made them
// wait for each other; the GS load is a plain memory read. One call, so
// that this inlines into Raise and Lower.
func apicID() uint8 {
	return localAPICID()
}

// checkProcs checks that the Go runtime runs on the n registered CPUs, so
// that OnEachCPU can find each of them.
//
// Context: PASSIVE, from Init; does not block.
func checkProcs(n int) error {
	if p := runtime.GOMAXPROCS(0); p != n {
		return errors.New("kernel: Init: " + strconv.Itoa(n) + " CPUs registered, but the Go runtime runs on " + strconv.Itoa(p))
	}
	return nil
}

// setupCPUID points the executing CPU's GS base at the cell holding its
// local APIC ID; apicID reads it from there once publishCPUID has run.
//
// Context: DISPATCH, pinned, from Init through OnEachCPU; does not block.
func setupCPUID() {
	id := localAPICID()
	gsCells[id] = uint64(id)
	msr.Write(msrGSBase, uint64(uintptr(unsafe.Pointer(&gsCells[id]))))
}

// publishCPUID has apicID read the GS cells that setupCPUID set up on
// every CPU.
//
// Context: PASSIVE, from Init after OnEachCPU(setupCPUID); does not block.
func publishCPUID() {
	atomic.StoreUint32(&gsIsAPICID, 1)
}

// eoi signals the end of the highest-priority interrupt in service at the
// executing CPU's local APIC (SDM Vol 3A, APIC chapter, "End-of-Interrupt
// (EOI)"): one plain store, not an atomic one (board/mmio says why).
func eoi() {
	mmio.Write32(lapicBase+lapicEOIReg, 0)
}

// checkPinLayout checks, on the calling CPU, that pinSetCR8 and lowerCR8
// pin where runtime.procPin does: that the count mLocks reads is the one
// procPin raises and procUnpin lowers. The offsets in hw_amd64.s are
// TamaGo 1.26.0's (go.mod); another toolchain may move them.
//
// Context: PASSIVE, from Init; does not block.
func checkPinLayout() error {
	before := mLocks()
	procPin()
	pinned := mLocks()
	procUnpin()
	if after := mLocks(); pinned != before+1 || after != before {
		return errors.New("kernel: Init: runtime.procPin does not count where Raise and Lower pin (m.locks read " +
			strconv.Itoa(int(before)) + ", " + strconv.Itoa(int(pinned)) + " pinned, " + strconv.Itoa(int(after)) +
			" unpinned): the Go runtime's layout is not TamaGo 1.26.0's; see the offsets in kernel/hw_amd64.s")
	}
	return nil
}

// bootCPUs is the number of CPUs assumed before Init: TamaGo runs on the BSP
// alone until CPU.InitSMP.
func bootCPUs() int {
	return 1
}

// Store sets the word with a plain MOV (ownWord says why).
//
// Context: pinned on the word's CPU; does not block or allocate.
func (w *ownWord) Store(v uint32) { w.v = v }

// requestDispatch sends t's CPU DPCVector, after Queue pushed a DPC on its
// queue. A local APIC that does not take the IPI within lapic's 100 ms is
// broken: the DPC would never run, so it bugchecks, naming the error.
//
// Context: Queue's (any IRQL, any IF), pinned; does not block or allocate.
func requestDispatch(t *perCPU) {
	fn := dispatchIPI.Load()
	if fn == nil {
		Bugcheck("kernel: DPC queued for CPU " + strconv.Itoa(t.index) + " before SetDispatchIPI")
	}
	if err := (*fn)(t.apicRow()); err != nil {
		Bugcheck("kernel: DPC for CPU " + strconv.Itoa(t.index) + ": " + err.Error())
	}
}
