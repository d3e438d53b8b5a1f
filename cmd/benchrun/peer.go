package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ataport/firmware/internal/bench"
)

// A peerTest is one figure issue 10 or 13 sets as a ratio to Linux: the
// firmware's `ata bench` result against one key of linux-peer's record.
type peerTest struct {
	Name   string  // e.g. "pio seq-read 1M"
	Mode   string  // linux-peer's mode, the boot it comes from: pio, dma or ahci
	Linux  string  // key of linux-peer's JSON record
	Test   string  // the firmware's result to compare: its test,
	FwMode string  // its mode
	Size   int     // and its request size
	IOPS   bool    // compare IOPS rather than MB/s
	Target float64 // the ratio the issue asks for
}

var peerTests = []peerTest{
	{"pio seq-read 1M", "pio", "seq_read_MBps", "seq-read", "PIO", 1 << 20, false, 1.0},
	{"pio seq-write 1M", "pio", "seq_write_MBps", "seq-write", "PIO", 1 << 20, false, 1.0},
	{"dma rand-read 4K QD1", "dma", "rand4k_read_iops", "rand-read", "DMA", 4096, true, 2.0},
	{"ahci seq-read 1M", "ahci", "seq_read_MBps", "seq-read", "DMA", 1 << 20, false, 1.0},
	{"ahci rand-read 4K QD1", "ahci", "rand4k_read_iops", "rand-read", "DMA", 4096, true, 2.0},
	{"ahci rand-read 4K QD32", "ahci", "rand4k_read_iops_qd32", "rand-read", "DMA-qd32", 4096, true, 1.5},
}

// PeerRound is one firmware figure against Linux's from the boot next to
// it, as a "peer-round" record.
type PeerRound struct {
	Round    int     `json:"round"`
	Test     string  `json:"test"`
	Firmware float64 `json:"firmware"`
	Linux    float64 `json:"linux"`
	Ratio    float64 `json:"ratio"`
	Target   float64 `json:"target"`
}

// PeerSummary sums up one test's rounds, as a "peer-summary" record: the
// median, least and greatest of the rounds' ratios, and in how many rounds
// the ratio reached the target.
type PeerSummary struct {
	Test   string       `json:"test"`
	Rounds int          `json:"rounds"`
	Ratio  bench.Spread `json:"ratio"`
	Met    int          `json:"rounds_met"`
	Target float64      `json:"target"`
}

// peerConfig is what -peer runs: linux-peer's directory, its work
// directory (whose disk.img both sides use), the modes, the rounds, and
// the size of Linux's passes.
type peerConfig struct {
	Dir, Work  string
	Modes      []string
	Rounds     int
	Passes     int
	SeqMiB     int
	RandSecs   int
	AHCIParams string
	Pass       string // the firmware's pass time
	FwPasses   int
	Timeout    time.Duration // each firmware boot at most (-timeout)
}

// peer runs cfg.Rounds rounds per mode, each a linux-peer boot and a
// firmware boot on the same disk image, one right after the other (Linux
// first in odd rounds, the firmware first in even ones, so that a host
// that speeds up or slows down favours neither), and prints the records
// of both sides, one "peer-round" record per test and round and one
// "peer-summary" per test. Under TCG on a shared host the speed of both
// sides swings by more than the differences the targets are about within
// minutes; a ratio taken from boots seconds apart, over several rounds,
// is what can be trusted. A Linux boot that fails is booted once more
// (peerRetry); when a round fails all the same, the summaries of the
// rounds done are printed before the error.
func peer(elf string, cfg peerConfig) error {
	disk := filepath.Join(cfg.Work, "disk.img")
	var rounds []PeerRound
	var env Env // the firmware's, for the records of the pairs
	for _, mode := range cfg.Modes {
		for r := 1; r <= cfg.Rounds; r++ {
			var linux map[string]any
			var fw []Record
			steps := []func() error{
				func() (err error) {
					linux, err = peerRetry(func() (map[string]any, error) { return linuxPeer(cfg, mode) }, os.Stderr)
					return
				},
				func() (err error) { fw, err = firmwarePeer(elf, disk, mode, cfg); return },
			}
			if r%2 == 0 {
				steps[0], steps[1] = steps[1], steps[0]
			}
			for _, s := range steps {
				if err := s(); err != nil {
					return errors.Join(printSummaries(rounds, env), fmt.Errorf("%s round %d: %w", mode, r, err))
				}
			}
			lj, err := json.Marshal(linux)
			if err != nil {
				return err
			}
			pr, err := pairRound(r, mode, fw, linux)
			if err != nil {
				return errors.Join(printSummaries(rounds, env), fmt.Errorf("%s round %d: %w", mode, r, err))
			}
			env = fw[0].Env
			recs := append(fw, Record{Kind: "linux-peer", Env: env, Linux: lj})
			for i := range pr {
				recs = append(recs, Record{Kind: "peer-round", Env: env, PeerRound: &pr[i]})
			}
			rounds = append(rounds, pr...)
			js, err := lines(recs)
			if err != nil {
				return err
			}
			os.Stdout.WriteString(js)
		}
	}
	return printSummaries(rounds, env)
}

// printSummaries prints a "peer-summary" record per test of rounds, with
// the firmware's env.
func printSummaries(rounds []PeerRound, env Env) error {
	var recs []Record
	env.Machine = "" // the summaries span the modes' machines
	for _, s := range summarize(rounds) {
		recs = append(recs, Record{Kind: "peer-summary", Env: env, PeerSummary: &s})
	}
	js, err := lines(recs)
	if err != nil {
		return err
	}
	_, err = os.Stdout.WriteString(js)
	return err
}

