//go:build !tamago

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kdomanski/iso9660"

	"github.com/ataport/firmware/internal/pattern"
	"github.com/ataport/firmware/internal/qemu"
)

const sector = 512

// randomImage creates a raw image of size bytes filled from seed.
func randomImage(t *testing.T, name string, size int64, seed uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	buf := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	for i := 0; i+8 <= len(buf); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// isoImage writes an ISO 9660 image labelled volume that holds the file at
// payload, in Go so that the tests need no genisoimage.
func isoImage(t *testing.T, name, volume, payload string) string {
	t.Helper()
	w, err := iso9660.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cleanup()
	if err := w.AddLocalFile(payload, filepath.Base(payload)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := w.WriteTo(f, volume); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// firmwareSum runs `ata sum` and returns the digest it printed.
func firmwareSum(t *testing.T, m *qemu.Machine, args string, timeout time.Duration) string {
	t.Helper()
	out := m.Run("ata sum "+args, timeout)
	d := regexp.MustCompile(`(?m)^([0-9a-f]{64})  `).FindStringSubmatch(out)
	if d == nil {
		t.Fatalf("ata sum %s printed no digest:\n%s", args, out)
	}
	return d[1]
}

func expectLine(t *testing.T, out, re string) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(out) {
		t.Errorf("output does not match %q:\n%s", re, out)
	}
}

// TestATAReadBack reads a host-filled disk in DMA and in PIO: the SHA-256
// the firmware computes equals the host's.
func TestATAReadBack(t *testing.T) {
	const size = 16 << 20
	img := randomImage(t, "random.img", size, 1)
	data := readFile(t, img)
	m := qemu.Boot(t, qemu.Options{Drives: []qemu.Drive{{File: img}}})

	expectLine(t, m.Run("ata", 10*time.Second), `(?m)^0:0 ATA\s+"QEMU HARDDISK" sectors 32768 \(16777216 bytes, 512-byte sectors\) modes PIO4 MWDMA2 mode DMA read-only`)
	if got := firmwareSum(t, m, "0:0", 2*time.Minute); got != sum(data) {
		t.Errorf("DMA: firmware SHA-256 %s, host %s", got, sum(data))
	}
	expectLine(t, m.Run("ata mode 0:0 pio", 10*time.Second), `0:0: mode PIO`)
	if got := firmwareSum(t, m, "0:0", 5*time.Minute); got != sum(data) {
		t.Errorf("PIO: firmware SHA-256 %s, host %s", got, sum(data))
	}
	if got := firmwareSum(t, m, "0:0 12345 77", time.Minute); got != sum(data[12345*sector:(12345+77)*sector]) {
		t.Errorf("PIO range: firmware SHA-256 %s", got)
	}
}

// TestATAWrite writes patterns in DMA and PIO, refuses writes to a
// read-only disk and past the end, and checks from the host that exactly
// the written ranges changed.
func TestATAWrite(t *testing.T) {
	const size = 16 << 20
	img := randomImage(t, "write.img", size, 2)
	orig := readFile(t, img)
	m := qemu.Boot(t, qemu.Options{Drives: []qemu.Drive{{File: img}}})

	expectLine(t, m.Run("ata write 0:0 100 8 0xaa", 10*time.Second), `(?m)^error: 0:0 is read-only: writes are refused until .ata rw on 0:0.$`)
	expectLine(t, m.Run("ata rw on 0:0", 10*time.Second), `0:0: writable true`)
	expectLine(t, m.Run("ata write 0:0 32767 2 0xaa", 10*time.Second), `(?m)^error: ata0.0: LBA 32767 COUNT 2 is past the end of the device \(32768 sectors\)$`)
	expectLine(t, m.Run("ata write 0:0 40000 1 0xaa", 10*time.Second), `(?m)^error: ata0.0: LBA 40000 COUNT 1 is past the end`)
	expectLine(t, m.Run("ata write 0:0 100 0 0xaa", 10*time.Second), `(?m)^error: COUNT: must be at least 1$`)
	expectLine(t, m.Run("ata stress 0:0 -workers 0", 10*time.Second), `(?m)^error: -workers: must be at least 1$`)
	expectLine(t, m.Run("ata stress 0:0 -ops 0", 10*time.Second), `(?m)^error: -ops: must be at least 1$`)
	expectLine(t, m.Run("ata stress 0:0 -think 1h", 10*time.Second), `(?m)^error: -think: 1h0m0s is longer than 1s$`)
	expectLine(t, m.Run("ata write 0:0 1000 300 random:7", time.Minute), `0:0: wrote 300 sectors at LBA 1000 with random:7`)
	expectLine(t, m.Run("ata verify 0:0 1000 300", time.Minute), `0:0: 300 sectors at LBA 1000 match random:7`)
	expectLine(t, m.Run("ata mode 0:0 pio", 10*time.Second), `0:0: mode PIO`)
	expectLine(t, m.Run("ata write 0:0 20000 40 lba", time.Minute), `0:0: wrote 40 sectors at LBA 20000 with lba`)
	expectLine(t, m.Run("ata verify 0:0 20000 40", time.Minute), `0:0: 40 sectors at LBA 20000 match lba`)
	expectLine(t, m.Run("ata flush 0:0", 10*time.Second), `0:0: flushed`)
	m.Halt(10 * time.Second)

	want := append([]byte(nil), orig...)
	pattern.Pattern{Kind: "random", Value: 7}.Fill(want[1000*sector:1300*sector], 1000, sector)
	pattern.Pattern{Kind: "lba"}.Fill(want[20000*sector:20040*sector], 20000, sector)
	got := readFile(t, img)
	if len(got) != len(want) {
		t.Fatalf("image size %d, want %d", len(got), len(want))
	}
	for lba := 0; lba < size/sector; lba++ {
		if !bytes.Equal(got[lba*sector:(lba+1)*sector], want[lba*sector:(lba+1)*sector]) {
			t.Errorf("sector %d differs from what was written (or should be untouched)", lba)
			break
		}
	}
}

// TestATAFourDevices attaches primary master and slave, secondary master
// and a CD-ROM as secondary slave: all are found and read correctly, the
// CD by DMA and by PIO (in chunks of the byte count limit, 63 KiB, which
// end inside a sector).
func TestATAFourDevices(t *testing.T) {
	a := randomImage(t, "a.img", 4<<20, 10)
	b := randomImage(t, "b.img", 6<<20, 11)
	c := randomImage(t, "c.img", 8<<20, 12)
	iso := isoImage(t, "cd.iso", "ATAPORT", randomImage(t, "payload.bin", 1<<20, 13))
	isoData := readFile(t, iso)
	m := qemu.Boot(t, qemu.Options{Drives: []qemu.Drive{
		{File: a, Bus: 0, Unit: 0},
		{File: b, Bus: 0, Unit: 1},
		{File: c, Bus: 1, Unit: 0},
		{File: iso, Bus: 1, Unit: 1, Media: "cdrom"},
	}})
	list := m.Run("ata", 10*time.Second)
	expectLine(t, list, `(?m)^0:0 ATA\s+"QEMU HARDDISK" sectors 8192 `)
	expectLine(t, list, `(?m)^0:1 ATA\s+"QEMU HARDDISK" sectors 12288 `)
	expectLine(t, list, `(?m)^1:0 ATA\s+"QEMU HARDDISK" sectors 16384 `)
	expectLine(t, list, fmt.Sprintf(`(?m)^1:1 ATAPI "QEMU DVD-ROM" sectors %d \(%d bytes, 2048-byte sectors\)`, len(isoData)/2048, len(isoData)))
	for _, d := range []struct{ dev, img string }{{"0:0", a}, {"0:1", b}, {"1:0", c}} {
		if got, want := firmwareSum(t, m, d.dev, time.Minute), sum(readFile(t, d.img)); got != want {
			t.Errorf("%s: firmware SHA-256 %s, host %s", d.dev, got, want)
		}
	}
	// The ISO's volume descriptors start at 2048-byte sector 16.
	if got, want := firmwareSum(t, m, "1:1 16 8", time.Minute), sum(isoData[16*2048:24*2048]); got != want {
		t.Errorf("1:1: firmware SHA-256 %s, host %s", got, want)
	}
	if got, want := firmwareSum(t, m, "1:1", 2*time.Minute), sum(isoData); got != want {
		t.Errorf("1:1 whole: firmware SHA-256 %s, host %s", got, want)
	}
	expectLine(t, m.Run("ata mode 1:1 pio", 10*time.Second), `1:1: mode PIO`)
	if got, want := firmwareSum(t, m, "1:1", 2*time.Minute), sum(isoData); got != want {
		t.Errorf("1:1 whole by PIO: firmware SHA-256 %s, host %s", got, want)
	}
	expectLine(t, m.Run("ata rw on 1:1", 10*time.Second), `(?m)^error: .*1\.1.*`)
	expectLine(t, m.Run("ata write 1:1 0 1 lba", 10*time.Second), `(?m)^error: 1:1 is ATAPI: read-only here$`)
	expectLine(t, m.Run("ata identify 1:1", 10*time.Second),
		fmt.Sprintf(`(?m)^type ATAPI, 12-byte command packets; capacity from READ CAPACITY: %d sectors of 2048 bytes$`, len(isoData)/2048))
}

// bigDisk returns a sparse 200 GiB image (419430400 sectors, beyond what
// 28-bit LBA reaches) holding 8 sectors of a pattern at lba, and those
// sectors.
func bigDisk(t *testing.T, lba int64) (img string, data []byte) {
	img = filepath.Join(t.TempDir(), "big.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, bigDiskSectors*sector); err != nil {
		t.Fatal(err)
	}
	data = make([]byte, 8*sector)
	pattern.Pattern{Kind: "random", Value: 99}.Fill(data, uint64(lba), sector)
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, lba*sector); err != nil {
		t.Fatal(err)
	}
	return img, data
}

// The disk of the 48-bit tests: sparse, 3 TiB, so that an LBA above 2^32
// fits; bigLBA has every byte of its low five nonzero, so that a byte
// of the LBA dropped or put in the wrong register is seen (sessions
// before 24 read at 2^28+5, whose byte 3 is 0x10 and byte 4 zero).
const (
	bigDiskSectors = 3 << 40 / sector
	bigLBA         = 0x1_2345_6789
	bigDiskLine    = `sectors 6442450944 \(3298534883328 bytes`
)

// bigWrite is a write of writeBig: where, what the host must find there,
// and in which mode it went.
type bigWrite struct {
	lba  uint64
	want []byte
	mode string
}

// writeBig writes the lba pattern to count sectors at lba of dev, in the
// mode named.
func writeBig(t *testing.T, m *qemu.Machine, dev string, lba uint64, count int, mode string) bigWrite {
	t.Helper()
	runLine(t, m, fmt.Sprintf("ata write %s %d %d lba", dev, lba, count), fmt.Sprintf("%s: wrote %d sectors at LBA %d with lba", dev, count, lba), 30*time.Second)
	w := bigWrite{lba: lba, want: make([]byte, count*sector), mode: mode}
	pattern.Pattern{Kind: "lba"}.Fill(w.want, lba, sector)
	return w
}

// checkBig compares a write of writeBig, after the machine halted, with
// the image.
func checkBig(t *testing.T, img string, w bigWrite) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, len(w.want))
	if _, err := f.ReadAt(got, int64(w.lba)*sector); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, w.want) {
		t.Errorf("%s: LBA %d on the host is not what the firmware wrote there (a byte of the 48-bit LBA lost?)", w.mode, w.lba)
	}
}

