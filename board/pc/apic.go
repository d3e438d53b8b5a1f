//go:build tamago

package pc

import (
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/usbarmory/tamago/amd64"

	"github.com/ataport/firmware/board/apicbase"
	"github.com/ataport/firmware/board/msr"
)

// MSRs and CPUID bits that tell whether x2APIC mode is locked (Intel SDM
// Vol. 4, "Model-Specific Registers"; Vol. 3A, "x2APIC Mode Locking" in
// editions since 2022), and the x2APIC's Interrupt Command Register (SDM
// Vol. 3A, "Interrupt Command Register (ICR)" in x2APIC mode: one 64-bit
// MSR, the destination in bits 63:32; a write sends).
const (
	IA32_ARCH_CAPABILITIES       = 0x10a
	IA32_XAPIC_DISABLE_STATUS    = 0xbd
	ARCH_CAP_XAPIC_DISABLE       = 1 << 21 // IA32_XAPIC_DISABLE_STATUS exists
	LEGACY_XAPIC_DISABLED        = 1 << 0
	CPUID7_EDX_ARCH_CAPABILITIES = 1 << 29

	X2APIC_ICR        = 0x830
	ICR_DLV_INIT      = 0b101 << 8
	ICR_DLV_SIPI      = 0b110 << 8
	ICR_LEVEL_ASSERT  = 1 << 14
	X2APIC_ICR_DEST   = 32
	sipiDelay         = 200 * time.Microsecond // between the two SIPIs (MP spec B.4)
	initDelay         = 10 * time.Millisecond  // INIT to SIPI
	trampolineTimeout = 100 * time.Millisecond
)

// trampolinePage is where the APs run apTrampoline: a page below 1 MiB
// (a SIPI's vector is the page number) that the loaders leave free
// (boot/layout.inc: stage 2, done by then) and TamaGo's AP start-up
// (0x4000-0x6fff) does not use.
const trampolinePage = 0x3000

// apTrampoline is real-mode code an AP runs on the firmware's INIT-SIPI
// while its local APIC is in x2APIC mode: it takes the APIC out of x2APIC
// mode (IA32_APIC_BASE: EN and EXTD cleared, then EN set; apicbase.ToXAPIC),
// counts itself in the dword at trampolineCount and halts with interrupts
// off until TamaGo's INIT, which keeps the xAPIC mode. Machine code, since
// Go assembles no 16-bit code; `objdump -D -b binary -m i8086` shows it.
var apTrampoline = [...]byte{
	0xfa,       // cli
	0x8c, 0xc8, // mov ax, cs
	0x8e, 0xd8, // mov ds, ax
	0x66, 0xb9, 0x1b, 0x00, 0x00, 0x00, // mov ecx, IA32_APIC_BASE
	0x0f, 0x32, // rdmsr
	0x66, 0x25, 0xff, 0xf3, 0xff, 0xff, // and eax, ~(EN|EXTD)
	0x0f, 0x30, // wrmsr
	0x66, 0x0d, 0x00, 0x08, 0x00, 0x00, // or eax, EN
	0x0f, 0x30, // wrmsr
	0xf0, 0x66, 0xff, 0x06, trampolineCount, 0x00, // lock inc dword [trampolineCount]
	0xf4,       // hlt
	0xeb, 0xfd, // jmp hlt
}

// trampolineCount is the offset of the APs' count in trampolinePage.
const trampolineCount = 0x28

// apicBaseAtEntry is the boot CPU's IA32_APIC_BASE as the boot firmware
// left it, read by initLocalAPIC before any change.
var apicBaseAtEntry uint64

// APICBaseAtEntry returns the boot CPU's IA32_APIC_BASE as the boot
// firmware left it (apicbase.ModeOf decodes it).
//
// Context: any; does not block or allocate.
func APICBaseAtEntry() uint64 { return apicBaseAtEntry }

// APICBase reads the executing CPU's IA32_APIC_BASE.
//
// Context: pinned on the CPU to read (RDMSR reads the executing CPU's);
// does not block or allocate.
func APICBase() uint64 { return msr.Read(apicbase.IA32_APIC_BASE) }

