//go:build tamago

package main

import (
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/ata"
	"github.com/ataport/firmware/cmd/firmware/shell"
	"github.com/ataport/firmware/internal/stress"
	"github.com/ataport/firmware/miniport"
)

// Defaults and bounds of `ata stress`.
const (
	stressTime       = 10 * time.Second // when neither -time nor -ops is given
	stressWorkers    = 4                // per device, when -workers is not given
	stressMaxSectors = 1 << 20          // -count by default, at most: the record takes 4 bytes a sector
	stressMaxThink   = time.Second      // -think at most: a worker's sleep does not look for Ctrl-C or the end
	stressProgress   = 5 * time.Second  // between progress lines
	stressPoll       = 250 * time.Millisecond
	stressStall      = 30 * time.Second // after the end, workers still waiting: report the queues
)

// stressTotals are the counters of a run, shared by its workers.
type stressTotals struct {
	ops, reads, writes, verifies, bytes, errors, corrupt atomic.Uint64
}

func (t *stressTotals) line() string {
	return fmt.Sprintf("%d ops (%d reads, %d writes, %d verifies), %d MiB, %d errors, %d corrupted sectors",
		t.ops.Load(), t.reads.Load(), t.writes.Load(), t.verifies.Load(), t.bytes.Load()>>20, t.errors.Load(), t.corrupt.Load())
}

// stressArgs are the parsed arguments of `ata stress`.
type stressArgs struct {
	devs       []*ata.Device
	dur        time.Duration
	ops        uint64
	workers    int
	seed       uint64
	think      time.Duration // each worker idles up to this long between operations
	lba, count uint64
	hasCount   bool
}

