package shell

import (
	"fmt"
	"io"
)

// HexDump writes data as lines of 16 bytes: the address of the first byte
// (addr for data[0]), the bytes in hex, and their printable ASCII with '.'
// for the rest, in the layout of hexdump -C.
func HexDump(w io.Writer, addr uint64, data []byte) error {
	var line []byte

	for off := 0; off < len(data); off += 16 {
		row := data[off:min(off+16, len(data))]

		line = fmt.Appendf(line[:0], "%08x ", addr+uint64(off))
		for i := range 16 {
			if i == 8 {
				line = append(line, ' ')
			}
			if i < len(row) {
				line = fmt.Appendf(line, " %02x", row[i])
			} else {
				line = append(line, "   "...)
			}
		}

		line = append(line, "  |"...)
		for _, b := range row {
			if b < 0x20 || b >= 0x7f {
				b = '.'
			}
			line = append(line, b)
		}
		line = append(line, "|\n"...)

		if _, err := w.Write(line); err != nil {
			return err
		}
	}

	return nil
}
