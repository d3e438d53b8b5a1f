// Command mkimage writes the firmware's boot disk image for PCs with a
// legacy BIOS: the stage 1 MBR and stage 2 assembled from boot/, a header
// describing the firmware's load segments and PVH entry, and the segments
// themselves (layout and boot protocol in boot/README.md). It refuses an
// ELF or loader that does not fit that layout.
//
// Usage:
//
//	mkimage -mbr MBR.bin -stage2 STAGE2.bin [-pad SIZE] -o IMAGE FIRMWARE.elf
//
// SIZE pads the image with zeros to look like a disk of that size: bytes,
// or a number with K, M or G (binary units).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	mbr := flag.String("mbr", "", "stage 1 (MBR) binary")
	stage2 := flag.String("stage2", "", "stage 2 binary")
	out := flag.String("o", "", "image to write")
	pad := flag.String("pad", "", "pad the image to SIZE (e.g. 64M)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: mkimage -mbr MBR.bin -stage2 STAGE2.bin [-pad SIZE] -o IMAGE FIRMWARE.elf\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *mbr == "" || *stage2 == "" || *out == "" || flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*mbr, *stage2, flag.Arg(0), *out, *pad); err != nil {
		fmt.Fprintf(os.Stderr, "mkimage: %v\n", err)
		os.Exit(1)
	}
}

func run(mbrPath, stage2Path, elfPath, out, pad string) error {
	mbr, err := os.ReadFile(mbrPath)
	if err != nil {
		return err
	}
	stage2, err := os.ReadFile(stage2Path)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(elfPath)
	if err != nil {
		return err
	}
	fw, err := ReadFirmware(b)
	if err != nil {
		return fmt.Errorf("%s: %w", elfPath, err)
	}
	img, err := Build(mbr, stage2, fw)
	switch {
	case errors.Is(err, ErrMBR):
		return fmt.Errorf("%s: %w", mbrPath, err)
	case errors.Is(err, ErrStage2):
		return fmt.Errorf("%s: %w", stage2Path, err)
	case err != nil:
		return fmt.Errorf("%s: %w", elfPath, err)
	}
	if pad != "" {
		size, err := parseSize(pad)
		if err != nil {
			return fmt.Errorf("-pad: %w", err)
		}
		if img, err = Pad(img, size); err != nil {
			return fmt.Errorf("-pad: %w", err)
		}
	}
	// Written aside and renamed, so a failed run leaves no half image.
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, img, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// parseSize reads a byte count with an optional K, M or G suffix (powers
// of 1024).
func parseSize(s string) (int64, error) {
	shift := 0
	switch {
	case strings.HasSuffix(s, "K"):
		shift = 10
	case strings.HasSuffix(s, "M"):
		shift = 20
	case strings.HasSuffix(s, "G"):
		shift = 30
	}
	n, err := strconv.ParseInt(strings.TrimRight(s, "KMG"), 10, 64)
	if err != nil || n < 0 || n > 1<<(62-shift) {
		return 0, fmt.Errorf("bad size %q (bytes, or a number with K, M or G)", s)
	}
	return n << shift, nil
}
