package miniport_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/sff/sfftest"
)

func TestParseIdentify(t *testing.T) {
	disk := sfftest.IdentifySpec{
		Model: "QEMU HARDDISK", Serial: "QM00001", Firmware: "2.5+",
		Sectors28: 0x0fffffff, Sectors48: 0x12345678, LBA48: true,
		PIO3: true, PIO4: true, MWDMA: 7, UDMA: 0x3f, IORDY: true,
		WriteCache: true, WriteCacheEnabled: true, Flush: true, FlushExt: true,
		Checksum: true, MultipleMax: 16,
	}
	for _, tc := range []struct {
		name string
		spec sfftest.IdentifySpec
		edit func(b []byte)
		want miniport.Identify
		err  string
	}{
		{
			name: "LBA48 disk",
			spec: disk,
			want: miniport.Identify{
				Type: miniport.DeviceATA, Model: "QEMU HARDDISK", Serial: "QM00001", Firmware: "2.5+",
				LBA: true, LBA48: true, Sectors28: 0x0fffffff, Sectors48: 0x12345678, Sectors: 0x12345678,
				SectorSize: 512, DMA: true, IORDY: true, MultipleMax: 16,
				Modes:      miniport.PIOModes | miniport.MWDMAModes | miniport.UDMA0 | miniport.UDMA1 | miniport.UDMA2 | miniport.UDMA3 | miniport.UDMA4 | miniport.UDMA5,
				WriteCache: true, WriteCacheEnabled: true, FlushCache: true, FlushCacheExt: true,
				Checksummed: true,
			},
		},
		{
			name: "LBA28 disk, no checksum",
			spec: sfftest.IdentifySpec{Model: "OLD DISK", Serial: "1", Firmware: "A", Sectors28: 1000, MWDMA: 3},
			want: miniport.Identify{
				Type: miniport.DeviceATA, Model: "OLD DISK", Serial: "1", Firmware: "A",
				LBA: true, Sectors28: 1000, Sectors: 1000, SectorSize: 512, DMA: true,
				Modes: miniport.PIO0 | miniport.PIO1 | miniport.PIO2 | miniport.MWDMA0 | miniport.MWDMA1,
			},
		},
		{
			name: "4096-byte logical sectors",
			spec: sfftest.IdentifySpec{Model: "AF", Sectors28: 1000, LogicalSectorWords: 2048},
			want: miniport.Identify{
				Type: miniport.DeviceATA, Model: "AF", LBA: true, Sectors28: 1000, Sectors: 1000,
				SectorSize: 4096, DMA: true, Modes: miniport.PIO0 | miniport.PIO1 | miniport.PIO2,
			},
		},
		{
			name: "ATAPI CD-ROM",
			spec: sfftest.IdentifySpec{ATAPI: true, Model: "QEMU DVD-ROM", Serial: "QM00003", Firmware: "2.5+",
				PIO4: true, MWDMA: 7, PacketDRQ: 1, IORDY: true},
			want: miniport.Identify{
				Type: miniport.DeviceATAPI, Model: "QEMU DVD-ROM", Serial: "QM00003", Firmware: "2.5+",
				LBA: true, SectorSize: 512, DMA: true, IORDY: true,
				Modes:      miniport.PIOModes | miniport.MWDMAModes,
				PacketSize: 12, PacketDRQ: miniport.DRQInterrupt, PacketSet: 5,
			},
		},
		{
			name: "48-bit with zero capacity falls back to 28-bit",
			spec: sfftest.IdentifySpec{Model: "X", Sectors28: 5000, LBA48: true},
			want: miniport.Identify{
				Type: miniport.DeviceATA, Model: "X", LBA: true, Sectors28: 5000, Sectors: 5000,
				SectorSize: 512, DMA: true, Modes: miniport.PIO0 | miniport.PIO1 | miniport.PIO2,
			},
		},
		{name: "bad checksum", spec: sfftest.IdentifySpec{Model: "X", Sectors28: 1, Checksum: true, BadChecksum: true}, err: "checksum wrong"},
		{name: "all ones", edit: func(b []byte) {
			for i := range b {
				b[i] = 0xff
			}
		}, err: "all ones"},
		{name: "all zeros", edit: func(b []byte) {
			for i := range b {
				b[i] = 0
			}
		}, err: "all zeros"},
		{name: "CHS only", spec: sfftest.IdentifySpec{Model: "X", NoLBA: true}, err: "CHS only"},
		{name: "word 0 neither", spec: sfftest.IdentifySpec{Model: "X", Sectors28: 1}, edit: func(b []byte) { b[1] = 0xc0 }, err: "word 0"},
		{name: "odd logical sector", spec: sfftest.IdentifySpec{Model: "X", Sectors28: 1, LogicalSectorWords: 300}, err: "power of two"},
	} {
		b := sfftest.BuildIdentify(tc.spec)
		if tc.edit != nil {
			tc.edit(b)
		}
		got, err := miniport.ParseIdentify(b)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	if _, err := miniport.ParseIdentify(make([]byte, 511)); err == nil {
		t.Error("511 bytes accepted")
	}
}

// The strings are byte-swapped per word: "QEMU" is stored as 'E','Q','U','M'.
func TestIdentifyStringOrder(t *testing.T) {
	b := sfftest.BuildIdentify(sfftest.IdentifySpec{Model: "QEMU", Sectors28: 1})
	if string(b[54:58]) != "EQUM" {
		t.Fatalf("model bytes %q, want the ATA string convention EQUM", b[54:58])
	}
	b[60], b[61] = 0x01, 'Z' // a control character becomes '?'
	id, err := miniport.ParseIdentify(b)
	if err != nil {
		t.Fatal(err)
	}
	if id.Model != "QEMU  Z?" {
		t.Errorf("model %q", id.Model)
	}
}

func FuzzParseIdentify(f *testing.F) {
	f.Add(sfftest.BuildIdentify(sfftest.IdentifySpec{Model: "QEMU HARDDISK", Sectors28: 100, LBA48: true, Sectors48: 1 << 40, Checksum: true}))
	f.Add(sfftest.BuildIdentify(sfftest.IdentifySpec{ATAPI: true, Model: "CD"}))
	f.Add(make([]byte, 512))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := miniport.ParseIdentify(b)
		if err != nil {
			return
		}
		if id.SectorSize < 512 || id.SectorSize&(id.SectorSize-1) != 0 {
			t.Errorf("sector size %d", id.SectorSize)
		}
		if id.Sectors > miniport.LBA48Limit {
			t.Errorf("capacity %d beyond 2^48", id.Sectors)
		}
		if id.Type == miniport.DeviceATA && (id.Sectors == 0 || !id.LBA) {
			t.Errorf("ATA device accepted with capacity %d, LBA %v", id.Sectors, id.LBA)
		}
		if id.Type != miniport.DeviceATA && id.Type != miniport.DeviceATAPI {
			t.Errorf("type %v", id.Type)
		}
	})
}

