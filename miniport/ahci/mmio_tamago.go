//go:build tamago

package ahci

import "github.com/ataport/firmware/board/mmio"

// MMIO is Regs on the HBA's memory registers at ABAR, which the board
// identity-maps (board/pc: 0-4 GiB) uncached by the MTRRs the BIOS set for
// PCI memory. Each access is one aligned 32-bit load or store (board/mmio),
// as §3 requires.
type MMIO uintptr

// Read32 implements Regs.
//
// Context: any IRQL; does not block or allocate.
func (m MMIO) Read32(off uint32) uint32 { return mmio.Read32(uintptr(m) + uintptr(off)) }

// Write32 implements Regs.
//
// Context: any IRQL; does not block or allocate.
func (m MMIO) Write32(off uint32, v uint32) { mmio.Write32(uintptr(m)+uintptr(off), v) }
