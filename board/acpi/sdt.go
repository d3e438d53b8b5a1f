package acpi

import (
	"encoding/binary"
	"fmt"
)

// System Description Table Header (ACPI 6.0 §5.2.6).
const (
	SDT_SIGNATURE     = 0 // 4 bytes
	SDT_LENGTH        = 4 // 32-bit, the whole table including this header
	SDT_REVISION      = 8
	SDT_CHECKSUM      = 9  // the whole table sums to zero
	SDT_OEMID         = 10 // 6 bytes
	SDT_OEM_TABLE_ID  = 16 // 8 bytes
	SDT_OEM_REVISION  = 24
	SDT_HEADER_LENGTH = 36
)

// Signatures of the tables decoded here (§5.2.6).
const (
	RSDTSignature = "RSDT"
	XSDTSignature = "XSDT"
	FADTSignature = "FACP"
	MADTSignature = "APIC"
	DSDTSignature = "DSDT"
)

// maxTableLength bounds a table's length field before it is allocated, so a
// corrupt length cannot exhaust memory; it is far above any real DSDT.
const maxTableLength = 16 << 20

// Header is a System Description Table Header (§5.2.6) and the physical
// address of its table.
type Header struct {
	Signature   string
	Address     uint64
	Length      uint32
	Revision    uint8
	OEMID       string
	OEMTableID  string
	OEMRevision uint32
}

// String gives one line for a shell listing.
func (h Header) String() string {
	return fmt.Sprintf("%-4s at %#x length %d rev %d OEM %q %q", h.Signature, h.Address, h.Length, h.Revision, h.OEMID, h.OEMTableID)
}

// errorf makes a one-line error naming the table and its address.
func (h Header) errorf(format string, args ...any) error {
	return fmt.Errorf("acpi: %s at %#x: "+format, append([]any{h.Signature, h.Address}, args...)...)
}

// readTable reads the table at addr, checks its length and checksum and,
// when want is not empty, its signature.
func readTable(mem Memory, addr uint64, want string) (Header, []byte, error) {
	what := want
	if what == "" {
		what = "table"
	}
	hb := make([]byte, SDT_HEADER_LENGTH)
	if err := read(mem, hb, addr, what); err != nil {
		return Header{}, nil, err
	}
	h := Header{
		Signature:   printable(hb[SDT_SIGNATURE : SDT_SIGNATURE+4]),
		Address:     addr,
		Length:      binary.LittleEndian.Uint32(hb[SDT_LENGTH:]),
		Revision:    hb[SDT_REVISION],
		OEMID:       printable(hb[SDT_OEMID : SDT_OEMID+6]),
		OEMTableID:  printable(hb[SDT_OEM_TABLE_ID : SDT_OEM_TABLE_ID+8]),
		OEMRevision: binary.LittleEndian.Uint32(hb[SDT_OEM_REVISION:]),
	}
	if want != "" && string(hb[SDT_SIGNATURE:SDT_SIGNATURE+4]) != want {
		return Header{}, nil, fmt.Errorf("acpi: %s at %#x: signature is %q", want, addr, h.Signature)
	}
	switch {
	case h.Length < SDT_HEADER_LENGTH:
		return Header{}, nil, h.errorf("%w: length %d is shorter than the header", ErrTruncated, h.Length)
	case h.Length > maxTableLength:
		return Header{}, nil, h.errorf("length %d exceeds %d", h.Length, maxTableLength)
	}

	b := make([]byte, h.Length)
	if err := read(mem, b, addr, h.Signature); err != nil {
		return Header{}, nil, err
	}
	if sum := checksum(b); sum != 0 {
		return Header{}, nil, h.errorf("%w (sum %#02x)", ErrChecksum, sum)
	}
	return h, b, nil
}

// rootEntries returns the table addresses of an RSDT (§5.2.7, 32-bit
// entries) or XSDT (§5.2.8, 64-bit entries).
func rootEntries(h Header, b []byte, size int) ([]uint64, error) {
	n := len(b) - SDT_HEADER_LENGTH
	if n%size != 0 {
		return nil, h.errorf("%w: %d entry bytes are not a multiple of %d", ErrTruncated, n, size)
	}
	entries := make([]uint64, 0, n/size)
	for off := SDT_HEADER_LENGTH; off < len(b); off += size {
		var addr uint64
		if size == 8 {
			addr = binary.LittleEndian.Uint64(b[off:])
		} else {
			addr = uint64(binary.LittleEndian.Uint32(b[off:]))
		}
		if addr == 0 {
			return nil, h.errorf("entry %d is a null pointer", (off-SDT_HEADER_LENGTH)/size)
		}
		entries = append(entries, addr)
	}
	return entries, nil
}
