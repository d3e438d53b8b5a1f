// Package mmio reads and writes 32-bit memory-mapped device registers for
// the interrupt controller drivers of package irq.
//
// On TamaGo physical memory is identity-mapped, so a register is read and
// written at its physical address by board/mmio, one plain aligned 32-bit
// load or store per access (SDM Vol 3A,
// APIC chapter 10/11, "Local APIC Register Address Map": registers are
// accessed with aligned 32-bit loads and stores; the 82093AA datasheet,
// 3.1 "Memory Mapped Registers for Accessing IOAPIC Registers", likewise).
// On the host the same functions reach fake devices attached by tests.
package mmio
