//go:build tamago

package main

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime/metrics"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/ata"
	"github.com/ataport/firmware/board/pc"
	"github.com/ataport/firmware/cmd/firmware/shell"
	"github.com/ataport/firmware/internal/bench"
	"github.com/ataport/firmware/miniport"
)

// Defaults and bounds of `ata bench`.
const (
	benchSize      = 1 << 20     // sequential request size when -size is not given
	benchRandSize  = 4 << 10     // random reads: 4 KiB, at 4 KiB boundaries
	benchMaxSize   = 64 << 20    // -size at most
	benchTime      = time.Second // each pass, when -time is not given
	benchPasses    = 3           // measured passes, when -passes is not given; also the least
	benchPoll      = 50 * time.Millisecond
	benchMinLat    = 1 << 16      // latency samples reserved at least
	benchSeed      = 0x6174616265 // random offsets: the same each run
	benchMaxPasses = 100
	benchMaxQD     = 32 // -qd at most: an AHCI port's command slots
)

// benchTests are the tests `ata bench` knows, in the order it runs them.
var benchTests = []string{"seq-read", "seq-write", "rand-read"}

// addBenchCommands registers `ata bench`.
func addBenchCommands(sh *shell.Shell) {
	sh.Add(shell.Cmd{
		Name:    "ata bench",
		Args:    "DEV [-size N] [-lba N -count N] [-time D] [-passes N] [-qd N] [-tests seq-read,seq-write,rand-read] [-modes dma,pio]",
		Help:    "sequential and random (4 KiB, QD1 or -qd N submitters) throughput, latency and costs per request, in DMA and PIO",
		MinArgs: 1, MaxArgs: -1, Handler: cmdBench,
	})
}

// benchArgs are the parsed arguments of `ata bench`.
type benchArgs struct {
	dev        *ata.Device
	size       int
	lba, count uint64 // sectors
	pass       time.Duration
	passes     int
	tests      []string
	modes      []ata.Mode
	qd         int // rand-read: requests outstanding, one submitter goroutine each
}

// parseBench reads DEV then -name value pairs, and checks them against the
// device: the range within it, whole sectors, writes only when it is
// writable, DMA only when it has a DMA mode.
func parseBench(args []string) (*benchArgs, error) {
	d, err := device(args[0])
	if err != nil {
		return nil, err
	}
	if d.Type() != miniport.DeviceATA {
		return nil, fmt.Errorf("%s is %v: ata bench drives ATA disks", d.Name(), d.Type())
	}
	a := &benchArgs{dev: d, size: benchSize, count: d.Sectors(), pass: benchTime, passes: benchPasses, qd: 1}
	var tests, modes string
	hasCount := false
	for i := 1; i < len(args); i += 2 {
		if i+1 == len(args) {
			return nil, fmt.Errorf("%s: no value", args[i])
		}
		name, v := args[i], args[i+1]
		var n uint64
		switch name {
		case "-size":
			n, err = shell.ParseSize(name, v, benchMaxSize)
			a.size = int(n)
		case "-lba":
			a.lba, err = shell.ParseUint(name, v, 1<<48-1)
		case "-count":
			a.count, err = shell.ParseUint(name, v, 1<<48)
			hasCount = true
		case "-time":
			a.pass, err = shell.ParseDuration(name, v)
		case "-passes":
			n, err = shell.ParseUint(name, v, benchMaxPasses)
			a.passes = int(n)
		case "-qd":
			n, err = shell.ParseCount(name, v, benchMaxQD)
			a.qd = int(n)
		case "-tests":
			tests = v
		case "-modes":
			modes = v
		default:
			return nil, shell.ErrUsage
		}
		if err != nil {
			return nil, err
		}
	}
	ss := uint64(d.SectorSize())
	switch {
	case a.passes < benchPasses:
		return nil, fmt.Errorf("-passes: %d, at least %d for a spread", a.passes, benchPasses)
	case a.pass <= 0:
		return nil, errors.New("-time: must be more than 0")
	case a.size == 0 || uint64(a.size)%ss != 0:
		return nil, fmt.Errorf("-size: %d is not a whole number of %d-byte sectors", a.size, ss)
	}
	if a.count, err = flagSpan(d, a.lba, a.count, hasCount, math.MaxUint64); err != nil {
		return nil, err
	}
	if need := uint64(max(a.size, benchRandSize)); a.count*ss < need {
		if !hasCount {
			return nil, fmt.Errorf("%s has %d sectors from LBA %d, too few for a %d-byte request", d.Name(), a.count, a.lba, need)
		}
		return nil, fmt.Errorf("-count: %d sectors hold no %d-byte request", a.count, need)
	}
	if a.tests, err = benchList("-tests", tests, benchTests, d.Writable()); err != nil {
		return nil, err
	}
	if slices.Contains(a.tests, "seq-write") {
		if err := writable(d); err != nil {
			return nil, err
		}
	}
	was := d.Mode()
	hasDMA := d.SetMode(ata.ModeDMA) == nil
	if err := d.SetMode(was); err != nil {
		return nil, err
	}
	names, err := benchList("-modes", modes, []string{"dma", "pio"}, hasDMA)
	if err != nil {
		return nil, err
	}
	for _, m := range names {
		if m == "dma" && !hasDMA {
			return nil, fmt.Errorf("%s: no DMA mode (modes %v)", d.Name(), d.Modes())
		}
		a.modes = append(a.modes, map[string]ata.Mode{"dma": ata.ModeDMA, "pio": ata.ModePIO}[m])
	}
	return a, nil
}

