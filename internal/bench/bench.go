// Package bench is the arithmetic and the report format of the firmware's
// `ata bench`: the firmware times its passes and requests, Summarize turns
// them into a Result, Result.String is the line the shell prints, and
// ParseResult reads such a line back for the host program that runs the
// benchmark in QEMU (cmd/benchrun). It is plain Go, tested on the host.
package bench

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// Pass is what one measured pass of a test moved and cost.
type Pass struct {
	Requests   uint64        // requests completed (ReadAt or WriteAt calls)
	Bytes      uint64        // bytes they moved
	Elapsed    time.Duration // wall time of the pass
	Interrupts uint64        // interrupts the channel's ISR claimed (ata.Stats)
	ByVector   uint64        // ... of which it was called for the hardware vector
	Sync       uint64        // synchronized routines run for the miniport
	Mallocs    uint64        // heap allocations meanwhile, by anyone (runtime.MemStats)
	DIRQL      time.Duration // time in the port's sections at DIRQL (ata.ContextRow.Time)
}

// Spread is a figure over the passes: their median, lowest and highest.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Result is the summary of one test: throughput and request rate per pass,
// request latency over all measured passes, and costs per request.
type Result struct {
	Test   string // "seq-read", "seq-write" or "rand-read"
	Mode   string // "DMA" or "PIO"
	Size   int    // bytes per request
	Passes int
	Reqs   uint64 // requests over all measured passes

	MBps Spread // decimal megabytes per second
	IOPS Spread // requests per second

	P50, P99, Max time.Duration // request latency, nearest rank

	IntsPerReq   float64
	VectorPct    float64 // percent of the claimed interrupts that came through the hardware vector
	SyncPerReq   float64 // synchronized routines per request
	DIRQLPerReq  time.Duration
	AllocsPerReq float64
}

// Summarize makes the Result of test in mode with size-byte requests from
// its measured passes and the latency of each of their requests (in any
// order; Summarize sorts it).
func Summarize(test, mode string, size int, passes []Pass, lat []time.Duration) Result {
	r := Result{Test: test, Mode: mode, Size: size, Passes: len(passes)}
	var mbps, iops []float64
	var ints, byVector, syncs, mallocs uint64
	var dirql time.Duration
	for _, p := range passes {
		s := p.Elapsed.Seconds()
		if s <= 0 {
			continue
		}
		mbps = append(mbps, float64(p.Bytes)/s/1e6)
		iops = append(iops, float64(p.Requests)/s)
		r.Reqs += p.Requests
		ints += p.Interrupts
		byVector += p.ByVector
		syncs += p.Sync
		mallocs += p.Mallocs
		dirql += p.DIRQL
	}
	r.MBps, r.IOPS = SpreadOf(mbps), SpreadOf(iops)
	slices.Sort(lat)
	r.P50, r.P99 = Percentile(lat, 50), Percentile(lat, 99)
	if len(lat) > 0 {
		r.Max = lat[len(lat)-1]
	}
	if ints > 0 {
		r.VectorPct = 100 * float64(byVector) / float64(ints)
	}
	if r.Reqs > 0 {
		r.IntsPerReq = float64(ints) / float64(r.Reqs)
		r.SyncPerReq = float64(syncs) / float64(r.Reqs)
		r.AllocsPerReq = float64(mallocs) / float64(r.Reqs)
		r.DIRQLPerReq = dirql / time.Duration(r.Reqs)
	}
	return r
}

// SpreadOf returns the median (the mean of the middle two of an even
// count), lowest and highest of v; v is sorted in place.
func SpreadOf(v []float64) Spread {
	if len(v) == 0 {
		return Spread{}
	}
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + m) / 2
	}
	return Spread{Median: m, Min: v[0], Max: v[len(v)-1]}
}

// Percentile returns the p-th percentile of sorted by nearest rank: the
// smallest value that at least p percent of the values do not exceed; 0
// for none.
func Percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// String returns the result line `ata bench` prints, for example
//
//	result: seq-read DMA size 1048576: MB/s 2714.2 [2500.1 2800.3] IOPS 2588.4 [2384.5 2670.1] p50 350.2us p99 600.1us max 1203.4us ints/req 1.00 by-vector 100.0% sync/req 0.000 dirql/req 45.1us allocs/req 1.00 passes 3 reqs 7764
//
// with the medians first and each spread [lowest highest] after them.
func (r Result) String() string {
	return fmt.Sprintf("result: %s %s size %d: MB/s %.1f [%.1f %.1f] IOPS %.1f [%.1f %.1f] p50 %s p99 %s max %s ints/req %.2f by-vector %.1f%% sync/req %.3f dirql/req %s allocs/req %.2f passes %d reqs %d",
		r.Test, r.Mode, r.Size, r.MBps.Median, r.MBps.Min, r.MBps.Max, r.IOPS.Median, r.IOPS.Min, r.IOPS.Max,
		us(r.P50), us(r.P99), us(r.Max), r.IntsPerReq, r.VectorPct, r.SyncPerReq, us(r.DIRQLPerReq), r.AllocsPerReq, r.Passes, r.Reqs)
}

// us formats d in microseconds with one decimal: "350.2us".
func us(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Microsecond), 'f', 1, 64) + "us"
}

var resultLine = regexp.MustCompile(`^result: (\S+) (\S+) size (\d+): MB/s (\S+) \[(\S+) (\S+)\] IOPS (\S+) \[(\S+) (\S+)\] ` +
	`p50 (\S+)us p99 (\S+)us max (\S+)us ints/req (\S+) by-vector (\S+)% sync/req (\S+) dirql/req (\S+)us allocs/req (\S+) passes (\d+) reqs (\d+)$`)

// ParseResult reads a line String wrote back (surrounding spaces and a
// carriage return allowed); it reports false for any other line.
func ParseResult(line string) (Result, bool) {
	m := resultLine.FindStringSubmatch(trim(line))
	if m == nil {
		return Result{}, false
	}
	var bad bool
	f := func(i int) float64 {
		v, err := strconv.ParseFloat(m[i], 64)
		bad = bad || err != nil
		return v
	}
	u := func(i int) uint64 {
		v, err := strconv.ParseUint(m[i], 10, 64)
		bad = bad || err != nil
		return v
	}
	d := func(i int) time.Duration { return time.Duration(f(i) * float64(time.Microsecond)) }
	r := Result{
		Test: m[1], Mode: m[2], Size: int(u(3)),
		MBps: Spread{f(4), f(5), f(6)}, IOPS: Spread{f(7), f(8), f(9)},
		P50: d(10), P99: d(11), Max: d(12),
		IntsPerReq: f(13), VectorPct: f(14), SyncPerReq: f(15), DIRQLPerReq: d(16), AllocsPerReq: f(17),
		Passes: int(u(18)), Reqs: u(19),
	}
	return r, !bad
}

func trim(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\r' || s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	return s
}
