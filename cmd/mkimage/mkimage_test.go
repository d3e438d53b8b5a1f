package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// prog describes one program header of a synthetic ELF; filesz 0 means
// len(data).
type prog struct {
	typ          elf.ProgType
	flags        elf.ProgFlag
	paddr, memsz uint64
	filesz       uint64
	data         []byte
}

// makeELF writes a little-endian ELF64 executable with the given program
// headers and no sections (System V gABI, "ELF Header", "Program Header").
func makeELF(machine elf.Machine, progs []prog) []byte {
	return makePaddedELF(machine, progs, 0)
}

// makePaddedELF is makeELF with pad zero bytes between the program headers
// and the segments' data, as the Go linker leaves.
func makePaddedELF(machine elf.Machine, progs []prog, pad int) []byte {
	le := binary.LittleEndian
	const ehsize, phentsize = 64, 56
	off := uint64(ehsize + phentsize*len(progs) + pad)
	h := make([]byte, off)
	copy(h, []byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)})
	le.PutUint16(h[16:], uint16(elf.ET_EXEC))
	le.PutUint16(h[18:], uint16(machine))
	le.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(h[32:], ehsize)
	le.PutUint16(h[52:], ehsize)
	le.PutUint16(h[54:], phentsize)
	le.PutUint16(h[56:], uint16(len(progs)))
	var data []byte
	for i, p := range progs {
		ph := h[ehsize+i*phentsize:]
		filesz := p.filesz
		if filesz == 0 {
			filesz = uint64(len(p.data))
		}
		le.PutUint32(ph[0:], uint32(p.typ))
		le.PutUint32(ph[4:], uint32(p.flags))
		le.PutUint64(ph[8:], off+uint64(len(data)))
		le.PutUint64(ph[16:], p.paddr)
		le.PutUint64(ph[24:], p.paddr)
		le.PutUint64(ph[32:], filesz)
		le.PutUint64(ph[40:], p.memsz)
		le.PutUint64(ph[48:], 0x1000)
		data = append(data, p.data...)
	}
	return append(h, data...)
}

