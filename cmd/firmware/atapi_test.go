//go:build !tamago

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/qemu"
)

// cdMachine is where a test's CD drive is: the machine, the ide-cd
// device's bus, the drive's shell name and its port's name.
type cdMachine struct{ machine, bus, dev, ch string }

// cdMachines are PIIX (pc, the drive on the secondary channel) and AHCI
// (q35, port 2).
var cdMachines = []cdMachine{
	{"pc", "ide.1,unit=0", "1:0", "ata1.0"},
	{"q35", "ide.2", "2:0", "ata2.0"},
}

// bootCD boots tc's machine with a QMP socket and a CD drive, QEMU id
// "cdrom0", holding file, or no disc when file is "".
func bootCD(t *testing.T, tc cdMachine, file string) *qemu.Machine {
	drive := "if=none,id=cd0,media=cdrom"
	if file != "" {
		drive += ",format=raw,file=" + file
	}
	return qemu.Boot(t, qemu.Options{
		Machine: tc.machine,
		QMP:     filepath.Join(t.TempDir(), "qmp.sock"),
		Args:    []string{"-drive", drive, "-device", "ide-cd,drive=cd0,id=cdrom0,bus=" + tc.bus},
	})
}

// TestATAPIMediumChange boots with an empty CD drive, then inserts, ejects
// and swaps discs through QEMU's monitor (QMP) as a user would, on PIIX
// (pc, the drive on the secondary channel) and on AHCI (q35, port 2). The
// drive reports each change as QEMU's ATAPI model does: NOT READY, MEDIUM
// NOT PRESENT once, then a UNIT ATTENTION that every command meets until
// REQUEST SENSE. Each command after a change sees the disc now in the
// drive: its SHA-256 equals the host's, a read past its end is refused
// with its capacity, and with no disc every read fails with one line that
// says so.
func TestATAPIMediumChange(t *testing.T) {
	for _, tc := range cdMachines {
		t.Run(tc.machine, func(t *testing.T) {
			t.Parallel()
			a := randomImage(t, "a.iso", 2048*2048, 51)
			b := randomImage(t, "b.iso", 1024*2048, 52)
			m := bootCD(t, tc, "")
			expectLine(t, m.Log(), fmt.Sprintf(`(?m)^%s: no medium\r?$`, regexp.QuoteMeta(tc.ch)))
			noMedium := fmt.Sprintf(`(?m)^error: %s: PACKET READ CAPACITY\(10\): no medium \(status 0x41 DRDY\|ERR, error 0x20 sense key 0x2 NOT READY; sense 2/3a/00 MEDIUM NOT PRESENT\)$`,
				regexp.QuoteMeta(tc.ch))
			expectLine(t, m.Run("ata sum "+tc.dev, 30*time.Second), noMedium)

			insert := func(file string) {
				m.QMP("blockdev-change-medium", map[string]any{"id": "cdrom0", "filename": file, "format": "raw"})
			}
			insert(a)
			expectLine(t, m.Run("ata", 30*time.Second), fmt.Sprintf(`(?m)^%s ATAPI "QEMU DVD-ROM" sectors 2048 \(4194304 bytes, 2048-byte sectors\)`, tc.dev))
			expectLine(t, m.Log(), fmt.Sprintf(`(?m)^%s: medium changed: 2048 sectors of 2048 bytes\r?$`, regexp.QuoteMeta(tc.ch)))
			if got, want := firmwareSum(t, m, tc.dev, time.Minute), sum(readFile(t, a)); got != want {
				t.Errorf("first disc: firmware SHA-256 %s, host %s", got, want)
			}

			m.QMP("eject", map[string]any{"id": "cdrom0", "force": true})
			expectLine(t, m.Run("ata", 30*time.Second), fmt.Sprintf(`(?m)^%s ATAPI "QEMU DVD-ROM" sectors 0 \(0 bytes, 2048-byte sectors\) .* no medium$`, tc.dev))
			expectLine(t, m.Run(fmt.Sprintf("ata read %s 0", tc.dev), 30*time.Second), noMedium)

			insert(b)
			if got, want := firmwareSum(t, m, tc.dev, time.Minute), sum(readFile(t, b)); got != want {
				t.Errorf("smaller disc: firmware SHA-256 %s, host %s", got, want)
			}
			expectLine(t, m.Run(fmt.Sprintf("ata read %s 2000", tc.dev), 30*time.Second),
				fmt.Sprintf(`(?m)^error: %s: LBA 2000 COUNT 1 is past the end of the device \(1024 sectors\)$`, regexp.QuoteMeta(tc.ch)))

			// Swapped back with no command between: the read in range of
			// both discs meets the change and goes on with the new one.
			insert(a)
			if got, want := firmwareSum(t, m, tc.dev, time.Minute), sum(readFile(t, a)); got != want {
				t.Errorf("first disc again: firmware SHA-256 %s, host %s", got, want)
			}
			m.Halt(10 * time.Second)
		})
	}
}