// TestATA48Bit reads and writes sectors past LBA 2^32 of a sparse 3 TiB
// disk, which only 48-bit commands reach, once in DMA and once in PIO; the
// host reads back what was written. Each mode is checked three ways: `ata
// mode` says it is set, `ata` lists it, and a read of a sector QEMU fails
// (blkdebug, as in faults_test.go) names the 48-bit command of that mode in
// its error, so the data were really moved by it.
func TestATA48Bit(t *testing.T) {
	const lba, bad = bigLBA, bigLBA + 1000
	img, data := bigDisk(t, lba)
	m := qemu.Boot(t, qemu.Options{Args: blkdebugDrive(t, img, 0, "disk0", blkdebugError("read_aio", bad))})
	expectLine(t, m.Run("ata", 10*time.Second), `(?m)^0:0 ATA\s+"QEMU HARDDISK" `+bigDiskLine)
	runLine(t, m, "ata rw on 0:0", "0:0: writable true", 10*time.Second)
	var writes []bigWrite
	for _, mode := range []struct {
		arg, name, read string
		write           uint64 // past bigLBA, each byte still nonzero
	}{
		{"dma", "DMA", `READ DMA EXT`, bigLBA + 0x100},
		{"pio", "PIO", `READ (SECTORS|MULTIPLE) EXT`, bigLBA + 0x110},
	} {
		runLine(t, m, "ata mode 0:0 "+mode.arg, "0:0: mode "+mode.name, 10*time.Second)
		expectLine(t, m.Run("ata", 10*time.Second), `(?m)^0:0 ATA .* mode `+mode.name+` `)
		if got := firmwareSum(t, m, fmt.Sprintf("0:0 %d 8", lba), time.Minute); got != sum(data) {
			t.Errorf("%s: LBA %d: firmware SHA-256 %s, host %s", mode.name, lba, got, sum(data))
		}
		expectLine(t, m.Run(fmt.Sprintf("ata read 0:0 %d", bad), 30*time.Second),
			fmt.Sprintf(`(?m)^error: ata0\.0: %s lba %d count 1: device error \(.*; failing lba %d\)$`, mode.read, bad, bad))
		writes = append(writes, writeBig(t, m, "0:0", mode.write, 3, mode.name))
	}
	out := m.Run(fmt.Sprintf("ata read 0:0 %d 1", lba), 10*time.Second)
	first := fmt.Sprintf("%08x  % x", uint64(lba)*sector, data[:8])
	if !strings.Contains(out, first) {
		t.Errorf("ata read does not show %q:\n%s", first, out)
	}
	m.Halt(10 * time.Second)
	for _, w := range writes {
		checkBig(t, img, w)
	}
}
