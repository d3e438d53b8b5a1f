// Package pci enumerates PCI functions and sizes their base address
// registers through configuration space, as pure logic behind Config so it
// runs on the host in tests; the board implements Config with configuration
// mechanism #1 (ports 0xCF8/0xCFC).
//
// It implements:
//   - PCI Local Bus Specification, Revision 3.0 (February 2004): §6.1 and
//     §6.2 (type 00h configuration header, command and status registers,
//     base address registers and their sizing), §3.2.2.3.2 (mechanism #1:
//     configuration space is addressed by bus, device, function and dword),
//     Appendix D (class codes)
//   - PCI-to-PCI Bridge Architecture Specification, Revision 1.2 (June
//     2003): §3.2 (type 01h header: bus numbers, two BARs)
package pci

import (
	"fmt"
	"strings"
)

// Config reads and writes the configuration space of bus/dev/fn, 32 bits at
// a time at a dword-aligned offset, as mechanism #1 does (§3.2.2.3.2).
// Reading an absent function returns all ones.
type Config interface {
	Read32(bus, dev, fn uint8, off uint8) uint32
	Write32(bus, dev, fn uint8, off uint8, v uint32)
}

// Configuration header registers common to all header types (§6.1).
const (
	VENDOR_ID      = 0x00
	DEVICE_ID      = 0x02
	COMMAND        = 0x04
	STATUS         = 0x06
	REVISION_ID    = 0x08
	CLASS_CODE     = 0x09 // programming interface; sub-class at 0x0a, base class at 0x0b
	HEADER_TYPE    = 0x0e
	BIST           = 0x0f
	BAR0           = 0x10
	INTERRUPT_LINE = 0x3c
	INTERRUPT_PIN  = 0x3d

	// InvalidVendor is what VENDOR_ID reads where no function answers
	// (§6.2.1).
	InvalidVendor = 0xffff
)

// Command register bits (§6.2.2).
const (
	CMD_IO_SPACE     = 0
	CMD_MEMORY_SPACE = 1
	CMD_BUS_MASTER   = 2
)

// Header type register (§6.2.1): the layout in bits 6:0, and bit 7 set on
// function 0 of a multi-function device.
const (
	HEADER_TYPE_MULTI_FUNCTION = 7
	HEADER_TYPE_LAYOUT         = 0x7f
	HEADER_TYPE_NORMAL         = 0x00
	HEADER_TYPE_BRIDGE         = 0x01 // PCI-to-PCI bridge, bridge spec §3.2
	HEADER_TYPE_CARDBUS        = 0x02
)

// Type 01h header registers (PCI-to-PCI bridge spec §3.2).
const (
	PRIMARY_BUS      = 0x18
	SECONDARY_BUS    = 0x19
	SUBORDINATE_BUS  = 0x1a
	SECONDARY_STATUS = 0x1e
)

// Geometry of a bus (§3.2.2.3.2: 5 device bits, 3 function bits).
const (
	MaxDevice   = 32
	MaxFunction = 8
)

// Function is one PCI function as enumeration found it.
type Function struct {
	Bus, Dev, Fn     uint8
	Vendor, Device   uint16
	Class, Subclass  uint8
	ProgIF, Revision uint8
	// HeaderType is the layout (bits 6:0); MultiFunction is bit 7.
	HeaderType    uint8
	MultiFunction bool
	IRQLine       uint8
	IRQPin        uint8 // 0: none, 1-4: INTA#-INTD#
	// BARs are the implemented base address registers in index order.
	BARs []BAR
	// SecondaryBus and SubordinateBus are set for PCI-to-PCI bridges.
	SecondaryBus, SubordinateBus uint8
	// Problems lists what enumeration could not make sense of, one line
	// each (a 64-bit BAR in the last slot, a bridge loop, ...).
	Problems []string
}

// Enumerate scans bus 0 and, through PCI-to-PCI bridges, the secondary
// buses firmware numbered, device by device: function 0, and functions 1-7
// when function 0 is multi-function (§6.2.1). Functions whose VENDOR_ID reads
// InvalidVendor are absent. Each function's BARs are sized (see BARs).
//
// Context: PASSIVE, before any driver uses the devices: sizing turns each
// function's decode off for a moment. May allocate.
func Enumerate(c Config) []*Function {
	var fns []*Function
	queued := map[uint8]bool{0: true}
	for queue := []uint8{0}; len(queue) > 0; queue = queue[1:] {
		bus := queue[0]
		for dev := uint8(0); dev < MaxDevice; dev++ {
			for fn := uint8(0); fn < MaxFunction; fn++ {
				f := readFunction(c, bus, dev, fn)
				if f == nil {
					if fn == 0 {
						break
					}
					continue
				}
				fns = append(fns, f)
				if f.HeaderType == HEADER_TYPE_BRIDGE {
					switch sec := f.SecondaryBus; {
					case sec == 0:
						f.problem("secondary bus number not assigned")
					case queued[sec]:
						f.problem("secondary bus %d already scanned", sec)
					default:
						queued[sec] = true
						queue = append(queue, sec)
					}
				}
				if fn == 0 && !f.MultiFunction {
					break
				}
			}
		}
	}
	return fns
}

