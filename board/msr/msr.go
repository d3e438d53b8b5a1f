//go:build tamago

// Package msr gives Go code the x86 model-specific register instructions
// (RDMSR, WRMSR), which Go cannot express. Both act on the executing CPU's
// registers, so a caller that means one CPU must be pinned to it.
//
// Reference: Intel 64 and IA-32 Architectures SDM, Vol. 2, "RDMSR" and
// "WRMSR"; the registers are in Vol. 4.
package msr

// defined in msr_amd64.s

// Read returns model-specific register reg of the executing CPU (rdmsr).
func Read(reg uint32) uint64

// Write sets model-specific register reg of the executing CPU to v (wrmsr).
func Write(reg uint32, v uint64)
