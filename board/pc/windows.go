//go:build tamago

package pc

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/ataport/firmware/board/pvh"
)

// A Window is a physical range the `mem` command may read.
type Window struct {
	Name       string
	Start, End uint64
}

func (w Window) String() string {
	return fmt.Sprintf("%s %#x-%#x", w.Name, w.Start, w.End)
}

// Windows lists the physical ranges that are safe to read: RAM from the
// boot memory map, the BIOS area, the ACPI tables, the local APIC and
// IOAPIC registers, and the memory BARs of PCI functions. Page zero is
// served from the copy cpuinit made (PhysMem).
func Windows() []Window {
	ws := []Window{{"page zero (copy made at entry)", 0, 0x1000}}
	for _, r := range MemoryMap() {
		if r.Type == pvh.TypeRAM || r.Type == pvh.TypeACPI {
			ws = append(ws, Window{pvh.TypeName(r.Type), max(r.Addr, 0x1000), r.End()})
		}
	}
	rs, re := runtime.MemRegion()
	ws = append(ws,
		Window{"Go runtime RAM", rs, re},
		Window{"DMA region", dmaStart, dmaStart + dmaSize},
		Window{"BIOS area", 0xe0000, 0x100000},
	)
	if tables != nil {
		for _, h := range tables.Tables {
			ws = append(ws, Window{"ACPI " + h.Signature, h.Address, h.Address + uint64(h.Length)})
		}
		if m := tables.MADT; m != nil {
			ws = append(ws, Window{"local APIC", m.LocalAPICAddress, m.LocalAPICAddress + 0x1000})
			for _, io := range m.IOAPICs() {
				ws = append(ws, Window{fmt.Sprintf("IOAPIC %d", io.ID), uint64(io.Address), uint64(io.Address) + 0x20})
			}
		}
	}
	for _, f := range functions {
		for _, b := range f.BARs {
			if !b.IO && b.Size > 0 && b.Addr != 0 {
				ws = append(ws, Window{fmt.Sprintf("PCI %02x:%02x.%d BAR%d", f.Bus, f.Dev, f.Fn, b.Index), b.Addr, b.Addr + b.Size})
			}
		}
	}
	return ws
}

// FindWindow returns the window holding [addr, addr+n), or an error saying
// that the range is outside RAM and the known device windows.
func FindWindow(addr, n uint64) (Window, error) {
	for _, w := range Windows() {
		if addr >= w.Start && addr+n <= w.End && addr+n > addr {
			return w, nil
		}
	}
	return Window{}, fmt.Errorf("%#x-%#x is outside RAM and the known device windows", addr, addr+n)
}

// hostBridges names machines by their PCI host bridge (00:00.0).
var hostBridges = map[[2]uint16]string{
	{0x8086, 0x1237}: "i440FX + PIIX3",
	{0x8086, 0x29c0}: "Q35 + ICH9",
}

// BoardName says which machine the firmware believes it runs on: QEMU when
// the ACPI tables come from QEMU's firmware (OEM "BOCHS"), and the chipset
// from the PCI host bridge.
func BoardName() string {
	chipset := "unknown chipset"
	for _, f := range functions {
		if f.Bus == 0 && f.Dev == 0 && f.Fn == 0 {
			chipset = fmt.Sprintf("host bridge %04x:%04x", f.Vendor, f.Device)
			if name, ok := hostBridges[[2]uint16{f.Vendor, f.Device}]; ok {
				chipset = name
			}
		}
	}
	vendor := "PC"
	if tables != nil && strings.HasPrefix(tables.RSDP.OEMID, "BOCHS") {
		vendor = "QEMU"
		if strings.HasPrefix(chipset, "i440FX") {
			vendor = "QEMU pc"
		} else if strings.HasPrefix(chipset, "Q35") {
			vendor = "QEMU q35"
		}
	}
	return vendor + " (" + chipset + ")"
}
