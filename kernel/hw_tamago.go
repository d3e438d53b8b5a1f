//go:build tamago

package kernel

import (
	"sync/atomic"
	"unsafe"
)

// Local APIC register used to identify the executing CPU (SDM Vol 3A, APIC
// chapter 10/11, "Local APIC ID Register"; default base "Local APIC Status
// and Location", 0xFEE00000, which TamaGo also uses).
const (
	lapicBase    = 0xfee00000
	lapicIDReg   = 0x20 // LAPIC_ID, Local APIC ID Register
	lapicIDShift = 24   // APIC ID, bits 31:24 (xAPIC)
)

// defined in hw_amd64.s

// readCR8 returns CR8 (mov rax, cr8).
func readCR8() uint64

// writeCR8 sets CR8 (mov cr8, rax).
func writeCR8(v uint64)

// readFlags returns RFLAGS (pushfq; pop rax).
func readFlags() uint64

// cli clears RFLAGS.IF (cli).
func cli()

// sti sets RFLAGS.IF (sti).
func sti()

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// apicID returns the executing CPU's local APIC ID, read from its memory
// mapped LAPIC_ID register (each CPU sees its own local APIC there).
func apicID() uint32 {
	return atomic.LoadUint32(lapicIDPtr) >> lapicIDShift
}

// lapicIDPtr points at the identity-mapped LAPIC_ID register. The address is
// converted through memory rather than with unsafe.Pointer(uintptr), which
// vet rightly rejects for Go heap addresses; this one is device memory.
var lapicIDPtr = func() *uint32 {
	a := uintptr(lapicBase + lapicIDReg)
	return *(**uint32)(unsafe.Pointer(&a))
}()

// bootCPUs is the number of CPUs assumed before Init: TamaGo runs on the BSP
// alone until CPU.InitSMP.
func bootCPUs() int {
	return 1
}