// readFunction reads the header of bus/dev/fn, or returns nil when no
// function answers.
func readFunction(c Config, bus, dev, fn uint8) *Function {
	id := c.Read32(bus, dev, fn, VENDOR_ID)
	if uint16(id) == InvalidVendor {
		return nil
	}
	f := &Function{Bus: bus, Dev: dev, Fn: fn, Vendor: uint16(id), Device: uint16(id >> 16)}
	f.Revision = f.Read8(c, REVISION_ID)
	f.ProgIF = f.Read8(c, CLASS_CODE)
	f.Subclass = f.Read8(c, CLASS_CODE+1)
	f.Class = f.Read8(c, CLASS_CODE+2)
	ht := f.Read8(c, HEADER_TYPE)
	f.HeaderType = ht & HEADER_TYPE_LAYOUT
	f.MultiFunction = ht&(1<<HEADER_TYPE_MULTI_FUNCTION) != 0
	f.IRQLine = f.Read8(c, INTERRUPT_LINE)
	f.IRQPin = f.Read8(c, INTERRUPT_PIN)

	n := 0
	switch f.HeaderType {
	case HEADER_TYPE_NORMAL:
		n = 6
	case HEADER_TYPE_BRIDGE:
		n = 2
		f.SecondaryBus = f.Read8(c, SECONDARY_BUS)
		f.SubordinateBus = f.Read8(c, SUBORDINATE_BUS)
	case HEADER_TYPE_CARDBUS:
		n = 1 // CardBus socket/ExCa base address
	default:
		f.problem("unknown header type %#02x", f.HeaderType)
	}
	f.sizeBARs(c, n)
	return f
}

func (f *Function) problem(format string, args ...any) {
	f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
}

// FindClass returns the functions of fns with the given base class and
// sub-class.
func FindClass(fns []*Function, class, sub uint8) []*Function {
	var l []*Function
	for _, f := range fns {
		if f.Class == class && f.Subclass == sub {
			l = append(l, f)
		}
	}
	return l
}

// BAR returns the implemented BAR with index i.
func (f *Function) BAR(i int) (BAR, bool) {
	for _, b := range f.BARs {
		if b.Index == i {
			return b, true
		}
	}
	return BAR{}, false
}

// ClassName names the function's class.
func (f *Function) ClassName() string {
	return ClassName(f.Class, f.Subclass, f.ProgIF)
}

// String gives one line: "00:01.1 8086:7010 class 01/01/80 IDE controller",
// the interrupt pin and line when there is a pin, the BARs, and any problems.
func (f *Function) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%02x:%02x.%d %04x:%04x class %02x/%02x/%02x %s",
		f.Bus, f.Dev, f.Fn, f.Vendor, f.Device, f.Class, f.Subclass, f.ProgIF, f.ClassName())
	if f.HeaderType == HEADER_TYPE_BRIDGE {
		fmt.Fprintf(&s, " bus %d-%d", f.SecondaryBus, f.SubordinateBus)
	}
	if f.IRQPin >= 1 && f.IRQPin <= 4 {
		fmt.Fprintf(&s, " INT%c irq %d", 'A'+f.IRQPin-1, f.IRQLine)
	}
	for _, b := range f.BARs {
		s.WriteString(" " + b.String())
	}
	for _, p := range f.Problems {
		s.WriteString("; " + p)
	}
	return s.String()
}

// Sub-dword access. Mechanism #1 addresses dwords (§3.2.2.3.2), so these
// read the enclosing dword, and the writes read, merge and write it back.
// An offset's low bits below the access size are ignored, as the hardware
// ignores CONFIG_ADDRESS bits 1:0.

// Read32 reads the dword at off.
func (f *Function) Read32(c Config, off uint8) uint32 {
	return c.Read32(f.Bus, f.Dev, f.Fn, off&^3)
}

// Write32 writes the dword at off.
func (f *Function) Write32(c Config, off uint8, v uint32) {
	c.Write32(f.Bus, f.Dev, f.Fn, off&^3, v)
}

// Read16 reads the word at off.
func (f *Function) Read16(c Config, off uint8) uint16 {
	return uint16(f.Read32(c, off) >> (8 * (off & 2)))
}

// Read8 reads the byte at off.
func (f *Function) Read8(c Config, off uint8) uint8 {
	return uint8(f.Read32(c, off) >> (8 * (off & 3)))
}

// Write16 writes the word at off, keeping the rest of its dword.
func (f *Function) Write16(c Config, off uint8, v uint16) {
	f.merge(c, off&^1, 0xffff, uint32(v))
}

// Write8 writes the byte at off, keeping the rest of its dword.
func (f *Function) Write8(c Config, off uint8, v uint8) {
	f.merge(c, off, 0xff, uint32(v))
}

// merge writes v (of width mask) at off into the dword read back. Registers
// where writing back what was read has an effect get zeros instead: Status
// and Secondary Status bits are write-one-to-clear (§6.2.3, bridge spec
// §3.2), and a one in BIST starts a self test (§6.2.4).
func (f *Function) merge(c Config, off uint8, mask, v uint32) {
	aligned := off &^ 3
	shift := 8 * uint32(off&3)
	old := f.Read32(c, aligned)
	switch {
	case aligned == COMMAND:
		old &^= 0xffff << (8 * (STATUS & 3))
	case aligned == HEADER_TYPE&^3:
		old &^= 0xff << (8 * (BIST & 3))
	case aligned == SECONDARY_STATUS&^3 && f.HeaderType == HEADER_TYPE_BRIDGE:
		old &^= 0xffff << (8 * (SECONDARY_STATUS & 3))
	}
	f.Write32(c, aligned, old&^(mask<<shift)|(v&mask)<<shift)
}
