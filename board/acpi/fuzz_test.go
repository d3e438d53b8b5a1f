package acpi

import (
	"encoding/binary"
	"testing"
)

// capturedTables returns the tables of a captured machine, DSDT last, as
// seeds: the bytes the decoders meet on QEMU.
func capturedTables(f *testing.F, machine string) [][]byte {
	m := captured(f, machine)
	tabs, err := Find(m)
	if err != nil {
		f.Fatal(err)
	}
	var l [][]byte
	for _, h := range tabs.Tables[1:] {
		l = append(l, m.at(h.Address)[:h.Length])
	}
	return l
}

// FuzzDecodeTable runs every decoder on any table that passes readTable,
// whatever its signature: none may panic.
func FuzzDecodeTable(f *testing.F) {
	for _, machine := range []string{"pc", "q35"} {
		for _, t := range capturedTables(f, machine) {
			f.Add(t)
		}
	}
	f.Add(madt(1, iso(0, 2, 0), []byte{MADT_LOCAL_APIC_ADDRESS_OVERRIDE, 12, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add(sdt("DSDT", 2, aml(s5, []byte{0x41, 0x01, 0x04, BytePrefix, 3, BytePrefix, 4})))
	f.Add(sdt("DSDT", 2, aml(s5, []byte{0x05, 0x01, WordPrefix, 0x05, 0x07})))

	f.Fuzz(func(t *testing.T, data []byte) {
		b := append([]byte(nil), data...)
		if len(b) >= SDT_HEADER_LENGTH {
			binary.LittleEndian.PutUint32(b[SDT_LENGTH:], uint32(len(b)))
			fixChecksum(b)
		}
		h, tb, err := readTable(fakeMemory{{0x1000, b}}, 0x1000, "")
		if err != nil {
			return
		}
		_ = h.String()
		if fadt, err := decodeFADT(h, tb); err == nil {
			_, _ = fadt.PMTimerPort()
			_, _, _ = fadt.Reset()
			_ = fadt.String()
		}
		if m, err := decodeMADT(h, tb); err == nil {
			for irq := 0; irq < 16; irq++ {
				_, _ = m.ISAInterrupt(uint8(irq))
			}
			for _, e := range m.Entries {
				_ = e.String()
			}
		}
		if s5, err := findS5(h, tb); err == nil && s5 != nil {
			_ = s5.String()
		}
		for _, size := range []int{4, 8} {
			_, _ = rootEntries(h, tb, size)
		}
	})
}

// FuzzFind walks a machine whose RSDT lists the tables carved from data
// (each by its length field, checksums fixed so decoding is reached), with a
// table signed DSDT moved to where the FADT points.
func FuzzFind(f *testing.F) {
	for _, machine := range []string{"pc", "q35"} {
		var seed []byte
		for _, t := range capturedTables(f, machine) {
			seed = append(seed, t...)
		}
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		var s synth
		for len(data) >= SDT_HEADER_LENGTH {
			n := int(binary.LittleEndian.Uint32(data[SDT_LENGTH:]))
			if n < SDT_HEADER_LENGTH || n > len(data) {
				n = len(data)
			}
			tb := append([]byte(nil), data[:n]...)
			data = data[n:]
			binary.LittleEndian.PutUint32(tb[SDT_LENGTH:], uint32(n))
			switch string(tb[:4]) {
			case DSDTSignature:
				fixChecksum(tb)
				s.dsdt = tb
				continue
			case FADTSignature:
				if n >= FADT_DSDT+4 {
					binary.LittleEndian.PutUint32(tb[FADT_DSDT:], synthDSDT)
				}
				if n >= FADT_X_DSDT+8 {
					binary.LittleEndian.PutUint64(tb[FADT_X_DSDT:], 0)
				}
			}
			fixChecksum(tb)
			s.tables = append(s.tables, tb)
		}
		if tabs, err := Find(s.memory()); err == nil {
			_ = tabs.Lines()
		}
	})
}
