// Package kernel makes the Windows interrupt request level (IRQL) model true
// on amd64: IRQL is the local APIC task priority, held in CR8, so raising
// the IRQL masks exactly the interrupt vectors whose priority class is at or
// below it, on this CPU. On top of that it provides spin locks, interrupt
// spin locks, deferred procedure calls (DPCs), one-shot timers, busy waits
// and the checks that catch misuse by name.
//
// References:
//   - Intel 64 and IA-32 Architectures Software Developer's Manual (SDM),
//     Volume 3A (Order Number 253668), chapter "Advanced Programmable
//     Interrupt Controller (APIC)" (chapter 10 in older editions, 11 in
//     current ones): "Task and Processor Priorities" (10.8.3.1 / 11.8.3.1),
//     "Task Priority in IA-32e Mode" (10.8.6 / 11.8.6) and "Interaction of
//     Task Priorities between CR8 and APIC" (10.8.6.1 / 11.8.6.1), which
//     define CR8 as TPR[7:4].
//   - Intel 64 and IA-32 Architectures Software Developer's Manual, Volume
//     2, "CLI", "STI", "PUSHF/PUSHFD/PUSHFQ", "MOV: Move to/from Control
//     Registers", "RDTSC", "WRMSR", "SIDT" and "IRET/IRETD/IRETQ";
//     Volume 3A 6.14 "Exception and Interrupt Handling in 64-bit Mode".
//   - The Windows ATA port execution model as this project keeps it:
//     docs/DESIGN.md (KeRaiseIrql, KeLowerIrql, KeAcquireSpinLock,
//     KeAcquireInterruptSpinLock, KeInsertQueueDpc, KeSetTimer,
//     KeStallExecutionProcessor).
//
// # Levels
//
// PASSIVE runs unpinned Go code. Leaving PASSIVE pins the calling goroutine
// to its CPU (runtime.procPin, see PLATFORM.md "Go runtime on TamaGo"),
// because CR8 is per-CPU state: a pinned goroutine is neither preempted nor
// moved, so no other goroutine runs on that CPU until the level returns to
// PASSIVE. HIGH also clears RFLAGS.IF. DPCs queued on a CPU run when that
// CPU's level drops below DISPATCH, at DISPATCH with IF=1.
//
// # Interrupts
//
// The kernel owns the interrupt entry (entry_amd64.s, intr.go): every
// vector a local APIC delivers is recorded per CPU and per vector and left
// pending; its ISR runs at that CPU's next safe point where the vector's
// class is above the level (Raise, Lower, spins, Stall, the idle hook),
// and the EOI follows it, highest vector first (docs/DESIGN.md "From the
// IDT to the ISR").
//
// At DISPATCH and above code must not block, sleep, take a sync.Mutex,
// allocate or call runtime.Gosched; the functions of this package that may
// be called there state so in their Context paragraph and do none of these.
//
// Hardware access (CR8, RFLAGS, CLI/STI, the local APIC ID and EOI, the
// TSC, CPUID, MSRs, the IDT) sits behind the small functions of
// hw_tamago.go and entry_tamago.go; hw_host.go replaces them on the host with
// a fake in which each Go scheduler P is a simulated CPU with its own CR8
// and IF, so the logic is tested with `go test` on real goroutines.
package kernel

// IRQL is an interrupt request level, equal to the value of CR8 (the local
// APIC task-priority class, TPR[7:4]) on the CPU running at it.
type IRQL uint8

// Interrupt request levels (docs/DESIGN.md "IRQL is the local APIC task
// priority").
const (
	PASSIVE  IRQL = 0  // nothing masked; the goroutine is not pinned
	APC      IRQL = 1  // vectors 0x10-0x1f masked; pinned
	DISPATCH IRQL = 2  // vectors below 0x30 masked; pinned, DPC level
	DIRQLMin IRQL = 3  // lowest device level
	DIRQLMax IRQL = 12 // highest device level
	CLOCK    IRQL = 13 // all device interrupts masked
	IPI      IRQL = 14 // all device interrupts and class-13 vectors masked
	HIGH     IRQL = 15 // every maskable vector masked and RFLAGS.IF cleared
)

var levelNames = [16]string{
	"PASSIVE", "APC", "DISPATCH",
	"DIRQL3", "DIRQL4", "DIRQL5", "DIRQL6", "DIRQL7",
	"DIRQL8", "DIRQL9", "DIRQL10", "DIRQL11", "DIRQL12",
	"CLOCK", "IPI", "HIGH",
}

// String returns the level's name: "PASSIVE", "APC", "DISPATCH", "DIRQL3"
// to "DIRQL12", "CLOCK", "IPI" or "HIGH"; "IRQL?" for a value above 15.
//
// Context: any IRQL; does not allocate.
func (l IRQL) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "IRQL?"
}

// TPR returns the local APIC Task Priority Register value equivalent to
// running at l: the priority class in TPR[7:4] and sub-class 0 (SDM Vol 3A
// "Interaction of Task Priorities between CR8 and APIC": CR8 is TPR[7:4]).
//
// Context: any IRQL; does not allocate.
func (l IRQL) TPR() uint8 {
	return uint8(l) << 4
}

// DIRQL reports whether l is a device interrupt level (DIRQLMin..DIRQLMax).
//
// Context: any IRQL; does not allocate.
func (l IRQL) DIRQL() bool {
	return l >= DIRQLMin && l <= DIRQLMax
}
