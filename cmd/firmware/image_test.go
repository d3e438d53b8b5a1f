//go:build !tamago

package main

// Tests of the boot disk image (make image; layout and boot protocol in
// boot/README.md): QEMU's SeaBIOS boots it from a disk, with no -kernel, as
// a physical PC's BIOS would, and the loader refuses damaged images with
// its own messages.

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/qemu"
)

// The image layout, from boot/layout.inc.
const (
	imageSector      = 512
	imageStage2LBA   = 2048
	imageHeaderLBA   = 2063
	imageHdrNSegs    = 0x06
	imageHdrSize     = 0x0c
	imageHdrCRC      = 0x10
	imageHdrSegs     = 0x20
	imageSegFileSz   = 0x04
	imageSegLBA      = 0x0c
	imageSegSize     = 0x10
	imageReadSectors = 64 // BOUNCE_SECTORS: the loader's int 13h chunk
)

// What info says of each loader (board/pvh, StartInfo.Loader).
const (
	biosLoader = "BIOS stage 2 (MBR, legacy BIOS or CSM)"
	uefiLoader = `UEFI (\EFI\BOOT\BOOTX64.EFI)`
)

// readImage returns a copy of the boot image's bytes.
func readImage(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(qemu.Image(t))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeTempImage writes b to name in the test's temporary directory, so that
// no test ever changes build/.
func writeTempImage(t testing.TB, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startFromImage starts QEMU booting the disk image img with no -kernel:
// on `pc` as the primary master IDE disk, on `q35` on port 0 of the ICH9
// AHCI controller. opts.Drives are attached after it.
func startFromImage(t *testing.T, img string, opts qemu.Options) *qemu.Machine {
	t.Helper()
	opts.NoKernel = true
	if strings.HasPrefix(opts.Machine, "q35") {
		opts.Args = append(opts.Args,
			"-drive", "if=none,id=boot,format=raw,file="+img,
			"-device", "ide-hd,drive=boot,bus=ide.0,bootindex=0")
	} else {
		opts.Drives = append([]qemu.Drive{{File: img}}, opts.Drives...)
	}
	return qemu.Start(t, opts)
}

// bootFromImage boots QEMU from a copy of the boot image as a physical PC
// boots (BIOS, MBR, stage 2, PVH entry) and waits for the shell prompt; it
// logs how long each phase took. opts.Drives are attached after the boot
// disk, e.g. a data disk as secondary master (Bus 1).
func bootFromImage(t *testing.T, opts qemu.Options) *qemu.Machine {
	t.Helper()
	return bootFromImageFile(t, writeTempImage(t, "firmware.img", readImage(t)), opts)
}

// bootFromImageFile is bootFromImage from the image at img.
func bootFromImageFile(t *testing.T, img string, opts qemu.Options) *qemu.Machine {
	t.Helper()
	m := startFromImage(t, img, opts)
	m.Expect(`boot: ataport loader\r\n`, 60*time.Second)
	bios := time.Since(m.Started)
	m.Expect(`boot: memory map: [1-9]\d* E820 entries\r\n`, 10*time.Second)
	m.Expect(`boot: loading firmware, \d+ KiB\r\n`, 10*time.Second)
	loadStart := time.Now()
	m.Expect(`boot: starting firmware\r\n`, 120*time.Second)
	load := time.Since(loadStart)
	m.Expect(regexp.QuoteMeta(qemu.Prompt), 60*time.Second)
	t.Logf("boot from disk (TCG): BIOS to MBR %v, firmware load and CRC %v, QEMU start to prompt %v",
		bios.Round(time.Millisecond), load.Round(time.Millisecond), time.Since(m.Started).Round(time.Millisecond))
	if strings.Contains(m.Log(), "warning: pvh") {
		t.Errorf("the firmware could not read the loader's start_info:\n%s", m.Log())
	}
	return m
}

// checkImageInfo runs info and checks the board, the loader that started
// the firmware, and that the memory map came from the loader's start_info
// (E820: RAM from 1 MiB).
func checkImageInfo(t *testing.T, m *qemu.Machine, board, loader string) {
	t.Helper()
	info := m.Run("info", 10*time.Second)
	if !strings.Contains(info, "board:    "+board) {
		t.Errorf("info does not say board %q:\n%s", board, info)
	}
	if !strings.Contains(info, "loader:   "+loader) {
		t.Errorf("info does not say loader %q:\n%s", loader, info)
	}
	if !regexp.MustCompile(`memmap:\s+0x000000100000-0x[0-9a-f]+ RAM`).MatchString(info) {
		t.Errorf("info shows no E820 RAM above 1 MiB:\n%s", info)
	}
}

// TestImageBoot boots `pc` from the image alone.
func TestImageBoot(t *testing.T) {
	m := bootFromImage(t, qemu.Options{})
	checkImageInfo(t, m, "QEMU pc (i440FX + PIIX3)", biosLoader)
	checkBootDisk(t, m)
	m.Halt(10 * time.Second)
}

// TestImageBootWithDataDisk boots with a data-only disk as secondary
// master next to the boot disk.
func TestImageBootWithDataDisk(t *testing.T) {
	data := randomImage(t, "data.img", 16<<20, 3)
	m := bootFromImage(t, qemu.Options{Drives: []qemu.Drive{{File: data, Bus: 1}}})
	checkImageInfo(t, m, "QEMU pc (i440FX + PIIX3)", biosLoader)
	checkBootDisk(t, m)
	if got, want := firmwareSum(t, m, "1:0", time.Minute), sum(readFile(t, data)); got != want {
		t.Errorf("data disk 1:0: firmware SHA-256 %s, host %s", got, want)
	}
	m.Halt(10 * time.Second)
}

// TestImageBootActive boots `pc` from the image with its protective MBR's
// partition marked active (`make image IMAGE_ACTIVE=1`, for old BIOSes
// that boot only such a disk) through SeaBIOS and through OVMF, which
// ignores the mark (UEFI 2.10, Table 5-4), and reads the mark back from
// the boot disk.
func TestImageBootActive(t *testing.T) {
	img := readImage(t)
	img[0x1be] = 0x80 // what cmd/mkimage -active writes (TestBuildActive)
	for _, firmware := range []string{"bios", "uefi"} {
		t.Run(firmware, func(t *testing.T) {
			path := writeTempImage(t, "active.img", img)
			var m *qemu.Machine
			if firmware == "bios" {
				m = bootFromImageFile(t, path, qemu.Options{})
				checkImageInfo(t, m, "QEMU pc (i440FX + PIIX3)", biosLoader)
			} else {
				m = bootUEFIFile(t, path, qemu.Options{})
				checkUEFIInfo(t, m, "QEMU pc (i440FX + PIIX3)")
			}
			expectLine(t, m.Run("ata read 0:0 0", 10*time.Second), `(?m)^000001b0  ([0-9a-f]{2} ){8} ([0-9a-f]{2} ){6}80 00  \|`)
			m.Halt(10 * time.Second)
		})
	}
}

// checkBootDisk checks that the disk the machine booted from is an ATA
// device the firmware drives, and that its LBA 0 is the image's MBR.
func checkBootDisk(t *testing.T, m *qemu.Machine) {
	t.Helper()
	img := readImage(t)
	expectLine(t, m.Run("ata", 10*time.Second), fmt.Sprintf(`(?m)^0:0 ATA\s+"QEMU HARDDISK" sectors %d `, len(img)/sector))
	if got, want := firmwareSum(t, m, "0:0 0 1", time.Minute), sum(img[:sector]); got != want {
		t.Errorf("LBA 0 of the boot disk: firmware SHA-256 %s, host (the image's MBR) %s", got, want)
	}
	expectLine(t, m.Run("ata read 0:0 0", 10*time.Second), `(?m)^000001f0  .* 55 aa  \|`)
}

// TestImageBootQ35 boots q35 from the same image on port 0 of its AHCI
// controller: the firmware drives the disk it booted from through the AHCI
// miniport and reads its own MBR there.
func TestImageBootQ35(t *testing.T) {
	m := bootFromImage(t, qemu.Options{Machine: "q35"})
	checkImageInfo(t, m, "QEMU q35 (Q35 + ICH9)", biosLoader)
	expectLine(t, m.Run("ata", 10*time.Second), `(?m)^ICH9 AHCI 00:1f\.2 8086:2922 `)
	checkBootDisk(t, m)
	m.Halt(10 * time.Second)
}

// imageSegments returns the (LBA, length on disk) of each firmware segment
// listed in the image's header (whose LBAs count from the header).
func imageSegments(img []byte) [][2]uint32 {
	le := binary.LittleEndian
	h := img[imageHeaderLBA*imageSector:]
	var segs [][2]uint32
	for i := 0; i < int(le.Uint16(h[imageHdrNSegs:])); i++ {
		e := h[imageHdrSegs+i*imageSegSize:]
		segs = append(segs, [2]uint32{imageHeaderLBA + le.Uint32(e[imageSegLBA:]), le.Uint32(e[imageSegFileSz:])})
	}
	return segs
}

// Where the loader runs, from boot/layout.inc: stage 2 at STAGE2_ADDR
// (STAGE2_SECTORS long), stage 1 at MBR_ADDR.
const (
	imageStage2Addr = 0x2000
	imageStage2End  = imageStage2Addr + 15*imageSector
	imageMBRAddr    = 0x7c00
	imageMBREnd     = imageMBRAddr + imageSector
)

// loaderHalt matches the CPU state lines of the QEMU monitor's `info
// registers` this test needs: EIP, RFLAGS, the halt state and CS's base.
var loaderHalt = regexp.MustCompile(`EIP=([0-9a-f]+) EFL=([0-9a-f]+) .* HLT=([01])(?s:.*)\nCS =[0-9a-f]+ ([0-9a-f]+) `)

// haltedInLoader reports whether `info registers` shows the CPU halted with
// interrupts off on an instruction of the loader, which is the loader's
// halt loop (boot/bios.inc): only NMI or SMI wake such a CPU, and the loop
// halts it again. SeaBIOS waits for its disks with interrupts on, so a
// loader still reading is never taken for one that stopped.
func haltedInLoader(regs string) bool {
	f := loaderHalt.FindStringSubmatch(regs)
	if f == nil {
		return false
	}
	eip, _ := strconv.ParseUint(f[1], 16, 32)
	efl, _ := strconv.ParseUint(f[2], 16, 32)
	base, _ := strconv.ParseUint(f[4], 16, 32)
	ip := base + eip
	const flagsIF = 1 << 9
	return f[3] == "1" && efl&flagsIF == 0 &&
		(ip >= imageStage2Addr && ip < imageStage2End || ip >= imageMBRAddr && ip < imageMBREnd)
}

// expectRefusal boots img and waits for the loader's message want on the
// serial line. The loader must then stop for good: the test asks the QEMU
// monitor until the CPU is halted with interrupts off in the loader (see
// haltedInLoader), and only then checks that "boot: starting firmware" was
// never printed, so a loader that printed its refusal and went on fails
// either way.
func expectRefusal(t *testing.T, img []byte, want string) {
	t.Helper()
	mon, sock := monitorArgs(t)
	m := startFromImage(t, writeTempImage(t, "firmware.img", img), qemu.Options{Args: mon})
	m.Expect(regexp.QuoteMeta(want+"\r\n"), 60*time.Second)
	qm := dialMonitor(t, sock)
	deadline := time.Now().Add(30 * time.Second)
	for {
		regs := qm.command("info registers")
		if haltedInLoader(regs) {
			break
		}
		if strings.Contains(m.Log(), "boot: starting firmware") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the loader printed %q but is not halted with interrupts off in its code 30 s later; CPU 0:\n%s\nserial log:\n%s", want, regs, m.Log())
		}
	}
	if strings.Contains(m.Log(), "boot: starting firmware") {
		t.Errorf("the loader started the firmware after %q:\n%s", want, m.Log())
	}
}

// TestImageTruncated cuts the image in the middle of the firmware: the
// first int 13h read that reaches past the end of the disk fails, and
// SeaBIOS answers the failed ATA read with status 0Ch (DISK_RET_EBADTRACK).
func TestImageTruncated(t *testing.T) {
	img := readImage(t)
	segs := imageSegments(img)
	last := segs[len(segs)-1]
	end := last[0] + (last[1]+imageSector-1)/imageSector
	cut := (segs[0][0] + end) / 2

	// The loader's reads: chunks of at most imageReadSectors per segment.
	failing := uint32(0)
	for _, s := range segs {
		lba, left := s[0], s[1]
		for left > 0 && failing == 0 {
			n := min(imageReadSectors, (left+imageSector-1)/imageSector)
			if lba+n > cut {
				failing = lba
			}
			lba, left = lba+n, left-min(n*imageSector, left)
		}
	}
	expectRefusal(t, img[:cut*imageSector],
		fmt.Sprintf("boot: disk read error at LBA %d (int 13h status 0x0c)", failing))
}

// TestImageCorrupt flips one byte in the middle of the first segment: the
// image reads fine, and the CRC-32 check refuses it.
func TestImageCorrupt(t *testing.T) {
	img := readImage(t)
	s := imageSegments(img)[0]
	img[int(s[0])*imageSector+int(s[1])/2] ^= 0xff
	expectRefusal(t, img, "boot: firmware checksum mismatch: image corrupt")
}

// TestImageBadLayout damages stage 2 and the header: each damage has its
// own message.
func TestImageBadLayout(t *testing.T) {
	le := binary.LittleEndian
	for _, c := range []struct {
		name   string
		damage func(img []byte)
		want   string
	}{
		{"no stage 2", func(img []byte) { clear(img[imageStage2LBA*imageSector : (imageStage2LBA+1)*imageSector]) },
			"boot: stage 2 missing"},
		{"header magic", func(img []byte) { img[imageHeaderLBA*imageSector] ^= 0xff },
			"boot: bad firmware header magic or version"},
		{"size", func(img []byte) { le.PutUint32(img[imageHeaderLBA*imageSector+imageHdrSize:], 64<<20+1) },
			"boot: firmware too large: 65537 KiB (max 65536 KiB)"},
		{"destination below 1 MiB", func(img []byte) { le.PutUint32(img[imageHeaderLBA*imageSector+imageHdrSegs:], 0x7c00) },
			"boot: bad firmware header: segment table"},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := readImage(t)
			c.damage(img)
			expectRefusal(t, img, c.want)
		})
	}
}

