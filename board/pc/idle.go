//go:build tamago

package pc

import "runtime/goos"

// StartIdle installs the runtime's idle hook (goos.Idle): an idle CPU
// returns to the scheduler at once instead of halting. TamaGo wakes a
// halted CPU only through an interrupt, and halting on a local APIC
// one-shot timer left runtime timers (the ATA port's request timeouts)
// unserviced for tens of seconds under load, with both CPUs halted; until
// that is understood the CPUs poll.
//
// Context: PASSIVE, after the IDT entries of vectors 32-255 are installed.
func StartIdle() {
	goos.Idle = func(int64) {}
}
