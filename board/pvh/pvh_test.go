package pvh

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// image is a sparse physical memory for tests.
type image map[int64][]byte

// ReadAt reads from the region with the highest base that holds the whole
// range: regions may overlap (a long command line runs over start_info),
// and the map's order is random.
func (m image) ReadAt(p []byte, off int64) (int, error) {
	best := int64(-1)
	for base, b := range m {
		if off >= base && off+int64(len(p)) <= base+int64(len(b)) && base > best {
			best = base
		}
	}
	if best < 0 {
		return 0, bytes.ErrTooLarge
	}
	return copy(p, m[best][off-best:]), nil
}

func startInfo(magic, version, entries uint32) []byte {
	b := make([]byte, startInfoSize)
	le := binary.LittleEndian
	le.PutUint32(b[MAGIC:], magic)
	le.PutUint32(b[VERSION:], version)
	le.PutUint64(b[RSDP_PADDR:], 0xf5a30)
	le.PutUint64(b[MEMMAP_PADDR:], 0x7000)
	le.PutUint32(b[MEMMAP_ENTRIES:], entries)
	return b
}

func memmap(rs ...Region) []byte {
	var b []byte
	for _, r := range rs {
		e := make([]byte, memmapEntrySize)
		binary.LittleEndian.PutUint64(e, r.Addr)
		binary.LittleEndian.PutUint64(e[8:], r.Size)
		binary.LittleEndian.PutUint32(e[16:], r.Type)
		b = append(b, e...)
	}
	return b
}

func TestRead(t *testing.T) {
	want := []Region{{0, 0x9fc00, TypeRAM}, {0xf0000, 0x10000, TypeReserved}, {0x100000, 0x7fee0000, TypeRAM}}
	mem := image{0x6000: startInfo(StartInfoMagic, 1, 3), 0x7000: memmap(want...)}
	si, err := Read(mem, 0x6000)
	if err != nil {
		t.Fatal(err)
	}
	if si.RSDP != 0xf5a30 || len(si.Memory) != 3 {
		t.Fatalf("got %+v", si)
	}
	for i := range want {
		if si.Memory[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, si.Memory[i], want[i])
		}
	}
	if si.Memory[2].End() != 0x7ffe0000 {
		t.Errorf("End = %#x", si.Memory[2].End())
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		mem  image
		want string
	}{
		{"magic", image{0x6000: startInfo(0x1234, 1, 0)}, "bad magic 0x1234"},
		{"entries", image{0x6000: startInfo(StartInfoMagic, 1, 1000)}, "1000 memory map entries"},
		{"unreadable map", image{0x6000: startInfo(StartInfoMagic, 1, 2)}, "memory map"},
		{"unreadable", image{}, "start_info at 0x6000"},
	} {
		_, err := Read(tc.mem, 0x6000)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestVersion0HasNoMap(t *testing.T) {
	si, err := Read(image{0x6000: startInfo(StartInfoMagic, 0, 5)}, 0x6000)
	if err != nil || si.Memory != nil || si.RSDP != 0xf5a30 {
		t.Fatalf("got %+v, %v", si, err)
	}
}

// withCmdline returns memory with a start_info at 0x6000 whose command line
// at 0x5000 is s, NUL-terminated, in a page of 0xff bytes.
func withCmdline(s string) image {
	si := startInfo(StartInfoMagic, 1, 0)
	binary.LittleEndian.PutUint64(si[CMDLINE_PADDR:], 0x5000)
	page := bytes.Repeat([]byte{0xff}, 0x1000)
	copy(page, s+"\x00")
	return image{0x6000: si, 0x5000: page, 0x7000: {}}
}

func TestCmdlineAndLoader(t *testing.T) {
	for _, c := range []struct {
		cmdline, loader string
	}{
		{"loader=bios", "BIOS stage 2 (MBR, legacy BIOS or CSM)"},
		{"loader=uefi", `UEFI (\EFI\BOOT\BOOTX64.EFI)`},
		{"console=ttyS0 loader=uefi", `UEFI (\EFI\BOOT\BOOTX64.EFI)`},
		{"loader=grub", `unknown loader "grub"`},
		{"", "PVH entry, no loader named (QEMU -kernel)"},
		{"noloader=bios", "PVH entry, no loader named (QEMU -kernel)"},
		{strings.Repeat("x", 200), "PVH entry, no loader named (QEMU -kernel)"},
	} {
		si, err := Read(withCmdline(c.cmdline), 0x6000)
		if err != nil {
			t.Fatalf("%q: %v", c.cmdline, err)
		}
		if si.Cmdline != c.cmdline || si.Loader() != c.loader {
			t.Errorf("command line %q: read %q, loader %q; want %q", c.cmdline, si.Cmdline, si.Loader(), c.loader)
		}
	}
	// cmdline_paddr 0: no command line, no read.
	si, err := Read(image{0x6000: startInfo(StartInfoMagic, 1, 0), 0x7000: {}}, 0x6000)
	if err != nil || si.Cmdline != "" {
		t.Errorf("no command line: %q, %v", si.Cmdline, err)
	}
	// No NUL within the bound.
	mem := withCmdline("")
	mem[0x5000] = bytes.Repeat([]byte{'x'}, 2*maxCmdline)
	if _, err := Read(mem, 0x6000); err == nil || !strings.Contains(err.Error(), "no NUL within 4096 bytes") {
		t.Errorf("unterminated command line: %v", err)
	}
}
