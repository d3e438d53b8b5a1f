//go:build !tamago

package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/qemu"
)

// TestX2APICAtEntry boots the firmware on machines whose boot firmware left
// every local APIC in x2APIC mode, as many UEFI PCs with VT-d do: the
// firmware must switch them to xAPIC, the boot CPU's and those of the
// CPUs it starts (board/pc initLocalAPIC), and then keep the whole IRQL
// contract (irqtest) and move data on an AHCI disk. Until session 26 it
// did neither: QEMU reset the machine at the first write to the xAPIC's
// registers, TamaGo's IPI to start the first AP, before the banner.
//
// SeaBIOS turns x2APIC on in every CPU when the machine may hold more than
// 255 (maxcpus 256, with interrupt remapping's extended mode, which QEMU
// requires for APIC IDs above 254); OVMF when a CPU's APIC ID is 255 or
// more, here a third CPU at socket 1, core 127, which the firmware leaves
// unused (it starts APIC IDs from 0 without a gap). It needs a QEMU whose
// TCG emulates the x2APIC (qemu.X2APICEmulator).
func TestX2APICAtEntry(t *testing.T) {
	emu := qemu.X2APICEmulator(t)
	for _, tc := range []struct {
		name, smp string
		uefi      bool
		args      []string
		cpus      int
		summary   string
	}{
		{"seabios-smp1", "1,sockets=2,cores=128,maxcpus=256", false, nil, 1, "irqtest: 9/9 checks passed, 3 skipped"},
		{"seabios-smp4", "4,sockets=2,cores=128,maxcpus=256", false, nil, 4, "irqtest: 12/12 checks passed, 0 skipped"},
		{"ovmf-smp2", "2,sockets=2,cores=128,maxcpus=256", true,
			[]string{"-device", "max-x86_64-cpu,socket-id=1,core-id=127,thread-id=0"}, 2, "irqtest: 12/12 checks passed, 0 skipped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The data disk goes on AHCI port 1: under OVMF the boot
			// image is on port 0.
			opts := qemu.Options{Machine: "q35", SMP: tc.smp, Emulator: emu,
				Args: append(append([]string{"-device", "intel-iommu,intremap=on,eim=on"}, tc.args...),
					ahciDrive(randomImage(t, "data.img", 16<<20, 26), 1, false)...)}
			var m *qemu.Machine
			if tc.uefi {
				m = bootUEFI(t, opts)
			} else {
				m = qemu.Boot(t, opts)
			}
			info := m.Run("info", 10*time.Second)
			// Each CPU's IA32_APIC_BASE, read on it: xAPIC now, the boot
			// CPU's x2APIC (EN, EXTD, BSP) as the boot firmware left it.
			expectLine(t, info, fmt.Sprintf(`(?m)^apic:\s+xAPIC on all %d CPUs \(IA32_APIC_BASE read on each\); x2APIC at entry \(0xfee00d00\), switched by the firmware;`, tc.cpus))
			expectLine(t, info, fmt.Sprintf(`(?m)^cpus:\s+%d in use`, tc.cpus))
			out := m.Run("irqtest", 60*time.Second)
			if strings.Contains(out, "FAIL") || !strings.Contains(out, tc.summary) {
				t.Errorf("irqtest did not pass all checks, want %q:\n%s", tc.summary, out)
			}
			m.Run("ata rw on 1:0", 10*time.Second)
			stress := m.Run("ata stress 1:0 -time 3s -workers 4", 60*time.Second)
			expectLine(t, stress, `(?m)^stress: \d+ ops .* 0 errors, 0 corrupted sectors in `)
			if strings.Contains(stress, "stress: 0 ops") {
				t.Errorf("ata stress did nothing:\n%s", stress)
			}
		})
	}
}