// benchList parses the value v of -tests or -modes: names from known,
// separated by commas, returned in known's order. An empty v means all of
// known, but seq-write and dma only when withOptional (the device is
// writable, has a DMA mode).
func benchList(flag, v string, known []string, withOptional bool) ([]string, error) {
	var out []string
	if v == "" {
		for _, k := range known {
			if withOptional || k != "seq-write" && k != "dma" {
				out = append(out, k)
			}
		}
		return out, nil
	}
	given := strings.Split(v, ",")
	for _, g := range given {
		if !slices.Contains(known, g) {
			return nil, fmt.Errorf("%s: %q is none of %s", flag, g, strings.Join(known, ","))
		}
	}
	for _, k := range known {
		if slices.Contains(given, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// cmdBench runs each test in each mode: a warm-up pass, then the measured
// passes, each lasting -time; it prints a progress line per pass and a
// result line (internal/bench) per test, and sets the device's mode back.
func cmdBench(c *shell.Context, args []string) error {
	a, err := parseBench(args)
	if err != nil {
		return err
	}
	d := a.dev
	defer d.SetMode(d.Mode()) // back to the mode it had, which it can take again
	fmt.Fprintf(c, "bench: %s lba %d count %d, QD1 (rand-read QD%d), a warm-up pass and %d passes of %v per test\n",
		d.Name(), a.lba, a.count, a.qd, a.passes, a.pass)
	for _, m := range a.modes {
		if err := d.SetMode(m); err != nil {
			return err
		}
		for _, t := range a.tests {
			r, err := a.run(c, t, m.String())
			if err != nil {
				return err
			}
			fmt.Fprintln(c, r)
		}
	}
	return nil
}

// run runs test t in the device's current mode: rand-read with a.qd
// submitters, each with its own buffer and random stream, the others with
// one.
func (a *benchArgs) run(c *shell.Context, t, mode string) (bench.Result, error) {
	size, qd := a.size, 1
	if t == "rand-read" {
		size, qd = benchRandSize, a.qd
	}
	var ws []*benchWorker
	for i := range qd {
		w := &benchWorker{
			c: c, d: a.dev, buf: make([]byte, size),
			write: t == "seq-write", random: t == "rand-read",
			base:  int64(a.lba) * int64(a.dev.SectorSize()),
			slots: int64(a.count) * int64(a.dev.SectorSize()) / int64(size),
			rng:   rand.New(rand.NewPCG(benchSeed, benchSeed+uint64(i))),
			hz:    pc.TSCFrequency(),
		}
		if w.write {
			for i := range w.buf {
				w.buf[i] = byte(w.rng.Uint32())
			}
		}
		ws = append(ws, w)
	}
	w := ws[0]
	w.others = ws[1:]
	label := fmt.Sprintf("bench: %s %s size %d", t, mode, size)
	if qd > 1 {
		label += fmt.Sprintf(" qd %d", qd)
		mode += fmt.Sprintf("-qd%d", qd)
	}
	warm, err := w.pass(a.pass, nil)
	if err != nil {
		return bench.Result{}, err
	}
	fmt.Fprintf(c, "%s: warm-up %.1f MB/s %.1f IOPS\n", label, rate(warm.Bytes, warm.Elapsed)/1e6, rate(warm.Requests, warm.Elapsed))
	lat := make([]time.Duration, 0, max(benchMinLat, 2*int(warm.Requests)*a.passes))
	var passes []bench.Pass
	for i := 1; i <= a.passes; i++ {
		p, err := w.pass(a.pass, &lat)
		if err != nil {
			return bench.Result{}, err
		}
		passes = append(passes, p)
		fmt.Fprintf(c, "%s: pass %d/%d %.1f MB/s %.1f IOPS\n", label, i, a.passes, rate(p.Bytes, p.Elapsed)/1e6, rate(p.Requests, p.Elapsed))
	}
	return bench.Summarize(t, mode, size, passes, lat), nil
}

func rate(n uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// benchWorker issues the requests of one test.
type benchWorker struct {
	c             *shell.Context
	d             *ata.Device
	buf           []byte
	write, random bool
	base          int64 // byte offset of the range
	slots         int64 // requests of len(buf) the range holds
	next          int64 // sequential: the next slot
	rng           *rand.Rand
	hz            uint64 // TSC

	// others are the further submitters of a pass at a queue depth above
	// 1: each runs loop in its own goroutine for the same time.
	others []*benchWorker
}

// loopResult is what one submitter's loop did.
type loopResult struct {
	requests, bytes uint64
	err             error
}

// pass issues requests for d, one at a time from this submitter and from
// each of w.others, and returns what they moved and cost; with lat it
// appends the latency of each request of this submitter (a sample of all
// at a depth above 1), while lat has room (it was sized from the warm-up
// pass, so that appending never allocates inside the pass). The other
// submitters' goroutines are made before the count of allocations starts
// and released together.
func (w *benchWorker) pass(d time.Duration, lat *[]time.Duration) (bench.Pass, error) {
	ch := w.d.Channel()
	s0, dirql := ch.Stats(), dirqlTime(ch) // dirqlTime allocates: before the count starts
	var end uint64
	stop := new(atomic.Bool)
	goCh, results := make(chan struct{}), make(chan loopResult, len(w.others))
	for _, o := range w.others {
		go func() {
			<-goCh
			results <- o.loop(end, nil, stop, false)
		}()
	}
	mallocs := heapObjects()
	start := pc.AMD64.Counter()
	end = start + w.cycles(d)
	close(goCh)
	r := w.loop(end, lat, stop, true)
	stop.Store(r.err != nil)
	var p bench.Pass
	p.Requests, p.Bytes = r.requests, r.bytes
	for range w.others {
		o := <-results
		p.Requests += o.requests
		p.Bytes += o.bytes
		if r.err == nil {
			r.err = o.err
		}
	}
	if r.err != nil {
		return p, r.err
	}
	p.Elapsed = w.duration(pc.AMD64.Counter() - start)
	p.Mallocs = heapObjects() - mallocs
	s1 := ch.Stats()
	p.Interrupts, p.ByVector, p.Sync = s1.Interrupts-s0.Interrupts, s1.ByVector-s0.ByVector, s1.Synchronized-s0.Synchronized
	p.DIRQL = dirqlTime(ch) - dirql
	return p, nil
}

// loop issues requests one at a time until the TSC passes end or stop is
// set; with lat it records their latencies (see pass); with poll it looks
// for Ctrl-C every benchPoll, and stops the others through stop.
func (w *benchWorker) loop(end uint64, lat *[]time.Duration, stop *atomic.Bool, poll bool) loopResult {
	var p loopResult
	start := pc.AMD64.Counter()
	last, pollEvery := start, w.cycles(benchPoll)
	for t := start; t < end && !stop.Load(); {
		slot := w.next
		if w.random {
			slot = int64(w.rng.Uint64N(uint64(w.slots)))
		} else {
			w.next = (w.next + 1) % w.slots
		}
		off := w.base + slot*int64(len(w.buf))
		var err error
		t0 := pc.AMD64.Counter()
		if w.write {
			_, err = w.d.WriteAt(w.buf, off)
		} else {
			_, err = w.d.ReadAt(w.buf, off)
		}
		t = pc.AMD64.Counter()
		if err != nil {
			stop.Store(true)
			p.err = err
			return p
		}
		p.requests++
		p.bytes += uint64(len(w.buf))
		if lat != nil && len(*lat) < cap(*lat) {
			*lat = append(*lat, w.duration(t-t0))
		}
		if poll && t-last >= pollEvery {
			last = t
			if w.c.Interrupted() {
				stop.Store(true)
				p.err = shell.ErrInterrupted
				return p
			}
		}
	}
	return p
}

// cycles and duration convert between time and TSC cycles.
func (w *benchWorker) cycles(d time.Duration) uint64 { return uint64(d.Seconds() * float64(w.hz)) }

func (w *benchWorker) duration(c uint64) time.Duration {
	return time.Duration(float64(c) / float64(w.hz) * float64(time.Second))
}

// allocMetrics are the runtime/metrics that add up to
// runtime.MemStats.Mallocs. They are read instead of MemStats because
// ReadMemStats stops the world, twice per pass, and the Go runtime may
// then start a new M, which TamaGo cannot give a CPU (it panics: "Task
// exceeds available resources").
var allocMetrics = []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/tiny/allocs:objects"}}

// heapObjects returns the heap allocations made so far.
//
// Context: PASSIVE; does not allocate once allocMetrics were read once.
func heapObjects() uint64 {
	metrics.Read(allocMetrics)
	return allocMetrics[0].Value.Uint64() + allocMetrics[1].Value.Uint64()
}

// dirqlTime returns the time the channel has spent in its sections at
// DIRQL (ata.ContextRow.Time), so far.
func dirqlTime(ch *ata.Channel) time.Duration {
	var t time.Duration
	for _, r := range ch.Contexts() {
		t += r.Time
	}
	return t
}