// peerRetry runs boot, one Linux boot, and once more when it fails: under
// TCG the Linux guest itself can stall (seen: soft lockups of its CPU 0
// until linux-peer's 300 s timeout, in the second of four DMA rounds),
// which says nothing of the firmware, and one such boot would otherwise
// end the whole comparison. The failure is reported on log.
func peerRetry(boot func() (map[string]any, error), log io.Writer) (map[string]any, error) {
	rec, err := boot()
	if err == nil {
		return rec, nil
	}
	fmt.Fprintf(log, "benchrun: %v; booting Linux once more\n", err)
	return boot()
}

// linuxPeer boots Linux once in mode through linux-peer's run.sh and
// returns its record.
func linuxPeer(cfg peerConfig, mode string) (map[string]any, error) {
	cmd := exec.Command("./run.sh")
	cmd.Dir = cfg.Dir
	env := append(os.Environ(),
		"LPEER_MODES="+mode,
		"LPEER_WORK="+cfg.Work,
		fmt.Sprintf("LPEER_PASSES=%d", cfg.Passes),
		fmt.Sprintf("LPEER_SEQ_MIB=%d", cfg.SeqMiB),
		fmt.Sprintf("LPEER_RAND_SECS=%d", cfg.RandSecs),
	)
	if mode == "ahci" {
		env = append(env, "LPEER_QD=1 32", "LPEER_AHCI_PARAMS="+cfg.AHCIParams)
	}
	cmd.Env = env
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("linux-peer (%s/run.sh, its log above): %w", cfg.Dir, err)
	}
	return linuxRecord(out, mode)
}

// linuxRecord returns the record of mode in linux-peer's output.
func linuxRecord(out []byte, mode string) (map[string]any, error) {
	for _, l := range bytes.Split(out, []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(l, &rec) == nil && rec["mode"] == mode {
			return rec, nil
		}
	}
	return nil, fmt.Errorf("linux-peer printed no %s record", mode)
}

// firmwarePeer boots the firmware on disk with the machine and the `ata
// bench` runs that match linux-peer's mode.
func firmwarePeer(elf, disk, mode string, cfg peerConfig) ([]Record, error) {
	common := fmt.Sprintf("-time %s -passes %d", cfg.Pass, cfg.FwPasses)
	cmds := []string{"ata rw on 0:0"}
	opts := onPC(disk)
	switch mode {
	case "pio":
		cmds = append(cmds, "ata bench 0:0 -size 1M -tests seq-read,seq-write -modes pio "+common)
	case "dma":
		cmds = append(cmds, "ata bench 0:0 -size 4K -tests rand-read -modes dma "+common)
	case "ahci":
		opts = onQ35(disk)
		cmds = append(cmds,
			"ata bench 0:0 -size 1M -tests seq-read -modes dma "+common,
			"ata bench 0:0 -tests rand-read -modes dma -qd 1 "+common,
			"ata bench 0:0 -tests rand-read -modes dma -qd 32 "+common)
	default:
		return nil, fmt.Errorf("no firmware runs for linux-peer mode %q", mode)
	}
	return session(elf, opts, cmds, nil, time.Now().Add(cfg.Timeout))
}

// pairRound pairs the firmware's results of one round with Linux's record
// for every test of mode.
func pairRound(round int, mode string, fw []Record, linux map[string]any) ([]PeerRound, error) {
	var out []PeerRound
	for _, t := range peerTests {
		if t.Mode != mode {
			continue
		}
		l, ok := linux[t.Linux].(float64)
		if !ok || l <= 0 {
			return nil, fmt.Errorf("linux-peer's record has no %s", t.Linux)
		}
		i := slices.IndexFunc(fw, func(r Record) bool {
			return r.Bench != nil && r.Bench.Test == t.Test && r.Bench.Mode == t.FwMode && r.Bench.Size == t.Size
		})
		if i < 0 {
			return nil, fmt.Errorf("the firmware printed no %s result", t.Name)
		}
		f := fw[i].Bench.MBps.Median
		if t.IOPS {
			f = fw[i].Bench.IOPS.Median
		}
		out = append(out, PeerRound{Round: round, Test: t.Name, Firmware: f, Linux: l, Ratio: f / l, Target: t.Target})
	}
	if out == nil {
		return nil, errors.New("no test compares mode " + mode)
	}
	return out, nil
}

// summarize gives each test's median, least and greatest ratio over its
// rounds, in the order of peerTests.
func summarize(rounds []PeerRound) []PeerSummary {
	var out []PeerSummary
	for _, t := range peerTests {
		var ratios []float64
		met := 0
		for _, r := range rounds {
			if r.Test == t.Name {
				ratios = append(ratios, r.Ratio)
				if r.Ratio >= r.Target {
					met++
				}
			}
		}
		if len(ratios) == 0 {
			continue
		}
		out = append(out, PeerSummary{Test: t.Name, Rounds: len(ratios), Ratio: bench.SpreadOf(ratios), Met: met, Target: t.Target})
	}
	return out
}

// peerModes checks a comma-separated list of linux-peer modes.
func peerModes(s string) ([]string, error) {
	var modes []string
	for _, m := range strings.Split(s, ",") {
		if !slices.ContainsFunc(peerTests, func(t peerTest) bool { return t.Mode == m }) {
			return nil, fmt.Errorf("-peer-modes: %q is not pio, dma or ahci", m)
		}
		modes = append(modes, m)
	}
	return modes, nil
}
