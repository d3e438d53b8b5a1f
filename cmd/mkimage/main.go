// Command mkimage writes the firmware's boot disk image, which boots from a
// legacy BIOS and from UEFI: a GPT disk whose protective MBR holds stage 1,
// a BIOS boot partition with stage 2 and the firmware payload (a header
// describing the firmware's load segments and PVH entry, then the
// segments), and an EFI system partition with the UEFI loader as
// \EFI\BOOT\BOOTX64.EFI and the same payload (layout and boot protocols in
// boot/README.md). It refuses an ELF or loader that does not fit that
// layout.
//
// Usage:
//
//	mkimage -mbr MBR.bin -stage2 STAGE2.bin -efi BOOTX64.EFI [-pad SIZE] [-active] -o IMAGE FIRMWARE.elf
//	mkimage -payload -o PAYLOAD FIRMWARE.elf
//	mkimage -pvhstub STUB.bin FIRMWARE.elf
//
// The second form writes the payload alone, the same bytes the image holds
// twice: the UEFI loader is built with its SHA-256 (boot/README.md,
// "Secure Boot"). The third adds the PVH entry stub (boot/pvhentry.S) to
// the firmware ELF in place (AddPVHStub), as the Makefile does after every
// build; the image's payload leaves it out.
//
// SIZE makes the image a disk of that size, the GPT covering all of it:
// bytes, or a number with K, M or G (binary units). -active marks the
// protective MBR's partition active, which UEFI ignores and some old
// BIOSes need to boot the disk (boot/README.md).
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
	efi := flag.String("efi", "", "UEFI loader (BOOTX64.EFI)")
	out := flag.String("o", "", "image to write")
	pad := flag.String("pad", "", "make the image a disk of SIZE (e.g. 64M)")
	payload := flag.Bool("payload", false, "write the firmware payload alone")
	active := flag.Bool("active", false, "mark the protective MBR's partition active, for old BIOSes")
	stub := flag.String("pvhstub", "", "add the PVH entry stub STUB.bin to FIRMWARE.elf in place")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: mkimage -mbr MBR.bin -stage2 STAGE2.bin -efi BOOTX64.EFI [-pad SIZE] [-active] -o IMAGE FIRMWARE.elf\n")
		fmt.Fprintf(os.Stderr, "       mkimage -payload -o PAYLOAD FIRMWARE.elf\n")
		fmt.Fprintf(os.Stderr, "       mkimage -pvhstub STUB.bin FIRMWARE.elf\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *stub == "" && (*out == "" || !*payload && (*mbr == "" || *stage2 == "" || *efi == "")) {
		flag.Usage()
		os.Exit(2)
	}
	run := func() error { return run(*mbr, *stage2, *efi, flag.Arg(0), *out, *pad, *active) }
	switch {
	case *stub != "":
		run = func() error { return addStub(*stub, flag.Arg(0)) }
	case *payload:
		run = func() error { return writePayload(flag.Arg(0), *out) }
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "mkimage: %v\n", err)
		os.Exit(1)
	}
}

func run(mbrPath, stage2Path, efiPath, elfPath, out, pad string, active bool) error {
	in := Image{Active: active}
	var err error
	for _, f := range []struct {
		path string
		b    *[]byte
	}{{mbrPath, &in.MBR}, {stage2Path, &in.Stage2}, {efiPath, &in.EFILoader}} {
		if *f.b, err = os.ReadFile(f.path); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(elfPath)
	if err != nil {
		return err
	}
	if in.Firmware, err = ReadFirmware(b); err != nil {
		return fmt.Errorf("%s: %w", elfPath, err)
	}
	if pad != "" {
		if in.Size, err = parseSize(pad); err != nil {
			return fmt.Errorf("-pad: %w", err)
		}
	}
	// Written aside and renamed, so a failed run leaves no half image.
	tmp := out + ".tmp"
	err = Build(tmp, in)
	if err != nil {
		os.Remove(tmp)
	}
	switch {
	case errors.Is(err, ErrMBR):
		return fmt.Errorf("%s: %w", mbrPath, err)
	case errors.Is(err, ErrStage2):
		return fmt.Errorf("%s: %w", stage2Path, err)
	case errors.Is(err, ErrEFI):
		return fmt.Errorf("%s: %w", efiPath, err)
	case errors.Is(err, ErrSize):
		return fmt.Errorf("-pad: %w", err)
	case err != nil:
		return fmt.Errorf("%s: %w", elfPath, err)
	}
	return os.Rename(tmp, out)
}

// addStub adds the PVH entry stub at stubPath to the firmware ELF at
// elfPath, which it rewrites (aside, then renamed).
func addStub(stubPath, elfPath string) error {
	stub, err := os.ReadFile(stubPath)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(elfPath)
	if err != nil {
		return err
	}
	if b, err = AddPVHStub(b, stub); err != nil {
		return fmt.Errorf("%s: %w", elfPath, err)
	}
	tmp := elfPath + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, elfPath)
}

// writePayload writes the payload of the firmware ELF at elfPath to out.
func writePayload(elfPath, out string) error {
	b, err := os.ReadFile(elfPath)
	if err != nil {
		return err
	}
	fw, err := ReadFirmware(b)
	if err != nil {
		return fmt.Errorf("%s: %w", elfPath, err)
	}
	p, err := Payload(fw)
	if err != nil {
		return fmt.Errorf("%s: %w", elfPath, err)
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, p, 0o644); err != nil {
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
