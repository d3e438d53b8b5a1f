//go:build !tamago

package main

// Tests of the boot image under UEFI without CSM (boot/README.md): OVMF,
// from Debian's ovmf package, starts \EFI\BOOT\BOOTX64.EFI from the image's
// EFI system partition, with no -kernel, on pc and on q35; the loader hands
// over to the firmware as the BIOS stage 2 does, and refuses a corrupted
// payload.

import (
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"

	"github.com/ataport/firmware/internal/qemu"
)

// The payload on the ESP (cmd/mkimage, PayloadDir and PayloadName).
const uefiPayload = "/EFI/ATAPORT/FIRMWARE.BIN"

// startUEFI starts QEMU with OVMF (fresh variables, so no boot entry but
// the removable-media path) on the disk image img, with no -kernel.
func startUEFI(t *testing.T, img string, opts qemu.Options) *qemu.Machine {
	t.Helper()
	vars, err := qemu.CopyOVMFVars(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts.OVMFVars = vars
	return startFromImage(t, img, opts)
}

// bootUEFI boots a copy of the boot image under OVMF and waits for the
// shell prompt; it logs how long each phase took: OVMF up to the loader's
// first line, the loader (reading the payload from the ESP, its CRC, the
// copy, up to its last line before ExitBootServices), and the firmware's
// own figure from its entry to the shell.
func bootUEFI(t *testing.T, opts qemu.Options) *qemu.Machine {
	t.Helper()
	m := startUEFI(t, writeTempImage(t, "firmware.img", readImage(t)), opts)
	// OVMF's serial terminal ends a line "\r\r\n".
	m.Expect(`boot: ataport UEFI loader\r*\n`, 120*time.Second)
	ovmf := time.Since(m.Started)
	m.Expect(`boot: loading firmware, \d+ KiB\r*\n`, 60*time.Second)
	m.Expect(`boot: starting firmware\r*\n`, 60*time.Second)
	loader := time.Since(m.Started) - ovmf
	out := m.Expect(`firmware entry to shell in (\S+); type help`, 60*time.Second)
	entry := regexp.MustCompile(`firmware entry to shell in (\S+);`).FindStringSubmatch(out)[1]
	m.Expect(regexp.QuoteMeta(qemu.Prompt), 10*time.Second)
	t.Logf("UEFI boot from disk (TCG): OVMF to loader %v, loader %v, firmware entry to shell %s, QEMU start to prompt %v",
		ovmf.Round(time.Millisecond), loader.Round(time.Millisecond), entry, time.Since(m.Started).Round(time.Millisecond))
	if strings.Contains(m.Log(), "warning: pvh") {
		t.Errorf("the firmware could not read the loader's start_info:\n%s", m.Log())
	}
	return m
}

// checkUEFIInfo checks info: the board, the UEFI loader, and the memory
// map converted from UEFI's (RAM below 640 KiB and from 1 MiB, the ACPI
// tables OVMF places in reclaimable memory).
func checkUEFIInfo(t *testing.T, m *qemu.Machine, board string) {
	t.Helper()
	info := m.Run("info", 10*time.Second)
	for _, re := range []string{
		`board:    ` + regexp.QuoteMeta(board),
		`loader:   ` + regexp.QuoteMeta(uefiLoader),
		`memmap:\s+0x000000000000-0x0000000a0000 RAM`,
		`memmap:\s+0x000000100000-0x[0-9a-f]+ RAM`,
		`memmap:\s+0x[0-9a-f]+-0x[0-9a-f]+ ACPI reclaimable`,
	} {
		if !regexp.MustCompile(re).MatchString(info) {
			t.Errorf("info does not match %q:\n%s", re, info)
		}
	}
}

// TestUEFIBoot boots `pc` through OVMF from the image as primary master
// and reads a data disk on the secondary channel through the PIIX3.
func TestUEFIBoot(t *testing.T) {
	data := randomImage(t, "data.img", 16<<20, 5)
	m := bootUEFI(t, qemu.Options{Drives: []qemu.Drive{{File: data, Bus: 1}}})
	checkUEFIInfo(t, m, "QEMU pc (i440FX + PIIX3)")
	checkBootDisk(t, m)
	if got, want := firmwareSum(t, m, "1:0", time.Minute), sum(readFile(t, data)); got != want {
		t.Errorf("data disk 1:0: firmware SHA-256 %s, host %s", got, want)
	}
	haltAndWait(t, m)
}

// TestUEFIBootQ35 boots q35 through OVMF from the image on the ICH9 AHCI
// controller. Until an AHCI miniport exists, `ata` names the controller as
// one no miniport drives; once one does, it lists the boot disk instead.
// Either passes.
func TestUEFIBootQ35(t *testing.T) {
	m := bootUEFI(t, qemu.Options{Machine: "q35"})
	checkUEFIInfo(t, m, "QEMU q35 (Q35 + ICH9)")
	out := m.Run("ata", 10*time.Second)
	named := regexp.MustCompile(`(?m)^00:1f\.2 8086:2922 .*AHCI.*: no miniport drives it yet$`)
	driven := regexp.MustCompile(fmt.Sprintf(`(?m)^\S+ ATA\s+"QEMU HARDDISK" sectors %d `, len(readImage(t))/sector))
	if !named.MatchString(out) && !driven.MatchString(out) {
		t.Errorf("ata neither names the AHCI controller 00:1f.2 nor lists the boot disk:\n%s", out)
	}
	haltAndWait(t, m)
}

// TestUEFICorruptPayload flips one byte in the middle of the first segment
// of the payload on the ESP (the BIOS loader's copy stays intact): the
// UEFI loader's CRC-32 check refuses it before it loads anything.
func TestUEFICorruptPayload(t *testing.T) {
	img := readImage(t)
	h := img[imageHeaderLBA*imageSector:]
	le := binary.LittleEndian
	off := int64(le.Uint32(h[imageHdrSegs+imageSegLBA:]))*imageSector + int64(le.Uint32(h[imageHdrSegs+imageSegFileSz:]))/2
	orig := h[off]

	path := writeTempImage(t, "firmware.img", img)
	d, err := diskfs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := d.GetFilesystem(2)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.OpenFile(uefiPayload, os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(off, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{orig ^ 0xff}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if b := readFile(t, path); b[imageHeaderLBA*imageSector+off] != orig {
		t.Fatal("the BIOS loader's copy of the payload changed too")
	}

	m := startUEFI(t, path, qemu.Options{})
	m.Expect(`boot: firmware checksum mismatch: image corrupt\r*\n`, 120*time.Second)
	if strings.Contains(m.Log(), "boot: starting firmware") {
		t.Errorf("the loader started the firmware after a checksum mismatch:\n%s", m.Log())
	}
}
