// Command benchrun is `make bench`: it boots the firmware in QEMU, on the
// machine the integration tests use (internal/qemu), with a scratch disk,
// runs `irql bench`, `ata bench` (4K random reads also with the event
// recorder on, records tagged "trace") and `irq latency`, then boots it again on
// q35 with the same disk on port 0 of the ICH9 AHCI controller and runs
// `ata bench` there (sequential reads and writes, random 4 KiB reads at
// QD1, QD8 and QD32), and prints one JSON object per measurement on
// standard output: the boot times, each `irql bench` row, each `ata bench`
// result and each latency figure, each with the firmware's commit, the
// QEMU version, the machine and the host CPU. With -image it first boots
// the boot image under UEFI (OVMF, no -kernel) and reports that boot split
// into OVMF, the UEFI loader and the firmware's entry to its shell. The
// firmware's own output goes to standard error as it comes. No
// test asserts on the figures.
//
// With -peer (make bench-peer) it runs none of that: it pairs the figures
// issues 10 and 13 set as ratios to Linux, each with a boot of
// ../shared/linux-peer right next to it on the same disk image, over
// several rounds (peer.go).
//
// The disk is a raw image, sparse, whose first -fill bytes are
// pseudo-random data (the same each run), so that reads return real data;
// the benchmark reads and writes only there. It is attached with
// cache=writeback, QEMU's default and what the tests, `make qemu` and the
// Linux figures of the README use: the image then sits in the host's page
// cache, so the figures measure the emulated controller and the firmware,
// not the host's disk (cache=none would add the host disk's latency to
// every request, and its variation to the spread).
package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ataport/firmware/internal/qemu"
)

const prompt = qemu.Prompt

func main() {
	elf := flag.String("elf", "build/firmware.elf", "firmware image")
	disk := flag.String("disk", "build/bench.img", "scratch disk image, made when absent")
	size := flag.Int64("size", 1<<30, "disk image size in bytes")
	fill := flag.Int64("fill", 256<<20, "bytes of pseudo-random data at the start of the image; the benchmark stays within them")
	pass := flag.String("time", "1s", "duration of each ata bench pass")
	passes := flag.Int("passes", 3, "measured passes of each ata bench test")
	sizes := flag.String("sizes", "1M,64K,4K", "sequential request sizes, comma-separated; random reads are 4K")
	timeout := flag.Duration("timeout", 20*time.Minute, "the whole run at most")
	image := flag.String("image", "", "boot image (make image) to boot under UEFI first; none to skip")
	var pc peerConfig
	flag.StringVar(&pc.Dir, "peer", "", "linux-peer's directory: instead of the runs above, pair each figure with a target against Linux with a linux-peer boot next to it (run.sh needs root)")
	flag.StringVar(&pc.Work, "peer-work", "/tmp/linux-peer-work", "linux-peer's work directory (LPEER_WORK); both sides use its disk.img")
	modes := flag.String("peer-modes", "pio,dma,ahci", "linux-peer modes to pair, in order")
	flag.IntVar(&pc.Rounds, "peer-rounds", 5, "rounds per mode, each one Linux boot and one firmware boot")
	flag.IntVar(&pc.Passes, "peer-passes", 1, "Linux's passes per boot (LPEER_PASSES)")
	flag.IntVar(&pc.SeqMiB, "peer-seq-mib", 64, "Linux's MiB per sequential pass (LPEER_SEQ_MIB)")
	flag.IntVar(&pc.RandSecs, "peer-rand-secs", 3, "Linux's seconds per random-read pass (LPEER_RAND_SECS)")
	flag.StringVar(&pc.AHCIParams, "peer-ahci-params", "libata.force=max_sec_lba48", "Linux's kernel parameters in ahci mode (LPEER_AHCI_PARAMS): 1 MiB commands, as the firmware's")
	flag.Parse()
	if pc.Dir != "" {
		var err error
		if pc.Modes, err = peerModes(*modes); err == nil {
			pc.Pass, pc.FwPasses, pc.Timeout = *pass, *passes, *timeout
			err = peer(*elf, pc)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchrun:", err)
			os.Exit(1)
		}
		return
	}
	if *image != "" {
		if err := uefiBoot(*image, *timeout); err != nil {
			fmt.Fprintln(os.Stderr, "benchrun: UEFI boot:", err)
			os.Exit(1)
		}
	}
	if err := run(*elf, *disk, *size, *fill, *pass, *passes, strings.Split(*sizes, ","), *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(1)
	}
}

// uefiBoot boots image (a snapshot: nothing is written to it) under OVMF
// on the tests' machine and prints one "uefi-boot" record, timed on the
// host clock by the lines the UEFI loader prints, with the firmware's own
// figure from its entry to the shell.
func uefiBoot(image string, timeout time.Duration) error {
	dir, err := os.MkdirTemp("", "benchrun-ovmf")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	vars, err := qemu.CopyOVMFVars(dir, qemu.OVMFVarsFile)
	if err != nil {
		return err
	}
	args := qemu.Command("", qemu.Options{NoKernel: true, OVMFVars: vars, Drives: []qemu.Drive{{File: image, Extra: "snapshot=on"}}})
	rec := Record{Kind: "uefi-boot", Env: newEnv(args)}
	con, err := qemu.Launch(args, time.Now().Add(timeout))
	if err != nil {
		return err
	}
	defer con.Kill()
	if _, err := con.Until("boot: ataport UEFI loader"); err != nil {
		return err
	}
	ovmf := time.Since(con.Started)
	if _, err := con.Until("boot: starting firmware"); err != nil {
		return err
	}
	loader := time.Since(con.Started) - ovmf
	out, err := con.Until(prompt)
	if err != nil {
		return err
	}
	rec.ToPromptMs, rec.OVMFMs, rec.LoaderMs = ms(time.Since(con.Started)), ms(ovmf), ms(loader)
	rec.Commit = builtFrom(out)
	for _, r := range parse(out, rec.Env) {
		if r.Kind == "boot" {
			rec.EntryToShellMs = r.EntryToShellMs
		}
	}
	con.Halt()

	js, err := lines([]Record{rec})
	if err != nil {
		return err
	}
	_, err = os.Stdout.WriteString(js)
	return err
}