// A device that lies about its capacity is refused with the words named:
// none at all, or more than 48-bit commands address.
func TestParseIdentifyCapacityLies(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec sfftest.IdentifySpec
		err  string
	}{
		{"28-bit capacity 0", sfftest.IdentifySpec{Model: "X", Checksum: true}, "capacity of 0 sectors"},
		{"48-bit capacity 0 and 28-bit 0", sfftest.IdentifySpec{Model: "X", LBA48: true, Checksum: true}, "capacity of 0 sectors"},
		{"48-bit capacity 2^48+1", sfftest.IdentifySpec{Model: "X", Sectors28: 0x0fffffff, LBA48: true, Sectors48: miniport.LBA48Limit + 1, Checksum: true}, "beyond 2^48"},
		{"48-bit capacity 2^64-1", sfftest.IdentifySpec{Model: "X", Sectors28: 0x0fffffff, LBA48: true, Sectors48: ^uint64(0)}, "beyond 2^48"},
	} {
		_, err := miniport.ParseIdentify(sfftest.BuildIdentify(tc.spec))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.err)
		}
	}
	id, err := miniport.ParseIdentify(sfftest.BuildIdentify(sfftest.IdentifySpec{Model: "X", Sectors28: 0x0fffffff, LBA48: true, Sectors48: miniport.LBA48Limit}))
	if err != nil || id.Sectors != miniport.LBA48Limit {
		t.Errorf("capacity of exactly 2^48 sectors: %d, %v", id.Sectors, err)
	}
}

// TestParseIdentifyNCQ checks words 75 and 76 (SATA 2.6 §13.6, ATA8-ACS
// IDENTIFY DEVICE): NCQ from word 76 bit 8 with the depth in word 75 bits
// 4:0 plus one; word 76 reading 0000h or FFFFh means no SATA capabilities;
// a PACKET device has no NCQ whatever word 76 says (QEMU's sets the bit).
func TestParseIdentifyNCQ(t *testing.T) {
	for _, tc := range []struct {
		name     string
		atapi    bool
		w75, w76 uint16
		ncq      bool
		depth    int
	}{
		{"QEMU: NCQ, 32 tags", false, 31, 1 << 8, true, 32},
		{"NCQ, 1 tag", false, 0, 1<<8 | 1<<1, true, 1},
		{"no NCQ bit", false, 31, 1 << 1, false, 0},
		{"word 76 all ones is not valid", false, 31, 0xffff, false, 0},
		{"word 76 zero", false, 31, 0, false, 0},
		{"QEMU's CD on AHCI: PACKET device", true, 31, 1 << 8, false, 0},
	} {
		raw := sfftest.BuildIdentify(sfftest.IdentifySpec{Model: "X", Sectors28: 5000, LBA48: true, Sectors48: 5000, ATAPI: tc.atapi})
		binary.LittleEndian.PutUint16(raw[75*2:], tc.w75)
		binary.LittleEndian.PutUint16(raw[76*2:], tc.w76)
		id, err := miniport.ParseIdentify(raw)
		if err != nil || id.NCQ != tc.ncq || id.NCQDepth != tc.depth {
			t.Errorf("%s: NCQ %v depth %d err %v; want %v %d", tc.name, id.NCQ, id.NCQDepth, err, tc.ncq, tc.depth)
		}
	}
}
