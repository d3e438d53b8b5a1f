// Command tracerun is `make trace`: it boots the firmware in QEMU on the
// tests' machine (internal/qemu) with two scratch disks, one per IDE
// channel, runs a short two-channel load with the recorder on (DMA on
// ata0, PIO on ata1: `ata stress 0:0 1:0`), and writes what `trace dump`
// printed as build/trace.json (Chrome trace-event JSON: open it in
// ui.perfetto.dev or chrome://tracing) and a picture of the same events,
// build/trace.svg (internal/tracesvg). The firmware's console goes to
// standard error, but for the dump itself.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ataport/firmware/internal/qemu"
	"github.com/ataport/firmware/internal/tracesvg"
)

// The marker lines of `trace dump` (cmd/firmware/tracecmd.go).
const (
	jsonBegin = "--- trace json begin ---"
	jsonEnd   = "--- trace json end ---"
)

func main() {
	elf := flag.String("elf", "build/firmware.elf", "firmware image")
	out := flag.String("out", "build", "directory for trace.json, trace.svg and the scratch disks")
	load := flag.String("time", "2s", "duration of the load")
	start := flag.String("start", "trace start", "the command that starts the recorder")
	timeout := flag.Duration("timeout", 10*time.Minute, "the whole run at most")
	flag.Parse()
	if err := run(*elf, *out, *load, *start, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "tracerun:", err)
		os.Exit(1)
	}
}

func run(elf, out, load, start string, timeout time.Duration) error {
	var drives []qemu.Drive
	for bus, name := range []string{"trace-a.img", "trace-b.img"} {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		if err := os.Truncate(path, 32<<20); errors.Is(err, os.ErrNotExist) {
			f, err := os.Create(path)
			if err != nil {
				return err
			}
			f.Close()
			err = os.Truncate(path, 32<<20)
		}
		drives = append(drives, qemu.Drive{File: path, Bus: bus})
	}
	con, err := qemu.Launch(qemu.Command(elf, qemu.Options{Drives: drives}), time.Now().Add(timeout))
	if err != nil {
		return err
	}
	defer con.Kill()
	if _, err := con.Until(qemu.Prompt); err != nil {
		return err
	}
	var dump string
	for _, c := range []string{"ata rw on 0:0", "ata rw on 1:0", "ata mode 0:0 dma", "ata mode 1:0 pio", start,
		"ata stress 0:0 1:0 -time " + load + " -workers 4", "trace stop", "trace dump"} {
		con.Echo = os.Stderr
		if c == "trace dump" {
			con.Echo = nil // megabytes of events
		}
		got, err := con.Run(c)
		if err != nil {
			return err
		}
		dump = got
	}
	con.Halt()

	i, j := strings.Index(dump, jsonBegin), strings.Index(dump, jsonEnd)
	if i < 0 || j < i {
		return errors.New("trace dump: no JSON between the marker lines")
	}
	js := []byte(strings.ReplaceAll(dump[i+len(jsonBegin):j], "\r\n", "\n"))
	fmt.Fprint(os.Stderr, dump[j:])
	jsonPath, svgPath := filepath.Join(out, "trace.json"), filepath.Join(out, "trace.svg")
	if err := os.WriteFile(jsonPath, js, 0o644); err != nil {
		return err
	}
	f, err := os.Create(svgPath)
	if err != nil {
		return err
	}
	if err := tracesvg.Render(f, js); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("wrote %s (open it in https://ui.perfetto.dev) and %s\n", jsonPath, svgPath)
	return nil
}