// pvhNote returns a Xen PHYS32_ENTRY note with a value of n bytes.
func pvhNote(entry uint64, n int) prog {
	b := make([]byte, 16+n)
	binary.LittleEndian.PutUint32(b[0:], 4)
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	binary.LittleEndian.PutUint32(b[8:], XEN_ELFNOTE_PHYS32_ENTRY)
	copy(b[12:], "Xen\x00")
	v := make([]byte, 8)
	binary.LittleEndian.PutUint64(v, entry)
	copy(b[16:], v[:n])
	return prog{typ: elf.PT_NOTE, flags: elf.PF_R, data: b}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// firmwareProgs is a valid firmware: text with the entry, then data with
// a zeroed tail, listed out of address order.
func firmwareProgs() []prog {
	return []prog{
		pvhNote(0x100040, 8),
		{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_W, paddr: 0x200000, memsz: 5000, data: pattern(700, 3)},
		{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_X, paddr: 0x100000, memsz: 1000, data: pattern(1000, 1)},
	}
}

func testMBR() []byte {
	b := make([]byte, SectorSize)
	copy(b, "\xeb\xfe stage 1")
	b[MBRSignature], b[MBRSignature+1] = 0x55, 0xaa
	return b
}

func testStage2(n int) []byte {
	b := pattern(n, 9)
	binary.LittleEndian.PutUint32(b, Stage2Magic)
	return b
}

func testEFI() []byte { return append([]byte("MZ"), pattern(3000, 5)...) }

func TestPayload(t *testing.T) {
	fw, err := ReadFirmware(makeELF(elf.EM_X86_64, firmwareProgs()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Payload(fw)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	// header, text in sectors 1-2, data in sectors 3-4
	if want := 5 * SectorSize; len(p) != want {
		t.Fatalf("payload is %d bytes, want %d", len(p), want)
	}
	h := p[:SectorSize]
	text, data := pattern(1000, 1), pattern(700, 3)
	for _, c := range []struct {
		name      string
		got, want uint32
	}{
		{"magic", le.Uint32(h[HDR_MAGIC:]), HeaderMagic},
		{"version", uint32(le.Uint16(h[HDR_VERSION:])), HeaderVersion},
		{"segments", uint32(le.Uint16(h[HDR_NSEGS:])), 2},
		{"entry", le.Uint32(h[HDR_ENTRY:]), 0x100040},
		{"size", le.Uint32(h[HDR_SIZE:]), 1700},
		{"crc", le.Uint32(h[HDR_CRC:]), crc32.ChecksumIEEE(append(append([]byte{}, text...), data...))},
		{"seg 0 paddr", le.Uint32(h[HDR_SEGS+SEG_PADDR:]), 0x100000},
		{"seg 0 filesz", le.Uint32(h[HDR_SEGS+SEG_FILESZ:]), 1000},
		{"seg 0 zero", le.Uint32(h[HDR_SEGS+SEG_ZERO:]), 0},
		{"seg 0 lba", le.Uint32(h[HDR_SEGS+SEG_LBA:]), 1},
		{"seg 1 paddr", le.Uint32(h[HDR_SEGS+SEG_SIZE+SEG_PADDR:]), 0x200000},
		{"seg 1 filesz", le.Uint32(h[HDR_SEGS+SEG_SIZE+SEG_FILESZ:]), 700},
		{"seg 1 zero", le.Uint32(h[HDR_SEGS+SEG_SIZE+SEG_ZERO:]), 4300},
		{"seg 1 lba", le.Uint32(h[HDR_SEGS+SEG_SIZE+SEG_LBA:]), 3},
	} {
		if c.got != c.want {
			t.Errorf("header %s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
	if !bytes.Equal(p[SectorSize:][:1000], text) || !bytes.Equal(p[3*SectorSize:][:700], data) {
		t.Error("segment data is not at the offsets in the header")
	}
	if !bytes.Equal(p[SectorSize+1000:3*SectorSize], make([]byte, 24)) || !bytes.Equal(p[3*SectorSize+700:], make([]byte, 2*SectorSize-700)) {
		t.Error("the padding after a segment is not zero")
	}
}

func TestBuildLayout(t *testing.T) {
	fw, err := ReadFirmware(makeELF(elf.EM_X86_64, firmwareProgs()))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := Payload(fw)
	if err != nil {
		t.Fatal(err)
	}
	mbr, stage2, efi := testMBR(), testStage2(1500), testEFI()
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := Build(path, Image{MBR: mbr, Stage2: stage2, EFILoader: efi, Firmware: fw}); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// BIOS boot partition 2048-4095, ESP from 4096, backup GPT, 1 MiB
	// alignment.
	espEnd := 4096 + ESPSize/SectorSize
	if want := align(uint64(espEnd+GPTBackupSectors), PartitionAlign) * SectorSize; uint64(len(img)) != want {
		t.Fatalf("image is %d bytes, want %d", len(img), want)
	}
	if !bytes.Equal(img[:MBRDiskSignature], mbr[:MBRDiskSignature]) || img[510] != 0x55 || img[511] != 0xaa {
		t.Error("stage 1 or the boot signature changed")
	}
	// UEFI 2.10, Table 5-4: one 0xee entry from LBA 1 to the end.
	le := binary.LittleEndian
	pmbr := img[0x1be:][:16]
	if pmbr[0] != 0 || pmbr[4] != 0xee || le.Uint32(pmbr[8:]) != 1 || le.Uint32(pmbr[12:]) != uint32(len(img)/SectorSize-1) {
		t.Errorf("protective MBR entry % x", pmbr)
	}
	if !bytes.Equal(img[Stage2LBA*SectorSize:][:len(stage2)], stage2) {
		t.Error("stage 2 is not at Stage2LBA")
	}
	if !bytes.Equal(img[HeaderLBA*SectorSize:][:len(payload)], payload) {
		t.Error("the payload is not at HeaderLBA")
	}

	d, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	pt, err := d.GetPartitionTable()
	if err != nil {
		t.Fatal(err)
	}
	parts := pt.(*gpt.Table).Partitions
	if len(parts) != 2 || parts[0].Type != gpt.BIOSBoot || parts[0].Start != 2048 || parts[0].End != 4095 ||
		parts[1].Type != gpt.EFISystemPartition || parts[1].Start != 4096 || parts[1].End != uint64(espEnd-1) {
		t.Errorf("GPT partitions: %+v %+v", parts[0], parts[1])
	}
	fs, err := d.GetFilesystem(2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir, name string
		want      []byte
	}{{EFIBootDir, EFIBootName, efi}, {PayloadDir, PayloadName, payload}} {
		// The directory entry's size, then the contents: go-diskfs
		// v1.7.0's File.Read returns whole clusters.
		entries, err := fs.ReadDir(c.dir)
		if err != nil {
			t.Fatalf("%s: %v", c.dir, err)
		}
		size := int64(-1)
		for _, e := range entries {
			if e.Name() == c.name {
				size = e.Size()
			}
		}
		if size != int64(len(c.want)) {
			t.Errorf("%s/%s: size %d, want %d", c.dir, c.name, size, len(c.want))
		}
		f, err := fs.OpenFile(c.dir+"/"+c.name, os.O_RDONLY)
		if err != nil {
			t.Fatalf("%s/%s: %v", c.dir, c.name, err)
		}
		got, err := io.ReadAll(f)
		if err != nil || len(got) < len(c.want) || !bytes.Equal(got[:len(c.want)], c.want) {
			t.Errorf("%s/%s: contents differ from what was written (%v)", c.dir, c.name, err)
		}
	}

	// FAT type determination (Microsoft FAT specification): the BPB's
	// cluster count must make it FAT32 to UEFI's driver.
	bpb := img[4096*SectorSize:]
	bytsPerSec, secPerClus := uint32(le.Uint16(bpb[11:])), uint32(bpb[13])
	rsvd, nFATs, rootEnt := uint32(le.Uint16(bpb[14:])), uint32(bpb[16]), uint32(le.Uint16(bpb[17:]))
	totSec, fatSz := le.Uint32(bpb[32:]), le.Uint32(bpb[36:])
	rootDirSectors := (rootEnt*32 + bytsPerSec - 1) / bytsPerSec
	if clusters := (totSec - (rsvd + nFATs*fatSz + rootDirSectors)) / secPerClus; clusters < 65525 {
		t.Errorf("the ESP has %d clusters: FAT32 needs at least 65525", clusters)
	}
}

func TestBuildSize(t *testing.T) {
	fw, err := ReadFirmware(makeELF(elf.EM_X86_64, firmwareProgs()))
	if err != nil {
		t.Fatal(err)
	}
	in := Image{MBR: testMBR(), Stage2: testStage2(100), EFILoader: testEFI(), Firmware: fw, Size: 64 << 20}
	path := filepath.Join(t.TempDir(), "disk.img")
	if err := Build(path, in); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() != 64<<20 {
		t.Errorf("image of %v bytes (%v), want 64 MiB", st.Size(), err)
	}
	for _, size := range []int64{40 << 20, 64<<20 + 1} {
		in.Size = size
		if err := Build(path, in); !errors.Is(err, ErrSize) {
			t.Errorf("size %d: error %v, want ErrSize", size, err)
		}
	}
}

// TestBuildActive: -active changes the protective MBR's BootIndicator to
// 0x80 and nothing else of LBA 0; the GPT still reads.
func TestBuildActive(t *testing.T) {
	fw, err := ReadFirmware(makeELF(elf.EM_X86_64, firmwareProgs()))
	if err != nil {
		t.Fatal(err)
	}
	in := Image{MBR: testMBR(), Stage2: testStage2(100), EFILoader: testEFI(), Firmware: fw}
	var lba0 [2][]byte
	for i, active := range []bool{false, true} {
		in.Active = active
		path := filepath.Join(t.TempDir(), "disk.img")
		if err := Build(path, in); err != nil {
			t.Fatal(err)
		}
		img, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lba0[i] = img[:SectorSize]
		d, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.GetPartitionTable(); err != nil {
			t.Errorf("active %v: GPT: %v", active, err)
		}
		d.Close()
	}
	if lba0[0][MBRPartition1] != 0 || lba0[1][MBRPartition1] != MBRActive {
		t.Errorf("BootIndicator %#x without -active, %#x with it; want 0 and %#x", lba0[0][MBRPartition1], lba0[1][MBRPartition1], MBRActive)
	}
	lba0[1][MBRPartition1] = 0
	if !bytes.Equal(lba0[0], lba0[1]) {
		t.Error("-active changed LBA 0 beyond the BootIndicator")
	}
}

func TestReadFirmwareRefuses(t *testing.T) {
	load := func(paddr, memsz uint64, data []byte) prog {
		return prog{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_X, paddr: paddr, memsz: memsz, data: data}
	}
	many := []prog{pvhNote(0x100000, 4)}
	for i := 0; i <= MaxSegments; i++ {
		many = append(many, load(0x100000+uint64(i)*0x1000, 0x1000, pattern(16, 0)))
	}
	for _, c := range []struct {
		name    string
		elf     []byte
		wantErr string
	}{
		{"not ELF", []byte("MZ\x90\x00 not an ELF at all, padded to be long enough for a header ......"), "bad magic"},
		{"ARM", makeELF(elf.EM_ARM, firmwareProgs()), "machine EM_ARM"},
		{"below 1 MiB", makeELF(elf.EM_X86_64, []prog{pvhNote(0x7c00, 4), load(0x7c00, 512, pattern(512, 0))}), "outside the loadable range 0x100000-0x30000000"},
		{"into DMA region", makeELF(elf.EM_X86_64, []prog{pvhNote(0x4fff0000, 4), load(0x4fff0000, 0x20000, pattern(512, 0))}), "outside the loadable range"},
		{"oversized", makeELF(elf.EM_X86_64, []prog{pvhNote(0x100000, 4), {typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_X, paddr: 0x100000, memsz: FirmwareMax + 1, filesz: FirmwareMax + 1, data: pattern(64, 0)}}), "firmware too large: 65537 KiB to load, at most 65536 KiB"},
		{"truncated", makeELF(elf.EM_X86_64, []prog{pvhNote(0x100000, 4), {typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_X, paddr: 0x100000, memsz: 4096, filesz: 4096, data: pattern(64, 0)}}), "segment at 0x100000: unexpected EOF"},
		{"filesz > memsz", makeELF(elf.EM_X86_64, []prog{pvhNote(0x100000, 4), load(0x100000, 16, pattern(64, 0))}), "file size 0x40 exceeds memory size 0x10"},
		{"overlap", makeELF(elf.EM_X86_64, []prog{pvhNote(0x100000, 4), load(0x100000, 0x2000, pattern(64, 0)), load(0x101000, 0x1000, pattern(64, 0))}), "segments at 0x100000 and 0x101000 overlap"},
		{"too many segments", makeELF(elf.EM_X86_64, many), "9 PT_LOAD segments, the loader takes at most 8"},
		{"no segments", makeELF(elf.EM_X86_64, []prog{pvhNote(0x100000, 4)}), "no PT_LOAD segment"},
		{"no PVH note", makeELF(elf.EM_X86_64, firmwareProgs()[1:]), "no PVH entry note"},
		{"entry above 4 GiB", makeELF(elf.EM_X86_64, append([]prog{pvhNote(1<<32, 8)}, firmwareProgs()[1:]...)), "not a 32-bit address"},
		{"entry in data", makeELF(elf.EM_X86_64, append([]prog{pvhNote(0x200010, 4)}, firmwareProgs()[1:]...)), "PVH entry 0x200010 is not in an executable segment"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadFirmware(c.elf)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	fw, err := ReadFirmware(makeELF(elf.EM_X86_64, firmwareProgs()))
	if err != nil {
		t.Fatal(err)
	}
	overlapping := testMBR()
	overlapping[MBRDiskSignature] = 0x90
	unsigned := testMBR()
	unsigned[MBRSignature] = 0
	huge := &Firmware{Entry: 0x100000, Segments: []Segment{{Paddr: 0x100000, Memsz: FirmwareMax + 512, Data: make([]byte, FirmwareMax+512)}}}
	for _, c := range []struct {
		name             string
		mbr, stage2, efi []byte
		fw               *Firmware
		wantErr          string
	}{
		{"stage 2 too large", testMBR(), testStage2(Stage2Sectors*SectorSize + 1), testEFI(), fw, "stage 2: 7681 bytes, at most 7680 (15 sectors)"},
		{"stage 2 unsigned", testMBR(), pattern(100, 0), testEFI(), fw, "stage 2: does not start with its signature"},
		{"MBR code too long", overlapping, testStage2(100), testEFI(), fw, "MBR: byte 0x1b8 is not zero"},
		{"MBR unsigned", unsigned, testStage2(100), testEFI(), fw, "MBR: no boot signature"},
		{"MBR size", testMBR()[:500], testStage2(100), testEFI(), fw, "MBR: 500 bytes, want 512"},
		{"not PE", testMBR(), testStage2(100), pattern(100, 0), fw, "UEFI loader: not a PE image"},
		{"firmware too large", testMBR(), testStage2(100), testEFI(), huge, "firmware too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "disk.img")
			err := Build(path, Image{MBR: c.mbr, Stage2: c.stage2, EFILoader: c.efi, Firmware: c.fw})
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int64{"512": 512, "64K": 64 << 10, "64M": 64 << 20, "2G": 2 << 30} {
		if got, err := parseSize(s); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "M", "-1", "1T", "1.5G"} {
		if _, err := parseSize(s); err == nil {
			t.Errorf("parseSize(%q) succeeded", s)
		}
	}
}

// TestLayoutMatchesAssembly checks the Go constants against the .set
// lines of boot/layout.inc, the loader's single source.
func TestLayoutMatchesAssembly(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "boot", "layout.inc"))
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]uint64{}
	for _, m := range regexp.MustCompile(`(?m)^\.set\s+(\w+),\s*(\w+)`).FindAllStringSubmatch(string(src), -1) {
		v, err := strconv.ParseUint(m[2], 0, 64)
		if err != nil {
			t.Fatalf("layout.inc: %s: %v", m[1], err)
		}
		set[m[1]] = v
	}
	for name, want := range map[string]uint64{
		"SECTOR_SIZE": SectorSize, "STAGE2_LBA": Stage2LBA, "STAGE2_SECTORS": Stage2Sectors,
		"HEADER_LBA": HeaderLBA,
		"HDR_MAGIC":  HDR_MAGIC, "HDR_VERSION": HDR_VERSION, "HDR_NSEGS": HDR_NSEGS, "HDR_ENTRY": HDR_ENTRY,
		"HDR_SIZE": HDR_SIZE, "HDR_CRC": HDR_CRC, "HDR_SEGS": HDR_SEGS,
		"SEG_PADDR": SEG_PADDR, "SEG_FILESZ": SEG_FILESZ, "SEG_ZERO": SEG_ZERO, "SEG_LBA": SEG_LBA, "SEG_SIZE": SEG_SIZE,
		"HEADER_MAGIC": HeaderMagic, "HEADER_VERSION": HeaderVersion, "STAGE2_MAGIC": Stage2Magic,
		"MAX_SEGMENTS": MaxSegments, "LOAD_MIN": LoadMin, "LOAD_MAX": LoadMax, "FIRMWARE_MAX": FirmwareMax,
		"PVH_STUB_ADDR": PVHStubAddr, "PVH_STUB_ENTRY": PVHStubEntry, "PVH_STUB_MAGIC": PVHStubMagic,
	} {
		got, ok := set[name]
		if !ok {
			t.Errorf("layout.inc does not set %s", name)
		} else if got != want {
			t.Errorf("layout.inc sets %s = %#x, mkimage uses %#x", name, got, want)
		}
	}
	// Stage 1 reads stage 2 and the header in one call into memory laid
	// out the same way as the disk.
	if set["HEADER_ADDR"] != set["STAGE2_ADDR"]+Stage2Sectors*SectorSize || HeaderLBA != Stage2LBA+Stage2Sectors {
		t.Error("the header does not directly follow stage 2 on disk and in memory")
	}
	if HDR_SEGS+MaxSegments*SEG_SIZE > SectorSize {
		t.Error("the segment table does not fit the header sector")
	}
	if set["MEMMAP_ADDR"]+set["MEMMAP_MAX"]*set["MEMMAP_ENTRY_SIZE"] > set["CMDLINE_ADDR"] ||
		set["CMDLINE_ADDR"]+set["CMDLINE_MAX"] > set["STAGE2_ADDR"] {
		t.Error("the start_info memory map, the command line and stage 2 overlap")
	}
	if set["LOW_START"] > set["START_INFO_ADDR"] || set["CMDLINE_ADDR"]+set["CMDLINE_MAX"] > set["LOW_END"] || set["STACK_TOP"] > set["LOW_END"] {
		t.Error("the UEFI loader's low-memory check does not cover start_info and the stack")
	}
	if Stage2LBA%PartitionAlign != 0 {
		t.Error("stage 2 does not start the BIOS boot partition")
	}
}

// TestFirmwareMemoryAgrees checks that the firmware's memory window, which
// the board takes without reading the memory map, is the same in the
// places that name it: board/pc/pc.go (where the Go runtime and the DMA
// region are), boot/layout.inc (the checks of the PVH entry stub and of
// both loaders, the loaders' LOAD_MAX) and mkimage's LoadMax; and that the
// messages of the two assembly checks name it.
func TestFirmwareMemoryAgrees(t *testing.T) {
	values := func(file, re string) map[string]uint64 {
		src, err := os.ReadFile(filepath.Join("..", "..", file))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]uint64{}
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(string(src), -1) {
			v, err := strconv.ParseUint(m[2], 0, 64)
			if err != nil {
				t.Fatalf("%s: %s: %v", file, m[1], err)
			}
			got[m[1]] = v
		}
		return got
	}
	board := values("board/pc/pc.go", `(?m)^\t(ramStart|dmaStart|dmaSize)\s*=\s*(0x[0-9a-f]+)$`)
	layout := values("boot/layout.inc", `(?m)^\.set\s+(FW_RAM_START|FW_RAM_END|LOAD_MAX),\s*(0x[0-9a-f]+)`)
	if len(board) != 3 || len(layout) != 3 {
		t.Fatalf("constants not found: pc.go %v, layout.inc %v", board, layout)
	}
	start, end := board["ramStart"], board["dmaStart"]+board["dmaSize"]
	for _, c := range []struct {
		where     string
		got, want uint64
	}{
		{"layout.inc FW_RAM_START", layout["FW_RAM_START"], start},
		{"layout.inc FW_RAM_END", layout["FW_RAM_END"], end},
		{"layout.inc LOAD_MAX", layout["LOAD_MAX"], board["dmaStart"]},
		{"mkimage LoadMax", LoadMax, board["dmaStart"]},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, board/pc/pc.go gives %#x", c.where, c.got, c.want)
		}
	}
	want := fmt.Sprintf(`"boot: memory %#x-%#x is not all RAM: the firmware needs it`, start, end)
	for _, file := range []string{"pvhentry.S", "stage2.S"} {
		src, err := os.ReadFile(filepath.Join("..", "..", "boot", file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(src), want) {
			t.Errorf("boot/%s: no message %s...", file, want)
		}
	}
}

// TestRealFirmware reads the firmware ELF when it has been built.
func TestRealFirmware(t *testing.T) {
	path := os.Getenv("FIRMWARE_ELF")
	if path == "" {
		path = filepath.Join("..", "..", "build", "firmware.elf")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no firmware ELF: %v", err)
	}
	fw, err := ReadFirmware(b)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// The PVH note names the stub the Makefile added, which holds the
	// entry TamaGo's note named: the ELF entry, its cpuinit.
	if entry, _, err := pvhEntry(f); err != nil || entry != PVHStubAddr {
		t.Errorf("PVH entry %#x (%v), want the stub at %#x", entry, err, PVHStubAddr)
	}
	if uint64(fw.Entry) != f.Entry {
		t.Errorf("the stub's entry %#x, ELF entry %#x", fw.Entry, f.Entry)
	}
	var size uint64
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Paddr != PVHStubAddr {
			size += p.Filesz
		}
	}
	if fw.Size() != size {
		t.Errorf("%d bytes to load, the PT_LOAD segments hold %d", fw.Size(), size)
	}
	if _, err := Payload(fw); err != nil {
		t.Fatal(err)
	}
}

// testStub is a PVH entry stub as boot/pvhentry.S assembles: a jump, the
// entry's slot, the magic, code.
func testStub() []byte {
	b := make([]byte, 200)
	copy(b, "\xeb\x7e")
	binary.LittleEndian.PutUint32(b[PVHStubEntry+4:], PVHStubMagic)
	copy(b[12:], pattern(100, 9))
	return b
}

// TestAddPVHStub adds the stub to a firmware ELF: QEMU's PVH entry is then
// the stub, at its own segment, holding the firmware's entry; the loaders'
// payload is the same as without the stub, entered at the firmware's entry.
func TestAddPVHStub(t *testing.T) {
	progs := []prog{
		pvhNote(0x200040, 4),
		{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_X, paddr: 0x200000, memsz: 1000, data: pattern(1000, 1)},
		{typ: elf.PT_LOAD, flags: elf.PF_R | elf.PF_W, paddr: 0x300000, memsz: 5000, data: pattern(700, 3)},
	}
	b := makePaddedELF(elf.EM_X86_64, progs, 200)
	out, err := AddPVHStub(b, testStub())
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	entry, _, err := pvhEntry(f)
	if err != nil || entry != PVHStubAddr {
		t.Errorf("PVH entry %#x (%v), want the stub's %#x", entry, err, PVHStubAddr)
	}
	if n := len(f.Progs); n != len(progs)+1 {
		t.Fatalf("%d program headers, want %d", n, len(progs)+1)
	}
	p := f.Progs[len(progs)]
	if p.Type != elf.PT_LOAD || p.Flags != elf.PF_R|elf.PF_X || p.Paddr != PVHStubAddr || p.Vaddr != PVHStubAddr ||
		p.Filesz != 200 || p.Memsz != 200 || p.Off%0x1000 != 0 {
		t.Errorf("stub segment %+v", p.ProgHeader)
	}
	stub, err := io.ReadAll(p.Open())
	if err != nil {
		t.Fatal(err)
	}
	want := testStub()
	binary.LittleEndian.PutUint32(want[PVHStubEntry:], 0x200040)
	if !bytes.Equal(stub, want) {
		t.Errorf("stub segment holds % x, want % x", stub[:12], want[:12])
	}
	with, err := ReadFirmware(out)
	if err != nil {
		t.Fatal(err)
	}
	without, err := ReadFirmware(b)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := Payload(with)
	po, _ := Payload(without)
	if with.Entry != 0x200040 || !bytes.Equal(pw, po) {
		t.Errorf("payload with the stub: entry %#x, same bytes %v; want entry 0x200040 and the payload without it", with.Entry, bytes.Equal(pw, po))
	}

	for _, c := range []struct {
		name string
		elf  []byte
		stub []byte
		want string
	}{
		{"twice", out, testStub(), "already the stub's"},
		{"no room", makeELF(elf.EM_X86_64, progs), testStub(), "no room for another program header"},
		{"not the stub", b, pattern(200, 1), "not built from boot/pvhentry.S"},
		{"overlap", makePaddedELF(elf.EM_X86_64, firmwareProgs(), 200), testStub(), "overlaps the PVH stub's page"},
		{"32-bit", makePaddedELF(elf.EM_386, progs, 200), testStub(), "want a little-endian ELF64 x86-64 executable"},
	} {
		if _, err := AddPVHStub(c.elf, c.stub); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
