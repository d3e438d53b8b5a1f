package main

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ataport/firmware/internal/bench"
)

// Env is what every record carries about where it was measured.
type Env struct {
	Commit  string `json:"commit"`   // the commit the firmware was built from, as its banner names it ("-dirty": with changes not committed)
	QEMU    string `json:"qemu"`     // first line of qemu-system-x86_64 --version
	HostCPU string `json:"host_cpu"` // model name in /proc/cpuinfo
	Machine string `json:"machine"`  // the QEMU machine, CPUs, memory and drive options
}

// Record is one JSON line of the report: Kind says which of the other
// fields are set.
type Record struct {
	Kind string `json:"kind"` // "boot", "uefi-boot", "irql-bench", "ata-bench", "irq-latency", or with -peer "linux-peer", "peer-round" and "peer-summary"
	Env

	// boot, uefi-boot
	ToPromptMs     float64 `json:"to_prompt_ms,omitempty"`      // QEMU start to the shell prompt, on the host clock
	EntryToShellMs float64 `json:"entry_to_shell_ms,omitempty"` // the firmware's own figure, from its first instruction

	// uefi-boot: the boot image under OVMF, on the host clock
	OVMFMs   float64 `json:"ovmf_ms,omitempty"`   // QEMU start to the UEFI loader's first line
	LoaderMs float64 `json:"loader_ms,omitempty"` // from there to its last line, before ExitBootServices

	// irql-bench
	Op           string `json:"op,omitempty"`
	MedianCycles uint64 `json:"median_cycles,omitempty"`
	MinCycles    uint64 `json:"min_cycles,omitempty"`

	// ata-bench
	Bench *Bench `json:"bench,omitempty"`
	// Trace is "off" or "on" for the pair of runs that measure the event
	// recorder (kernel/trace): the same bench with it off, then on.
	Trace string `json:"trace,omitempty"`

	// irq-latency: cycles and microseconds
	Latency *Latency `json:"latency,omitempty"`

	// linux-peer: the record ../shared/linux-peer printed, as it printed it
	Linux       json.RawMessage `json:"linux,omitempty"`
	PeerRound   *PeerRound      `json:"peer_round,omitempty"`
	PeerSummary *PeerSummary    `json:"peer_summary,omitempty"`
}

// Latency is an `irq latency` figure in JSON.
type Latency struct {
	Name      string  `json:"name"`
	P50Cycles uint64  `json:"p50_cycles"`
	P99Cycles uint64  `json:"p99_cycles"`
	MaxCycles uint64  `json:"max_cycles"`
	P50us     float64 `json:"p50_us"`
	P99us     float64 `json:"p99_us"`
	MaxUs     float64 `json:"max_us"`
	Samples   int     `json:"samples"`
	// Of is, for a lateness record, how many there were in all when
	// more than the samples kept (p50 and p99 of those, max of all).
	Of uint64 `json:"of,omitempty"`
}

// Bench is an `ata bench` result in JSON: rates as median, min and max over
// the passes; latency in microseconds.
type Bench struct {
	Test         string       `json:"test"`
	Mode         string       `json:"mode"`
	Size         int          `json:"size"`
	Passes       int          `json:"passes"`
	Reqs         uint64       `json:"reqs"`
	MBps         bench.Spread `json:"mbps"`
	IOPS         bench.Spread `json:"iops"`
	P50us        float64      `json:"p50_us"`
	P99us        float64      `json:"p99_us"`
	MaxUs        float64      `json:"max_us"`
	IntsPerReq   float64      `json:"ints_per_req"`
	VectorPct    float64      `json:"by_vector_pct"`
	SyncPerReq   float64      `json:"sync_per_req"`
	DIRQLusReq   float64      `json:"dirql_us_per_req"`
	AllocsPerReq float64      `json:"allocs_per_req"`
}

var (
	irqlLine   = regexp.MustCompile(`^(\S.*?)\s+median\s+(\d+) cycles\s+min\s+(\d+)$`)
	bootLine   = regexp.MustCompile(`firmware entry to shell in (\S+);`)
	bannerLine = regexp.MustCompile(`(?m)^ataport firmware (\S+) on `)
)

// parse turns what the firmware printed into records: the boot line, the
// rows of `irql bench` and the result lines of `ata bench`; other lines
// are left out.
// builtFrom returns the commit the firmware's banner in out names, or
// "unknown": that of the binary measured, where HEAD may have moved since
// the build.
func builtFrom(out string) string {
	if m := bannerLine.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return "unknown"
}

func parse(out string, env Env) []Record {
	var recs []Record
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimRight(l, "\r ")
		if m := bootLine.FindStringSubmatch(l); m != nil {
			if d, err := time.ParseDuration(m[1]); err == nil {
				recs = append(recs, Record{Kind: "boot", Env: env, EntryToShellMs: ms(d)})
			}
			continue
		}
		if m := irqlLine.FindStringSubmatch(l); m != nil {
			med, err1 := strconv.ParseUint(m[2], 10, 64)
			low, err2 := strconv.ParseUint(m[3], 10, 64)
			if err1 == nil && err2 == nil {
				recs = append(recs, Record{Kind: "irql-bench", Env: env, Op: m[1], MedianCycles: med, MinCycles: low})
			}
			continue
		}
		if r, p50, p99, mx, ok := bench.ParseLatency(l); ok {
			recs = append(recs, Record{Kind: "irq-latency", Env: env, Latency: &Latency{
				Name: r.Name, P50Cycles: r.P50, P99Cycles: r.P99, MaxCycles: r.Max,
				P50us: p50, P99us: p99, MaxUs: mx, Samples: r.Samples, Of: r.Of,
			}})
			continue
		}
		if r, ok := bench.ParseResult(l); ok {
			recs = append(recs, Record{Kind: "ata-bench", Env: env, Bench: &Bench{
				Test: r.Test, Mode: r.Mode, Size: r.Size, Passes: r.Passes, Reqs: r.Reqs,
				MBps: r.MBps, IOPS: r.IOPS,
				P50us: us(r.P50), P99us: us(r.P99), MaxUs: us(r.Max),
				IntsPerReq: r.IntsPerReq, VectorPct: r.VectorPct, SyncPerReq: r.SyncPerReq, DIRQLusReq: us(r.DIRQLPerReq), AllocsPerReq: r.AllocsPerReq,
			}})
		}
	}
	return recs
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// lines encodes recs one JSON object per line.
func lines(recs []Record) (string, error) {
	var b strings.Builder
	for _, r := range recs {
		j, err := json.Marshal(r)
		if err != nil {
			return "", err
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String(), nil
}