// TestUSBStickBoot boots q35 from the image on a USB stick (xHCI,
// usb-storage), as "Flashing a physical PC" in README has users do,
// through SeaBIOS and through OVMF. The firmware drives no USB controller,
// so the stick is not among its disks; a data disk on AHCI port 1 is read
// right.
func TestUSBStickBoot(t *testing.T) {
	img := readImage(t)
	for _, firmware := range []string{"bios", "uefi"} {
		t.Run(firmware, func(t *testing.T) {
			data := randomImage(t, "data.img", 4<<20, 71)
			opts := qemu.Options{Machine: "q35", NoKernel: true, Args: []string{
				"-device", "qemu-xhci,id=xhci",
				"-drive", "if=none,id=stick,format=raw,file=" + writeTempImage(t, "stick.img", img),
				"-device", "usb-storage,bus=xhci.0,drive=stick,bootindex=0",
				"-drive", "if=none,id=data,format=raw,file=" + data,
				"-device", "ide-hd,drive=data,bus=ide.1",
			}}
			loader := biosLoader
			if firmware == "uefi" {
				vars, err := qemu.CopyOVMFVars(t.TempDir(), qemu.OVMFVarsFile)
				if err != nil {
					t.Fatal(err)
				}
				opts.OVMFVars, loader = vars, uefiLoader
			}
			m := qemu.Start(t, opts)
			m.Expect(regexp.QuoteMeta(qemu.Prompt), 180*time.Second)
			if info := m.Run("info", 10*time.Second); !strings.Contains(info, "loader:   "+loader) {
				t.Errorf("info does not say loader %q:\n%s", loader, info)
			}
			list := m.Run("ata", 10*time.Second)
			expectLine(t, list, `(?m)^1:0 ATA\s+"QEMU HARDDISK" sectors 8192 `)
			if strings.Contains(list, fmt.Sprintf(" sectors %d ", len(img)/sector)) {
				t.Errorf("a disk of the stick's size is listed, but no miniport drives USB:\n%s", list)
			}
			if got, want := firmwareSum(t, m, "1:0", time.Minute), sum(readFile(t, data)); got != want {
				t.Errorf("data disk 1:0: firmware SHA-256 %s, host %s", got, want)
			}
			m.Halt(10 * time.Second)
		})
	}
}
