package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
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
	le := binary.LittleEndian
	const ehsize, phentsize = 64, 56
	off := uint64(ehsize + phentsize*len(progs))
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

func TestBuildLayout(t *testing.T) {
	fw, err := ReadFirmware(makeELF(elf.EM_X86_64, firmwareProgs()))
	if err != nil {
		t.Fatal(err)
	}
	mbr, stage2 := testMBR(), testStage2(1500)
	img, err := Build(mbr, stage2, fw)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	// text: 2 sectors from LBA 17, data: 2 sectors from LBA 19
	if want := (FirmwareLBA + 2 + 2) * SectorSize; len(img) != want {
		t.Fatalf("image is %d bytes, want %d", len(img), want)
	}
	if !bytes.Equal(img[:MBRDiskSignature], mbr[:MBRDiskSignature]) || img[510] != 0x55 || img[511] != 0xaa {
		t.Error("stage 1 or the boot signature changed")
	}
	if !bytes.Equal(img[Stage2LBA*SectorSize:][:len(stage2)], stage2) {
		t.Error("stage 2 is not at LBA 1")
	}

	h := img[HeaderLBA*SectorSize:][:SectorSize]
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
		{"seg 0 lba", le.Uint32(h[HDR_SEGS+SEG_LBA:]), FirmwareLBA},
		{"seg 1 paddr", le.Uint32(h[HDR_SEGS+SEG_SIZE+SEG_PADDR:]), 0x200000},
		{"seg 1 filesz", le.Uint32(h[HDR_SEGS+SEG_SIZE+SEG_FILESZ:]), 700},
		{"seg 1 zero", le.Uint32(h[HDR_SEGS+SEG_SIZE+SEG_ZERO:]), 4300},
		{"seg 1 lba", le.Uint32(h[HDR_SEGS+SEG_SIZE+SEG_LBA:]), FirmwareLBA + 2},
	} {
		if c.got != c.want {
			t.Errorf("header %s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
	if !bytes.Equal(img[FirmwareLBA*SectorSize:][:1000], text) || !bytes.Equal(img[(FirmwareLBA+2)*SectorSize:][:700], data) {
		t.Error("segment data is not at the LBAs in the header")
	}
	if !bytes.Equal(img[FirmwareLBA*SectorSize+1000:(FirmwareLBA+2)*SectorSize], make([]byte, 24)) {
		t.Error("the padding after a segment is not zero")
	}

	// one entry: active, 0xda, LBA 1 up to the last firmware sector
	want := []byte{0x80, 0x00, 0x02, 0x00, 0xda, 0x00, 0x15, 0x00, 1, 0, 0, 0, 20, 0, 0, 0}
	if got := img[MBRPartitionTable:][:16]; !bytes.Equal(got, want) {
		t.Errorf("partition entry % x, want % x", got, want)
	}
	if !bytes.Equal(img[MBRPartitionTable+16:MBRSignature], make([]byte, 48)) {
		t.Error("partition entries 2-4 are not empty")
	}
}

func TestCHS(t *testing.T) {
	for _, c := range []struct {
		lba  uint32
		want []byte
	}{
		{0, []byte{0, 1, 0}},
		{1, []byte{0, 2, 0}},
		{62, []byte{0, 63, 0}},
		{63, []byte{1, 1, 0}},
		{255 * 63, []byte{0, 1, 1}},
		{256 * 255 * 63, []byte{0, 1 | 1<<6, 0}},              // cylinder 256: bit 8 in the sector byte
		{1023*255*63 + 254*63 + 62, []byte{0xfe, 0xff, 0xff}}, // the last CHS address
		{1024 * 255 * 63, []byte{0xfe, 0xff, 0xff}},           // beyond: clamped
	} {
		if got := chs(c.lba); !bytes.Equal(got, c.want) {
			t.Errorf("chs(%d) = % x, want % x", c.lba, got, c.want)
		}
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
		{"below 1 MiB", makeELF(elf.EM_X86_64, []prog{pvhNote(0x7c00, 4), load(0x7c00, 512, pattern(512, 0))}), "outside the loadable range 0x100000-0x50000000"},
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
		name        string
		mbr, stage2 []byte
		fw          *Firmware
		wantErr     string
	}{
		{"stage 2 too large", testMBR(), testStage2(Stage2Sectors*SectorSize + 1), fw, "stage 2: 7681 bytes, at most 7680 (15 sectors)"},
		{"stage 2 unsigned", testMBR(), pattern(100, 0), fw, "stage 2: does not start with its signature"},
		{"MBR code too long", overlapping, testStage2(100), fw, "MBR: byte 0x1b8 is not zero"},
		{"MBR unsigned", unsigned, testStage2(100), fw, "MBR: no boot signature"},
		{"MBR size", testMBR()[:500], testStage2(100), fw, "MBR: 500 bytes, want 512"},
		{"firmware too large", testMBR(), testStage2(100), huge, "firmware too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.mbr, c.stage2, c.fw)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestPad(t *testing.T) {
	img := make([]byte, 3*SectorSize)
	img[0] = 1
	got, err := Pad(img, 64<<10)
	if err != nil || len(got) != 64<<10 || got[0] != 1 {
		t.Errorf("Pad to 64 KiB: %d bytes, %v", len(got), err)
	}
	if _, err := Pad(img, SectorSize); err == nil {
		t.Error("Pad below the image size succeeded")
	}
	if _, err := Pad(img, 4*SectorSize+1); err == nil {
		t.Error("Pad to a partial sector succeeded")
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
		"HEADER_LBA": HeaderLBA, "FIRMWARE_LBA": FirmwareLBA,
		"HDR_MAGIC": HDR_MAGIC, "HDR_VERSION": HDR_VERSION, "HDR_NSEGS": HDR_NSEGS, "HDR_ENTRY": HDR_ENTRY,
		"HDR_SIZE": HDR_SIZE, "HDR_CRC": HDR_CRC, "HDR_SEGS": HDR_SEGS,
		"SEG_PADDR": SEG_PADDR, "SEG_FILESZ": SEG_FILESZ, "SEG_ZERO": SEG_ZERO, "SEG_LBA": SEG_LBA, "SEG_SIZE": SEG_SIZE,
		"HEADER_MAGIC": HeaderMagic, "HEADER_VERSION": HeaderVersion, "STAGE2_MAGIC": Stage2Magic,
		"MAX_SEGMENTS": MaxSegments, "LOAD_MIN": LoadMin, "LOAD_MAX": LoadMax, "FIRMWARE_MAX": FirmwareMax,
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
	if set["MEMMAP_ADDR"]+set["MEMMAP_MAX"]*set["MEMMAP_ENTRY_SIZE"] > set["STAGE2_ADDR"] {
		t.Error("the start_info memory map runs into stage 2")
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
	// TamaGo's PVH note names the ELF entry, its cpuinit.
	if uint64(fw.Entry) != f.Entry {
		t.Errorf("PVH entry %#x, ELF entry %#x", fw.Entry, f.Entry)
	}
	var size uint64
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			size += p.Filesz
		}
	}
	if fw.Size() != size {
		t.Errorf("%d bytes to load, the PT_LOAD segments hold %d", fw.Size(), size)
	}
	if _, err := Build(testMBR(), testStage2(SectorSize), fw); err != nil {
		t.Fatal(err)
	}
}