// parseStress reads DEV... then -name value pairs.
func parseStress(args []string) (*stressArgs, error) {
	a := &stressArgs{seed: 1}
	i := 0
	for ; i < len(args) && !strings.HasPrefix(args[i], "-"); i++ {
		d, err := device(args[i])
		if err != nil {
			return nil, err
		}
		for _, o := range a.devs {
			if o == d {
				return nil, fmt.Errorf("DEV %s given twice", d.Name())
			}
		}
		a.devs = append(a.devs, d)
	}
	if len(a.devs) == 0 {
		return nil, shell.ErrUsage
	}
	hasTime := false
	for ; i < len(args); i += 2 {
		if i+1 == len(args) {
			return nil, fmt.Errorf("%s: no value", args[i])
		}
		name, v := args[i], args[i+1]
		var err error
		var n uint64
		switch name {
		case "-time":
			a.dur, err = shell.ParseDuration(name, v)
			hasTime = true
		case "-ops":
			a.ops, err = shell.ParseCount(name, v, 1<<40)
		case "-workers":
			n, err = shell.ParseCount(name, v, 256)
			a.workers = int(n)
		case "-seed":
			a.seed, err = shell.ParseUint(name, v, 1<<64-1)
		case "-think":
			a.think, err = shell.ParseDuration(name, v)
			if err == nil && a.think > stressMaxThink {
				err = fmt.Errorf("-think: %v is longer than %v", a.think, stressMaxThink)
			}
		case "-lba":
			a.lba, err = shell.ParseUint(name, v, 1<<48-1)
		case "-count":
			a.count, err = shell.ParseUint(name, v, stressMaxSectors)
			a.hasCount = true
		default:
			return nil, shell.ErrUsage
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case hasTime && a.ops != 0:
		return nil, errors.New("-time and -ops exclude each other")
	case !hasTime && a.ops == 0:
		a.dur = stressTime
	case hasTime && a.dur == 0:
		return nil, errors.New("-time: must be more than 0")
	}
	if a.workers == 0 {
		a.workers = stressWorkers * len(a.devs)
	}
	if a.workers < len(a.devs) {
		return nil, fmt.Errorf("-workers: %d for %d devices, at least one each", a.workers, len(a.devs))
	}
	return a, nil
}

// config makes the workload of a's devices: the same sectors of each. A
// CD (ATAPI) is a read-only target: read and verified against what it
// read first, never written.
func (a *stressArgs) config() (stress.Config, error) {
	cfg := stress.Config{Seed: a.seed, Workers: a.workers, MaxSectors: stress.DefaultMaxSectors}
	for _, d := range a.devs {
		ro := d.Type() == miniport.DeviceATAPI
		if !ro {
			if err := writable(d); err != nil {
				return cfg, err
			}
		}
		count, err := flagSpan(d, a.lba, a.count, a.hasCount, stressMaxSectors)
		if err != nil {
			return cfg, err
		}
		cfg.Targets = append(cfg.Targets, stress.Target{Name: d.Name(), LBA: a.lba, Count: count, SectorSize: d.SectorSize(), ReadOnly: ro})
	}
	return cfg, nil
}

// cmdStress runs the stress workload (internal/stress) and prints what a
// host needs to replay it: the header and target lines first, a line per
// failed operation as it fails, progress lines, each worker's operation
// count, and the summary.
func cmdStress(c *shell.Context, args []string) error {
	a, err := parseStress(args)
	if err != nil {
		return err
	}
	cfg, err := a.config()
	if err != nil {
		return err
	}
	plan, err := stress.Plan(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(c, stress.Header(cfg))
	for i := range cfg.Targets {
		fmt.Fprintln(c, stress.TargetLine(cfg, i))
	}

	var (
		totals stressTotals
		stop   atomic.Bool
		wg     sync.WaitGroup
		msgs   = make(chan string, 256)
		counts = make([]uint64, len(plan))
	)
	for _, s := range plan {
		budget := uint64(0)
		if a.ops != 0 {
			budget = a.ops / uint64(len(plan))
			if uint64(s.Worker) < a.ops%uint64(len(plan)) {
				budget++
			}
		}
		wg.Add(1)
		go func(s stress.Stripe, budget uint64) {
			defer wg.Done()
			counts[s.Worker] = stressWorker(cfg, s, a.devs[s.Target], budget, a.think, &stop, &totals, msgs)
		}(s, budget)
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	start := time.Now()
	last := start
	var stopped time.Time
	tick := time.NewTicker(stressPoll)
	defer tick.Stop()
	for running := true; running; {
		select {
		case m := <-msgs:
			fmt.Fprintln(c, m)
		case <-done:
			running = false
		case now := <-tick.C:
			if !stop.Load() && (c.Interrupted() || a.dur != 0 && now.Sub(start) >= a.dur) {
				stop.Store(true)
				stopped = now
			}
			if now.Sub(last) >= stressProgress {
				last = now
				fmt.Fprintf(c, "stress: %v: %s\n", now.Sub(start).Round(time.Second), totals.line())
				if stop.Load() && now.Sub(stopped) >= stressStall {
					// Every request ends within its timeout and
					// retries: say where the ones a worker waits for are.
					for _, ch := range stressChannels(a.devs) {
						fmt.Fprintf(c, "stress: workers still waiting %v after the end: %s\n", now.Sub(stopped).Round(time.Second), ch.QueueState())
					}
				}
			}
		}
	}
	for len(msgs) > 0 {
		fmt.Fprintln(c, <-msgs)
	}
	for _, s := range plan {
		fmt.Fprintln(c, stress.WorkerLine(s, counts[s.Worker]))
	}
	fmt.Fprintf(c, "stress: %s in %v\n", totals.line(), time.Since(start).Round(time.Millisecond))
	if n := totals.corrupt.Load(); n != 0 {
		return fmt.Errorf("stress: %d corrupted sectors", n)
	}
	return nil
}

// stressWorker runs the operations of the worker owning s on d until stop,
// or budget operations when budget is not 0, and returns how many it ran;
// with think it sleeps a random time below think before each operation
// but the first (drawn from a generator of its own, so the operations are
// those of the seed either way). Failures and corrupted sectors go to msgs
// as lines. On a read-only target a sector of the stripe must read as it
// read the first time (firstRead).
func stressWorker(cfg stress.Config, s stress.Stripe, d *ata.Device, budget uint64, think time.Duration,
	stop *atomic.Bool, totals *stressTotals, msgs chan<- string) uint64 {
	ss := d.SectorSize()
	st := stress.NewStream(cfg, s)
	var rec *stress.Record // what the stripe's writes left; a read-only target gets none
	var corrupt func(lba uint64, data []byte) bool
	if cfg.Targets[s.Target].ReadOnly {
		seen := make(firstRead, s.Count)
		corrupt = func(lba uint64, data []byte) bool { return !seen.same(s, lba, data) }
	} else {
		rec = stress.NewRecord(cfg, s)
		corrupt = func(lba uint64, data []byte) bool { return rec.Check(lba, data, nil) == stress.Corrupt }
	}
	buf := make([]byte, cfg.MaxSectors*ss)
	pause := rand.New(rand.NewPCG(cfg.Seed, uint64(s.Worker)))
	var n uint64
	for ; !stop.Load() && (budget == 0 || n < budget); n++ {
		if think > 0 && n > 0 {
			time.Sleep(time.Duration(pause.Int64N(int64(think))))
		}
		op := st.Next()
		b := buf[:op.Count*ss]
		var err error
		switch op.Kind {
		case stress.Write:
			content := stress.Content(cfg.Seed, op.Worker, op.Gen)
			inSteps(op.Count, ss, func(i, j int) { content.Fill(b[i*ss:j*ss], op.LBA+uint64(i), ss) })
			_, err = d.WriteAt(b, int64(op.LBA)*int64(ss))
			rec.Apply(op, err == nil)
			totals.writes.Add(1)
		case stress.Read:
			_, err = d.ReadAt(b, int64(op.LBA)*int64(ss))
			totals.reads.Add(1)
		case stress.Verify:
			_, err = d.ReadAt(b, int64(op.LBA)*int64(ss))
			totals.verifies.Add(1)
		}
		totals.ops.Add(1)
		if err != nil {
			totals.errors.Add(1)
			msgs <- stress.FailedLine(op, err)
			continue
		}
		totals.bytes.Add(uint64(len(b)))
		if op.Kind == stress.Write {
			continue
		}
		// Every sector of the worker's own stripe is checked, those of a
		// verify and those a read happens to cover.
		bad, first := 0, uint64(0)
		inSteps(op.Count, ss, func(i, j int) {
			for ; i < j; i++ {
				lba := op.LBA + uint64(i)
				if corrupt(lba, b[i*ss:(i+1)*ss]) {
					if bad == 0 {
						first = lba
					}
					bad++
				}
			}
		})
		if bad != 0 {
			totals.corrupt.Add(uint64(bad))
			msgs <- fmt.Sprintf("stress: worker %d op %d %s lba %d count %d: %d corrupted sectors, the first at lba %d",
				op.Worker, op.Seq, op.Kind, op.LBA, op.Count, bad, first)
		}
	}
	return n
}

// firstRead is, per sector of a read-only stripe, the CRC-32C of what it
// read the first time, with bit 32 set once read.
type firstRead []uint64

// same records data as the first read of sector lba of stripe s, or
// reports whether data is what that read returned; a sector outside the
// stripe is not checked.
func (f firstRead) same(s stress.Stripe, lba uint64, data []byte) bool {
	if lba < s.LBA || lba-s.LBA >= s.Count {
		return true
	}
	i := lba - s.LBA
	c := uint64(crc32.Checksum(data, castagnoli)) | 1<<32
	if f[i] == 0 {
		f[i] = c
	}
	return f[i] == c
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stressChannels returns the channels of devs, each once.
func stressChannels(devs []*ata.Device) []*ata.Channel {
	var chs []*ata.Channel
	for _, d := range devs {
		if !slices.Contains(chs, d.Channel()) {
			chs = append(chs, d.Channel())
		}
	}
	return chs
}
