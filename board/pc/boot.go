//go:build tamago

package pc

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/usbarmory/tamago/amd64"
	"github.com/usbarmory/tamago/soc/intel/rtc"

	"github.com/ataport/firmware/board/acpi"
	"github.com/ataport/firmware/board/pci"
	"github.com/ataport/firmware/board/pvh"
)

// Addresses where cpuinit saved boot values (cpuinit_amd64.s).
const (
	entryTSCSave  = 0x8fe8
	startInfoSave = 0x8ff0
)

var (
	startInfo *pvh.StartInfo
	tables    *acpi.Tables
	functions []*pci.Function
	warnings  []string
	entryTSC  uint64
)

func warnf(format string, a ...any) {
	warnings = append(warnings, fmt.Sprintf(format, a...))
}

// fatalf prints "boot: " and the message on the console, one line, and
// stops the CPU for good: a machine the firmware cannot run on (no ACPI
// tables, no PM timer) is a fact for the user, not a panic's stack, and a
// reset would only boot into the same line again. It runs before the APs
// are started.
func fatalf(format string, a ...any) {
	print("boot: " + fmt.Sprintf(format, a...) + "\n")
	stop()
}

// stop disables interrupts and halts this CPU for good (idle_amd64.s).
func stop()

// Warnings returns what the board found but cannot use, one line each.
func Warnings() []string { return warnings }

// ACPI returns the tables found at boot.
func ACPI() *acpi.Tables { return tables }

// PCIFunctions returns the PCI functions enumerated at boot.
func PCIFunctions() []*pci.Function { return functions }

// MemoryMap returns the physical memory map the boot loader passed (PVH
// start_info), empty when it passed none.
func MemoryMap() []pvh.Region {
	if startInfo == nil {
		return nil
	}
	return startInfo.Memory
}

// Loader names the boot loader that started the firmware, as the PVH
// start_info's command line says (pvh.StartInfo.Loader).
func Loader() string {
	if startInfo == nil {
		return "unknown (no PVH start_info)"
	}
	return startInfo.Loader()
}

// DMARegion returns the physical range reserved for driver DMA buffers.
func DMARegion() (start, end uint64) { return dmaStart, dmaStart + dmaSize }

// NumCPU returns the number of CPUs the runtime uses.
func NumCPU() int { return AMD64.NumCPU() }

// Uptime returns the time since CPU reset, from the TSC.
func Uptime() time.Duration {
	return time.Duration(float64(AMD64.Counter()) * AMD64.TimerMultiplier)
}

// SinceEntry returns the time since the firmware's first instruction.
func SinceEntry() time.Duration {
	return time.Duration(float64(AMD64.Counter()-entryTSC) * AMD64.TimerMultiplier)
}

// discover reads what the boot loader and the BIOS left: the PVH start_info,
// the ACPI tables, and calibrates the TSC against the ACPI PM timer. It runs
// first in the board's package init, before SMP start-up needs time.
func discover() {
	mem := PhysMem{}
	entryTSC = *(*uint64)(unsafe.Pointer(uintptr(entryTSCSave)))

	var err error
	rsdp := uint64(0)
	if addr := uint64(*(*uint32)(unsafe.Pointer(uintptr(startInfoSave)))); addr != 0 {
		if startInfo, err = pvh.Read(mem, addr); err != nil {
			warnf("%v", err)
		} else {
			rsdp = startInfo.RSDP
		}
	}
	if rsdp != 0 {
		tables, err = acpi.FromRSDP(mem, rsdp)
	} else {
		tables, err = acpi.Find(mem)
	}
	if err != nil {
		fatalf("%v: the firmware needs the ACPI tables (MADT, FADT)", err)
	}
	if tables.FADT == nil {
		fatalf("ACPI: no FADT: the PM timer and power control are unknown")
	}
	port, err := tables.FADT.PMTimerPort()
	if err != nil {
		fatalf("cannot calibrate the TSC: %v", err)
	}
	calibrateTSC(port, tables.FADT.PMTimerWidth())

	if t, err := (&rtc.RTC{}).Now(); err == nil {
		AMD64.SetTime(t.UnixNano())
	} else {
		warnf("RTC: %v; wall clock starts at the epoch", err)
	}
}

// smpCPUs returns how many CPUs TamaGo's InitSMP is to start. It sends
// INIT and SIPI to the APIC IDs 1 to N-1, N the logical processors of the
// boot CPU's package as CPUID reports them (amd64.NumCPU), whatever the
// MADT says; the firmware gives it only the enabled processors with APIC
// IDs 0 to k-1 (acpi.MADT.ConsecutiveCPUs), so that no IPI goes to an ID
// that is absent or not enabled (QEMU's `-smp 2,maxcpus=4` lists four, two
// enabled: starting four waited for two that never came, and the boot
// hung), and at most maxCPUs. A warning names the enabled CPUs left
// unused.
func smpCPUs() int {
	if tables.MADT == nil {
		return -1
	}
	n := max(1, min(amd64.NumCPU(), tables.MADT.ConsecutiveCPUs()))
	if all := tables.MADT.EnabledCPUs(); n < all {
		warnf("%d of the MADT's %d enabled CPUs in use: TamaGo starts the APs by APIC ID from 1 up, within the boot CPU's package (CPUID), and the firmware only IDs the MADT enables without a gap from 0",
			n, all)
	}
	if n > maxCPUs {
		warnf("%d of %d CPUs in use: each takes an %d MiB stack of the Go runtime's %d MiB", maxCPUs, n, mStack>>20, runtimeRAM>>20)
		n = maxCPUs
	}
	return n
}

// TamaGo gives each CPU's M (its scheduler thread) a stack of mStack from
// the runtime's memory and never frees it (runtime.newosproc): 64 CPUs
// took all of it, and the runtime stopped ("failed to allocate stack for
// the new OS thread"). maxCPUs leaves the heap half.
const (
	mStack  = 8 << 20
	maxCPUs = runtimeRAM / 2 / mStack
)

// APICIDs returns the local APIC IDs of the CPUs in use, BSP first: TamaGo's
// AP i has APIC ID i (smpCPUs).
func APICIDs() []uint32 {
	ids := []uint32{uint32(AMD64.LAPIC.ID())}
	for i := 1; i < NumCPU(); i++ {
		ids = append(ids, uint32(i))
	}
	return ids
}

// IOAPIC is one IOAPIC from the MADT.
type IOAPIC struct {
	ID            uint8
	Base, GSIBase uint32
}

// IOAPICs returns the MADT's IOAPICs and the local APIC base address.
func IOAPICs() (ioapics []IOAPIC, lapicBase uint32) {
	if tables.MADT == nil {
		return nil, uint32(amd64.LAPIC_BASE)
	}
	for _, io := range tables.MADT.IOAPICs() {
		ioapics = append(ioapics, IOAPIC{io.ID, io.Address, io.GSIBase})
	}
	return ioapics, uint32(tables.MADT.LocalAPICAddress)
}

// ISAInterrupt resolves ISA IRQ irq to its GSI, trigger mode and polarity
// through the MADT's interrupt source overrides (identity, edge, active
// high when there is none).
func ISAInterrupt(irq uint8) (acpi.ISAInterrupt, error) {
	if tables.MADT == nil {
		return acpi.ISAInterrupt{IRQ: irq, GSI: uint32(irq)}, nil
	}
	return tables.MADT.ISAInterrupt(irq)
}
