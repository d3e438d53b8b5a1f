// Package mmio reads and writes 32-bit memory-mapped device registers for
// the interrupt controller drivers of package irq.
//
// On TamaGo physical memory is identity-mapped, so a register is read and
// written through a pointer to its physical address, with atomic loads and
// stores so that each access is exactly one 32-bit bus cycle (SDM Vol 3A,
// APIC chapter 10/11, "Local APIC Register Address Map": registers are
// accessed with aligned 32-bit loads and stores; the 82093AA datasheet,
// 3.1 "Memory Mapped Registers for Accessing IOAPIC Registers", likewise).
// On the host the same functions reach fake devices attached by tests.
package mmio
