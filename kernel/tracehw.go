package kernel

import "github.com/ataport/firmware/kernel/trace"

// The recorder reads the TSC, the CPU index and CR8 at every event through
// the kernel, which owns these instructions (hw_tamago.go, and the host
// fake in hw_host.go).
func init() {
	trace.Setup(trace.Hardware{TSC: readTSC, CPU: CPU, CR8: readCR8})
}