func run(elf, disk string, size, fill int64, pass string, passes int, sizes []string, timeout time.Duration) error {
	if fill <= 0 || fill > size || fill%(1<<20) != 0 {
		return errors.New("-fill must be a positive number of MiB, at most -size")
	}
	if err := makeDisk(disk, size, fill); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	sectors := fill / 512
	common := fmt.Sprintf("-lba 0 -count %d -time %s -passes %d", sectors, pass, passes)
	// irq latency covers the ata bench runs: reset after irql bench,
	// read before the recorder's rings are allocated (trace start zeroes
	// megabytes, README "Known problems").
	cmds := []string{"irql bench", "ata rw on 0:0", "irq latency reset"}
	for i, s := range sizes {
		tests := "seq-read,seq-write"
		if i == 0 {
			tests += ",rand-read"
		}
		cmds = append(cmds, fmt.Sprintf("ata bench 0:0 -size %s -tests %s %s", s, tests, common))
	}
	// The recorder's cost: 4K random reads with it off, then on with
	// every class and rings big enough that nothing is dropped; tags[i]
	// tags the records of cmds[i].
	rr := fmt.Sprintf("ata bench 0:0 -size 4K -tests rand-read %s", common)
	tags := make([]string, len(cmds))
	cmds = append(cmds, rr, "irq latency", "trace start -size 2097152", rr, "trace stop")
	tags = append(tags, "off", "", "", "on", "")
	pcRecs, err := session(elf, onPC(disk), cmds, tags, deadline)
	if err != nil {
		return fmt.Errorf("pc: %w", err)
	}
	// q35: the AHCI rows.
	cmds = []string{"ata rw on 0:0",
		fmt.Sprintf("ata bench 0:0 -size %s -tests seq-read,seq-write -modes dma %s", sizes[0], common)}
	for _, qd := range []int{1, 8, 32} {
		cmds = append(cmds, fmt.Sprintf("ata bench 0:0 -tests rand-read -modes dma -qd %d %s", qd, common))
	}
	q35Recs, err := session(elf, onQ35(disk), cmds, nil, deadline)
	if err != nil {
		return fmt.Errorf("q35: %w", err)
	}
	js, err := lines(append(pcRecs, q35Recs...))
	if err != nil {
		return err
	}
	_, err = os.Stdout.WriteString(js)
	return err
}

// onPC is the tests' machine (pc) with disk as the primary master IDE
// disk, 0:0.
func onPC(disk string) qemu.Options {
	return qemu.Options{Drives: []qemu.Drive{{File: disk, Extra: "cache=writeback"}}}
}

// onQ35 is q35 with disk on port 0 of its ICH9 AHCI controller, which is
// 0:0 too.
func onQ35(disk string) qemu.Options {
	return qemu.Options{Machine: "q35", Args: []string{
		"-drive", "if=none,id=bench,format=raw,cache=writeback,file=" + disk,
		"-device", "ide-hd,drive=bench,bus=ide.0",
	}}
}

// session boots the firmware in QEMU with opts, runs cmds in its shell,
// powers it off, and returns the records of what it printed, those of
// cmds[i] with Trace set to tags[i] when tags is given.
func session(elf string, opts qemu.Options, cmds, tags []string, deadline time.Time) ([]Record, error) {
	args := qemu.Command(elf, opts)
	env := newEnv(args)
	con, err := qemu.Launch(args, deadline)
	if err != nil {
		return nil, err
	}
	defer con.Kill()

	boot, err := con.Until(prompt)
	if err != nil {
		return nil, err
	}
	toPrompt := time.Since(con.Started)
	env.Commit = builtFrom(boot)
	recs := parse(boot, env)
	for i := range recs {
		if recs[i].Kind == "boot" {
			recs[i].ToPromptMs = ms(toPrompt)
		}
	}
	for i, c := range cmds {
		out, err := con.Run(c)
		if err != nil {
			return nil, err
		}
		for _, r := range parse(out, env) {
			if tags != nil {
				r.Trace = tags[i]
			}
			recs = append(recs, r)
		}
	}
	con.Halt()
	return recs, nil
}

// makeDisk makes path a sparse image of size bytes whose first fill bytes
// are pseudo-random, unless it is one already.
func makeDisk(path string, size, fill int64) error {
	if st, err := os.Stat(path); err == nil && st.Size() == size {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	rng := rand.NewChaCha8([32]byte{'a', 't', 'a', 'b', 'e', 'n', 'c', 'h'})
	buf := make([]byte, 1<<20)
	for off := int64(0); off < fill; off += int64(len(buf)) {
		rng.Read(buf)
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// machine returns the QEMU arguments but the firmware's path.
func machine(args []string) string {
	var m []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-kernel" {
			i++
			continue
		}
		m = append(m, args[i])
	}
	return strings.Join(m, " ")
}

// output runs a command and returns its output, trimmed; "unknown" when
// it fails.
func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// newEnv describes where a record of the machine of args was measured,
// all but the firmware's commit (builtFrom).
func newEnv(args []string) Env {
	return Env{
		QEMU:    firstLine(output("qemu-system-x86_64", "--version")),
		HostCPU: hostCPU(),
		Machine: machine(args),
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// hostCPU returns the first model name of /proc/cpuinfo.
func hostCPU() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
