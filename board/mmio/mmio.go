//go:build tamago

// Package mmio reads and writes 32-bit memory-mapped device registers with
// one plain aligned MOV each, which Go cannot express: an ordinary
// pointer store may be merged with or dropped for a later one, and
// sync/atomic's StoreUint32 is an XCHG, a locked read-modify-write. A
// locked access to device memory is no register access a datasheet asks
// for (the local APIC and the 82093AA want aligned 32-bit loads and
// stores, SDM Vol 3A "Local APIC Register Address Map"; AHCI 1.3.1 §3),
// and under QEMU's multi-threaded TCG an atomic access to MMIO stops every
// vCPU while one executes it (accel/tcg cputlb.c, atomic_mmu_lookup:
// "stop_the_world"), so that each EOI, PxCI write or timer write cost all
// CPUs a rendezvous.
//
// Physical memory is identity-mapped (board/pc), so addr is the register's
// physical address.
//
// Reference: Intel 64 and IA-32 Architectures SDM, Vol. 2, "MOV"; Vol. 3A
// 8.2 "Memory Ordering" (stores are not reordered with other stores, and
// accesses to UC memory are made in program order).
package mmio

// defined in mmio_amd64.s

// Read32 returns the 32-bit register at addr (mov eax, [addr]).
//
// Context: any IRQL, any IF; does not block or allocate.
func Read32(addr uintptr) uint32

// Write32 writes v to the 32-bit register at addr (mov [addr], eax).
//
// Context: any IRQL, any IF; does not block or allocate.
func Write32(addr uintptr, v uint32)