// TestATAPIStress runs `ata stress` on a CD drive, eight workers reading
// it, while the disc is swapped over QMP for one with the same first 2048
// sectors and one more (so that the console says each change), and back
// 5 s later. QEMU's drive, without autosense, fails the next command
// after a change with NOT READY, then the next with a UNIT ATTENTION that
// stays until REQUEST SENSE, and any other command replaces the sense
// data: had another worker's command reached the drive
// between a failed command and its REQUEST SENSE, that worker would have
// failed with "sense 0/00/00" (it did, before the port held the queue for
// the sense data). Every worker goes on after each change instead: 0
// errors, 0 corrupted sectors, on PIIX (pc) and AHCI (q35).
func TestATAPIStress(t *testing.T) {
	for _, tc := range cdMachines {
		t.Run(tc.machine, func(t *testing.T) {
			t.Parallel()
			a := randomImage(t, "a.iso", 2048*2048, 53)
			b := filepath.Join(t.TempDir(), "b.iso")
			if err := os.WriteFile(b, append(readFile(t, a), make([]byte, 2048)...), 0o644); err != nil {
				t.Fatal(err)
			}
			m := bootCD(t, tc, a)
			m.Send("ata stress " + tc.dev + " -time 12s -workers 8\r")
			m.Expect(fmt.Sprintf(`(?m)^stress: target 0 %s lba 0 count 2048 sector 2048 read-only\r?$`, tc.dev), 30*time.Second)
			// One change at a time: each worker meets a change's NOT READY
			// and UNIT ATTENTION at most once; the second change waits for
			// the progress line at 5 s.
			for i, disc := range []struct {
				file    string
				sectors int
			}{{b, 2049}, {a, 2048}} {
				if i > 0 {
					m.Expect(`(?m)^stress: 5s: `, 30*time.Second)
				}
				m.QMP("blockdev-change-medium", map[string]any{"id": "cdrom0", "filename": disc.file, "format": "raw"})
				m.Expect(fmt.Sprintf(`(?m)^%s: medium changed: %d sectors of 2048 bytes\r?$`, regexp.QuoteMeta(tc.ch), disc.sectors), 30*time.Second)
			}
			out := m.Expect(`(?m)^stress: \d+ ops \(\d+ reads, 0 writes, \d+ verifies\), \d+ MiB, \d+ errors, \d+ corrupted sectors in .*$`, time.Minute)
			m.Expect(regexp.QuoteMeta(qemu.Prompt), 30*time.Second)
			expectLine(t, out, `(?m)^stress: \d+ ops \(\d+ reads, 0 writes, \d+ verifies\), \d+ MiB, 0 errors, 0 corrupted sectors in `)
			if strings.Contains(out, "failed:") {
				t.Errorf("failed operations:\n%s", out)
			}
			m.Halt(10 * time.Second)
		})
	}
}
