//go:build tamago

package pc

import "strings"

// cpuid executes CPUID with EAX=leaf, ECX=sub (TamaGo's CPU.CPUID).
func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32) {
	return AMD64.CPUID(leaf, sub)
}

func regString(regs ...uint32) string {
	b := make([]byte, 0, 4*len(regs))
	for _, r := range regs {
		b = append(b, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
	}
	return strings.TrimSpace(strings.TrimRight(string(b), "\x00"))
}

// CPUVendor returns the CPUID vendor string (leaf 0).
func CPUVendor() string {
	_, b, c, d := cpuid(0, 0)
	return regString(b, d, c)
}

// CPUModel returns the processor brand string (leaves 0x80000002-4), with
// family, model and stepping from leaf 1.
func CPUModel() (brand string, family, model, stepping uint32) {
	if max, _, _, _ := cpuid(0x80000000, 0); max >= 0x80000004 {
		var regs []uint32
		for leaf := uint32(0x80000002); leaf <= 0x80000004; leaf++ {
			a, b, c, d := cpuid(leaf, 0)
			regs = append(regs, a, b, c, d)
		}
		brand = regString(regs...)
	}
	a, _, _, _ := cpuid(1, 0)
	family = a >> 8 & 0xf
	model = a >> 4 & 0xf
	if family == 0xf || family == 0x6 {
		model |= a >> 16 & 0xf << 4
	}
	if family == 0xf {
		family += a >> 20 & 0xff
	}
	return brand, family, model, a & 0xf
}
