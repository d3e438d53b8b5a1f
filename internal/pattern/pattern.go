// Package pattern generates the sector contents that the shell's `ata write`
// puts on a disk and `ata verify` checks, so that a host test can compute
// every byte the firmware wrote and check a disk image after QEMU exits.
package pattern

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Pattern fills sectors.
type Pattern struct {
	// Kind is "byte", "lba" or "random".
	Kind string
	// Value is the fill byte (byte) or the seed (random).
	Value uint64
}

// Parse reads a pattern: 0xNN (every byte NN), "lba" (each 8-byte word is
// the sector's LBA) or "random:SEED" (a pseudo-random stream per sector,
// from SEED and the LBA).
func Parse(s string) (Pattern, error) {
	switch {
	case s == "lba":
		return Pattern{Kind: "lba"}, nil
	case strings.HasPrefix(s, "random:"):
		seed, err := strconv.ParseUint(strings.TrimPrefix(s, "random:"), 0, 64)
		if err != nil {
			return Pattern{}, fmt.Errorf("PATTERN: bad seed in %q", s)
		}
		return Pattern{Kind: "random", Value: seed}, nil
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		v, err := strconv.ParseUint(s[2:], 16, 8)
		if err == nil {
			return Pattern{Kind: "byte", Value: v}, nil
		}
	}
	return Pattern{}, fmt.Errorf("PATTERN: %q is not 0xNN, lba or random:SEED", s)
}

func (p Pattern) String() string {
	switch p.Kind {
	case "byte":
		return fmt.Sprintf("0x%02x", p.Value)
	case "random":
		return fmt.Sprintf("random:%d", p.Value)
	}
	return p.Kind
}

// Fill writes the pattern of the sectors starting at lba into buf, whose
// length is a multiple of sectorSize.
func (p Pattern) Fill(buf []byte, lba uint64, sectorSize int) {
	for off := 0; off+sectorSize <= len(buf); off += sectorSize {
		p.sector(buf[off:off+sectorSize], lba)
		lba++
	}
}

func (p Pattern) sector(s []byte, lba uint64) {
	switch p.Kind {
	case "byte":
		for i := range s {
			s[i] = byte(p.Value)
		}
	case "lba":
		for i := 0; i+8 <= len(s); i += 8 {
			binary.LittleEndian.PutUint64(s[i:], lba)
		}
	case "random":
		x := p.Value ^ lba*0x9e3779b97f4a7c15
		for i := 0; i+8 <= len(s); i += 8 {
			x = splitmix64(&x)
			binary.LittleEndian.PutUint64(s[i:], x)
		}
	}
}

// splitmix64 is Steele, Lea and Flood's SplitMix64 step: a fast generator
// whose output is the same on the host and in the firmware.
func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
