package acpi

import (
	"encoding/binary"
	"fmt"
)

// RSDP search areas on IA-PC systems (ACPI 6.0 §5.2.5.1).
const (
	// EBDA_POINTER is where the BIOS data area keeps the real-mode segment
	// of the Extended BIOS Data Area.
	EBDA_POINTER = 0x40e
	// EBDA_SEARCH_LENGTH is the part of the EBDA that is searched.
	EBDA_SEARCH_LENGTH = 1024
	// BIOS_AREA_START and BIOS_AREA_END bound the read-only BIOS area
	// searched after the EBDA (inclusive).
	BIOS_AREA_START = 0xe0000
	BIOS_AREA_END   = 0xfffff
	// RSDP_ALIGN: the RSDP sits on a 16-byte boundary.
	RSDP_ALIGN = 16
)

// RSDP structure (ACPI 6.0 §5.2.5.3).
const (
	RSDP_SIGNATURE         = "RSD PTR "
	RSDP_CHECKSUM          = 8  // covers the first RSDP_V1_LENGTH bytes
	RSDP_OEMID             = 9  // 6 bytes
	RSDP_REVISION          = 15 // 0 for ACPI 1.0, 2 since ACPI 2.0
	RSDP_RSDT_ADDRESS      = 16 // 32-bit
	RSDP_V1_LENGTH         = 20
	RSDP_LENGTH            = 20 // revision 2: length of the whole structure
	RSDP_XSDT_ADDRESS      = 24 // revision 2: 64-bit
	RSDP_EXTENDED_CHECKSUM = 32 // revision 2: covers RSDP_LENGTH bytes
	RSDP_V2_LENGTH         = 36
)

// RSDP is a Root System Description Pointer and where it was found.
// XSDTAddress and Length are zero for revision 0.
type RSDP struct {
	Address     uint64
	OEMID       string
	Revision    uint8
	RSDTAddress uint32
	Length      uint32
	XSDTAddress uint64
}

// String gives one line for a shell listing.
func (r RSDP) String() string {
	s := fmt.Sprintf("RSDP at %#x rev %d OEM %q RSDT %#x", r.Address, r.Revision, r.OEMID, r.RSDTAddress)
	if r.Revision >= 2 {
		s += fmt.Sprintf(" XSDT %#x", r.XSDTAddress)
	}
	return s
}

// findRSDP searches the areas of §5.2.5.1 in order and returns the address
// of the first RSDP whose checksums hold. Candidates with the signature but a
// bad checksum are skipped, as a stray "RSD PTR " in BIOS code can be; when
// nothing valid is found the first such failure is returned.
func findRSDP(mem Memory) (uint64, error) {
	var seg [2]byte
	if err := read(mem, seg[:], EBDA_POINTER, "EBDA pointer"); err != nil {
		return 0, err
	}
	ebda := uint64(binary.LittleEndian.Uint16(seg[:])) << 4

	var areas [][2]uint64
	if ebda != 0 {
		areas = append(areas, [2]uint64{ebda, EBDA_SEARCH_LENGTH})
	}
	areas = append(areas, [2]uint64{BIOS_AREA_START, BIOS_AREA_END - BIOS_AREA_START + 1})

	var firstErr error
	for _, a := range areas {
		buf := make([]byte, a[1])
		if err := read(mem, buf, a[0], "RSDP search area"); err != nil {
			return 0, err
		}
		for off := 0; off+RSDP_V1_LENGTH <= len(buf); off += RSDP_ALIGN {
			if string(buf[off:off+len(RSDP_SIGNATURE)]) != RSDP_SIGNATURE {
				continue
			}
			addr := a[0] + uint64(off)
			if _, err := readRSDP(mem, addr); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			return addr, nil
		}
	}
	if firstErr != nil {
		return 0, firstErr
	}
	return 0, fmt.Errorf("acpi: RSDP %w in the EBDA (%#x) or %#x-%#x", ErrNotFound, ebda, BIOS_AREA_START, BIOS_AREA_END)
}

// readRSDP reads and checks the RSDP at addr (§5.2.5.3): the signature, the
// checksum of the ACPI 1.0 part and, from revision 2, the extended checksum
// over Length bytes.
func readRSDP(mem Memory, addr uint64) (RSDP, error) {
	b := make([]byte, RSDP_V1_LENGTH)
	if err := read(mem, b, addr, "RSDP"); err != nil {
		return RSDP{}, err
	}
	if string(b[:len(RSDP_SIGNATURE)]) != RSDP_SIGNATURE {
		return RSDP{}, fmt.Errorf("acpi: RSDP at %#x: signature %q", addr, printable(b[:len(RSDP_SIGNATURE)]))
	}
	if sum := checksum(b); sum != 0 {
		return RSDP{}, fmt.Errorf("acpi: RSDP at %#x: %w (sum %#02x)", addr, ErrChecksum, sum)
	}
	r := RSDP{
		Address:     addr,
		OEMID:       printable(b[RSDP_OEMID : RSDP_OEMID+6]),
		Revision:    b[RSDP_REVISION],
		RSDTAddress: binary.LittleEndian.Uint32(b[RSDP_RSDT_ADDRESS:]),
	}
	if r.Revision < 2 {
		return r, nil
	}

	ext := make([]byte, RSDP_V2_LENGTH)
	if err := read(mem, ext, addr, "RSDP"); err != nil {
		return RSDP{}, err
	}
	r.Length = binary.LittleEndian.Uint32(ext[RSDP_LENGTH:])
	if r.Length < RSDP_V2_LENGTH || r.Length > maxTableLength {
		return RSDP{}, fmt.Errorf("acpi: RSDP at %#x: %w: revision %d length %d", addr, ErrTruncated, r.Revision, r.Length)
	}
	if r.Length > RSDP_V2_LENGTH {
		ext = make([]byte, r.Length)
		if err := read(mem, ext, addr, "RSDP"); err != nil {
			return RSDP{}, err
		}
	}
	if sum := checksum(ext); sum != 0 {
		return RSDP{}, fmt.Errorf("acpi: RSDP at %#x: %w (extended, sum %#02x)", addr, ErrChecksum, sum)
	}
	r.XSDTAddress = binary.LittleEndian.Uint64(ext[RSDP_XSDT_ADDRESS:])
	return r, nil
}
