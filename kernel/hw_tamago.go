//go:build tamago

package kernel

import (
	"sync/atomic"
	"unsafe"

	"github.com/usbarmory/tamago/amd64"
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

// setCR8 sets CR8 and returns the executing CPU's local APIC ID as
// localAPICID does, in one call: Raise and Lower need both, and under
// QEMU's TCG a call costs more than the instructions.
func setCR8(v uint64) (apic uint8)

// readFlags returns RFLAGS (pushfq; pop rax).
func readFlags() uint64

// readTSC returns the time-stamp counter (rdtsc).
func readTSC() uint64

// localAPICID returns IA32_TSC_AUX (rdtscp) once tscAuxIsAPICID is set,
// before that LAPIC_ID bits 31:24 read at lapicBase+lapicIDReg (xAPIC IDs are 8 bits;
// setupCPUID writes no more into IA32_TSC_AUX).
func localAPICID() uint8

// wrmsr writes v to model-specific register msr (wrmsr).
func wrmsr(msr uint32, v uint64)

// cli clears RFLAGS.IF (cli).
func cli()

// sti sets RFLAGS.IF (sti).
func sti()

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// IA32_TSC_AUX (SDM Vol 4, MSR index C000_0103H), which RDTSCP returns in
// ECX, and the CPUID bit that says RDTSCP exists (CPUID.80000001H:EDX[27],
// SDM Vol 2 "RDTSCP").
const (
	msrTSCAux      = 0xc0000103
	cpuidExtended  = 0x80000001
	cpuidRDTSCPBit = 27
)

// tscAuxIsAPICID is set to 1 (atomic.StoreUint32) once every CPU's
// IA32_TSC_AUX holds its local APIC ID (setupCPUID); localAPICID reads it.
var tscAuxIsAPICID uint32

// apicID returns the executing CPU's local APIC ID: through RDTSCP once
// setupCPUID has run, otherwise from its memory-mapped LAPIC_ID register
// (each CPU sees its own local APIC there). RDTSCP costs a fraction of the
// MMIO read, which every Raise and Lower makes (under QEMU's TCG an APIC
// register access goes through the device model). One call, so that this
// inlines into Raise and Lower.
func apicID() uint8 {
	return localAPICID()
}

// setupCPUID writes each CPU's local APIC ID into its IA32_TSC_AUX when
// the CPU has RDTSCP; apicID then reads it from there.
//
// Context: PASSIVE, from Init once the CPUs are registered; blocks.
func setupCPUID() {
	if _, _, _, edx := new(amd64.CPU).CPUID(cpuidExtended, 0); edx>>cpuidRDTSCPBit&1 == 0 {
		return
	}
	for cpu := 0; cpu < NumCPU(); cpu++ {
		RunOnCPU(cpu, func() { wrmsr(msrTSCAux, uint64(localAPICID())) })
	}
	atomic.StoreUint32(&tscAuxIsAPICID, 1)
}

// eoi signals the end of the highest-priority interrupt in service at the
// executing CPU's local APIC (SDM Vol 3A, APIC chapter, "End-of-Interrupt
// (EOI)").
func eoi() {
	atomic.StoreUint32(lapicEOIPtr, 0)
}

// lapicEOIPtr points at the identity-mapped local APIC register.
// The addresses are converted through memory rather than with
// unsafe.Pointer(uintptr), which vet rightly rejects for Go heap addresses;
// these are device memory.
var (
	lapicEOIPtr = lapicReg(lapicEOIReg)
)

func lapicReg(off uintptr) *uint32 {
	a := uintptr(lapicBase) + off
	return *(**uint32)(unsafe.Pointer(&a))
}

// bootCPUs is the number of CPUs assumed before Init: TamaGo runs on the BSP
// alone until CPU.InitSMP.
func bootCPUs() int {
	return 1
}
