//go:build !tamago

package main

// Tests of the boot image under UEFI without CSM (boot/README.md): OVMF,
// from Debian's ovmf package, starts \EFI\BOOT\BOOTX64.EFI from the image's
// EFI system partition, with no -kernel, on pc and on q35; the loader hands
// over to the firmware as the BIOS stage 2 does, and refuses a corrupted
// payload.

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"

	"github.com/ataport/firmware/internal/qemu"
)

// startUEFI starts QEMU with OVMF (fresh variables, so no boot entry but
// the removable-media path) on the disk image img, with no -kernel.
func startUEFI(t *testing.T, img string, opts qemu.Options) *qemu.Machine {
	t.Helper()
	vars, err := qemu.CopyOVMFVars(t.TempDir(), qemu.OVMFVarsFile)
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
	return bootUEFIFile(t, writeTempImage(t, "firmware.img", readImage(t)), opts)
}

// bootUEFIFile is bootUEFI from the image at img.
func bootUEFIFile(t *testing.T, img string, opts qemu.Options) *qemu.Machine {
	t.Helper()
	m := startUEFI(t, img, opts)
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
// map converted from UEFI's (RAM from 0 and from 1 MiB, the ACPI tables
// OVMF places in reclaimable memory).
func checkUEFIInfo(t *testing.T, m *qemu.Machine, board string) {
	t.Helper()
	info := m.Run("info", 10*time.Second)
	for _, re := range []string{
		`board:    ` + regexp.QuoteMeta(board),
		`loader:   ` + regexp.QuoteMeta(uefiLoader),
		`memmap:\s+0x000000000000-0x[0-9a-f]+ RAM`,
		`memmap:\s+0x000000100000-0x[0-9a-f]+ RAM`,
		`memmap:\s+0x[0-9a-f]+-0x[0-9a-f]+ ACPI reclaimable`,
	} {
		if !regexp.MustCompile(re).MatchString(info) {
			t.Errorf("info does not match %q:\n%s", re, info)
		}
	}
}

// TestUEFIBoot boots `pc` with 1 GiB of RAM, the least the firmware
// needs, through OVMF from the image as primary master and reads a data
// disk on the secondary channel through the PIIX3.
func TestUEFIBoot(t *testing.T) {
	data := randomImage(t, "data.img", 16<<20, 5)
	m := bootUEFI(t, qemu.Options{Mem: "1G", Drives: []qemu.Drive{{File: data, Bus: 1}}})
	checkUEFIInfo(t, m, "QEMU pc (i440FX + PIIX3)")
	checkBootDisk(t, m)
	if got, want := firmwareSum(t, m, "1:0", time.Minute), sum(readFile(t, data)); got != want {
		t.Errorf("data disk 1:0: firmware SHA-256 %s, host %s", got, want)
	}
	m.Halt(10 * time.Second)
}

// TestUEFIBootQ35 boots q35 through OVMF from the image on the ICH9 AHCI
// controller, which the AHCI miniport drives: `ata` lists the boot disk and
// its LBA 0 is the image's MBR.
func TestUEFIBootQ35(t *testing.T) {
	m := bootUEFI(t, qemu.Options{Machine: "q35"})
	checkUEFIInfo(t, m, "QEMU q35 (Q35 + ICH9)")
	checkBootDisk(t, m)
	m.Halt(10 * time.Second)
}

// The loader and the payload on the ESP (cmd/mkimage: EFIBootDir,
// PayloadDir and their names).
const (
	espLoader  = "/EFI/BOOT/BOOTX64.EFI"
	espPayload = "/EFI/ATAPORT/FIRMWARE.BIN"
)

// imagePayload returns the firmware payload the BIOS loader reads at
// imageHeaderLBA: the header and the segments, up to the last one's last
// sector; the ESP's payload holds the same bytes.
func imagePayload(img []byte) []byte {
	end := uint32(0)
	for _, s := range imageSegments(img) {
		end = max(end, s[0]+(s[1]+imageSector-1)/imageSector)
	}
	return append([]byte(nil), img[imageHeaderLBA*imageSector:end*imageSector]...)
}

// readESPFile returns the file name on the EFI system partition of the
// disk image at path.
func readESPFile(t *testing.T, path, name string) []byte {
	t.Helper()
	d, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fs, err := d.GetFilesystem(2)
	if err != nil {
		t.Fatal(err)
	}
	// The size from the directory: go-diskfs v1.7.0's File.Read returns
	// whole clusters.
	dir, base := filepath.Split(name)
	entries, err := fs.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(-1)
	for _, e := range entries {
		if e.Name() == base {
			size = e.Size()
		}
	}
	f, err := fs.OpenFile(name, os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	if err != nil || size < 0 || int64(len(b)) < size {
		t.Fatalf("%s: %d of %d bytes: %v", name, len(b), size, err)
	}
	return b[:size]
}

// writeESPFile overwrites the file name on the EFI system partition of the
// disk image at path with b, which is at least as long as the file.
func writeESPFile(t *testing.T, path, name string, b []byte) {
	t.Helper()
	if old := readESPFile(t, path, name); len(b) < len(old) {
		t.Fatalf("%s: %d bytes would leave the end of the %d there", name, len(b), len(old))
	}
	d, err := diskfs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := d.GetFilesystem(2)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fs.OpenFile(name, os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestUEFICorruptPayload damages the payload on the ESP (the BIOS loader's
// copy stays intact) in the middle of its first segment. A flipped byte
// fails the CRC-32 check, with stage 2's message; the same byte with the
// header's CRC made to match fails the SHA-256 the loader was built with.
// Either way the loader stops before it loads anything.
func TestUEFICorruptPayload(t *testing.T) {
	le := binary.LittleEndian
	flip := func(p []byte) {
		p[int(le.Uint32(p[imageHdrSegs+imageSegLBA:]))*imageSector+int(le.Uint32(p[imageHdrSegs+imageSegFileSz:]))/2] ^= 0xff
	}
	for _, c := range []struct {
		name   string
		damage func(p []byte)
		want   string
	}{
		{"flipped byte", flip, "boot: firmware checksum mismatch: image corrupt"},
		{"CRC forged", func(p []byte) {
			flip(p)
			crc := crc32.NewIEEE()
			for i := 0; i < int(le.Uint16(p[imageHdrNSegs:])); i++ {
				e := p[imageHdrSegs+i*imageSegSize:]
				off := int(le.Uint32(e[imageSegLBA:])) * imageSector
				crc.Write(p[off : off+int(le.Uint32(e[imageSegFileSz:]))])
			}
			le.PutUint32(p[imageHdrCRC:], crc.Sum32())
		}, `boot: \EFI\ATAPORT\FIRMWARE.BIN is not the payload this loader was built for (SHA-256)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := readImage(t)
			p := imagePayload(img)
			c.damage(p)
			path := writeTempImage(t, "firmware.img", img)
			writeESPFile(t, path, espPayload, p)
			if !bytes.Equal(readFile(t, path)[imageHeaderLBA*imageSector:][:len(p)], imagePayload(img)) {
				t.Fatal("the BIOS loader's copy of the payload changed too")
			}

			m := startUEFI(t, path, qemu.Options{})
			m.Expect(regexp.QuoteMeta(c.want)+`\r*\n`, 120*time.Second)
			if strings.Contains(m.Log(), "boot: starting firmware") {
				t.Errorf("the loader started the firmware after %q:\n%s", c.want, m.Log())
			}
		})
	}
}

// startSecureBoot starts q35 with OVMF in Secure Boot mode, Debian's
// snakeoil certificate enrolled, on the disk image img.
func startSecureBoot(t *testing.T, img string) *qemu.Machine {
	t.Helper()
	vars, err := qemu.CopyOVMFVars(t.TempDir(), qemu.OVMFSecureBootVarsFile)
	if err != nil {
		t.Fatal(err)
	}
	return startFromImage(t, img, qemu.Options{
		Machine:  "q35,smm=on",
		OVMFVars: vars,
		OVMFCode: qemu.OVMFSecureBootCodeFile,
		Args:     []string{"-global", "driver=cfi.pflash01,property=secure,value=on"},
	})
}

// TestUEFISecureBoot signs the image's loader with Debian's snakeoil test
// key (sbsign, as `make image SB_KEY=... SB_CERT=...` does) and boots it
// on OVMF with Secure Boot on and that certificate in db: the firmware
// starts it, and it starts the firmware it was built for. The unsigned
// loader of the same image is refused by OVMF.
func TestUEFISecureBoot(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "snakeoil.key")
	unsigned := filepath.Join(dir, "BOOTX64.EFI")
	signed := filepath.Join(dir, "BOOTX64.signed.EFI")
	img := writeTempImage(t, "signed.img", readImage(t))
	if err := os.WriteFile(unsigned, readESPFile(t, img, espLoader), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"openssl", "pkey", "-in", qemu.SnakeoilKey, "-passin", "pass:snakeoil", "-out", key},
		{"sbsign", "--key", key, "--cert", qemu.SnakeoilCert, "--output", signed, unsigned},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	writeESPFile(t, img, espLoader, readFile(t, signed))

	t.Run("signed", func(t *testing.T) {
		m := startSecureBoot(t, img)
		m.Expect(`boot: ataport UEFI loader\r*\n`, 120*time.Second)
		m.Expect(regexp.QuoteMeta(qemu.Prompt), 120*time.Second)
		checkUEFIInfo(t, m, "QEMU q35 (Q35 + ICH9)")
		m.Halt(10 * time.Second)
	})
	t.Run("unsigned", func(t *testing.T) {
		m := startSecureBoot(t, writeTempImage(t, "unsigned.img", readImage(t)))
		m.Expect(`BdsDxe: failed to load Boot\d+ "[^"]*" from \S+: Access Denied`, 120*time.Second)
		if strings.Contains(m.Log(), "boot: ataport") {
			t.Errorf("OVMF started the unsigned loader with Secure Boot on:\n%s", m.Log())
		}
	})
}