// initLocalAPIC puts the local APICs of the boot CPU and of the n-1 APs
// InitSMP is to start (APIC IDs 1 to n-1) in xAPIC mode at
// amd64.LAPIC_BASE, where TamaGo and the firmware drive them, before
// anything touches them, and returns how many CPUs to start (n, or 1; n
// is smpCPUs', -1 for all without a MADT). A boot
// firmware may have left them in x2APIC mode, where the memory-mapped
// registers are not decoded (QEMU resets the machine at the first write,
// TamaGo's IPI to start the APs), or disabled. INIT keeps an APIC's mode,
// so the APs leave x2APIC mode themselves, in apTrampoline, started by an
// INIT-SIPI-SIPI sent while the boot CPU is still in x2APIC mode (no IPI
// crosses modes); the boot CPU follows. An AP that does not report within
// trampolineTimeout leaves the firmware on the boot CPU alone. Leaving
// either mode resets an APIC's registers, which the firmware programs from
// scratch anyway (irq.Init sets the SVR, the idle governor the timer). It
// stops the boot with one line when the APIC is elsewhere or locked in
// x2APIC mode.
//
// Context: boot CPU, every interrupt source masked, before AMD64.InitSMP.
func initLocalAPIC(n int) int {
	v := msr.Read(apicbase.IA32_APIC_BASE)
	apicBaseAtEntry = v
	writes, was, err := apicbase.ToXAPIC(v, amd64.LAPIC_BASE, x2APICLocked())
	if err != nil {
		fatalf("local APIC: %v", err)
	}
	switch was {
	case apicbase.X2APIC:
		if n < 0 {
			warnf("the boot firmware left the local APICs in x2APIC mode and no MADT lists the other CPUs: the firmware runs on the boot CPU alone")
			n = 1
		}
		if n > 1 {
			if got := apsToXAPIC(n - 1); got < n-1 {
				warnf("the boot firmware left the local APICs in x2APIC mode; %d of the %d other CPUs switched to xAPIC within %v: the firmware runs on the boot CPU alone", got, n-1, trampolineTimeout)
				n = 1
			}
		}
	case apicbase.Disabled:
		warnf("the local APIC was disabled (IA32_APIC_BASE %#x): enabled in xAPIC mode", v)
	}
	for _, w := range writes {
		msr.Write(apicbase.IA32_APIC_BASE, w)
	}
	return n
}

// apsToXAPIC runs apTrampoline on the APs with APIC IDs 1 to aps, by
// INIT-SIPI-SIPI through the x2APIC's ICR (Intel MultiProcessor
// Specification B.4), and returns how many reported back.
func apsToXAPIC(aps int) int {
	copy(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(trampolinePage))), len(apTrampoline)), apTrampoline[:])
	count := (*uint32)(unsafe.Pointer(uintptr(trampolinePage + trampolineCount)))
	atomic.StoreUint32(count, 0)
	for id := uint64(1); id <= uint64(aps); id++ {
		msr.Write(X2APIC_ICR, id<<X2APIC_ICR_DEST|ICR_LEVEL_ASSERT|ICR_DLV_INIT)
		time.Sleep(initDelay)
		for range 2 {
			msr.Write(X2APIC_ICR, id<<X2APIC_ICR_DEST|ICR_DLV_SIPI|trampolinePage>>12)
			time.Sleep(sipiDelay)
		}
	}
	for start := time.Now(); atomic.LoadUint32(count) < uint32(aps) && time.Since(start) < trampolineTimeout; {
	}
	return int(atomic.LoadUint32(count))
}

// x2APICLocked reports whether this CPU forbids leaving x2APIC mode. Each
// MSR is read only where CPUID or the MSR before says it exists: reading
// one that does not faults.
func x2APICLocked() bool {
	if _, _, _, edx := cpuid(7, 0); edx&CPUID7_EDX_ARCH_CAPABILITIES == 0 {
		return false
	}
	if msr.Read(IA32_ARCH_CAPABILITIES)&ARCH_CAP_XAPIC_DISABLE == 0 {
		return false
	}
	return msr.Read(IA32_XAPIC_DISABLE_STATUS)&LEGACY_XAPIC_DISABLED != 0
}
