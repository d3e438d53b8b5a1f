package stress

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The lines `ata stress` prints for a host to replay its run, each
// starting with "stress: ". Header and TargetLine describe the workload,
// WorkerLine how many operations each worker ran, FailedLine each failed
// operation.

// Header returns the line describing cfg but its targets.
func Header(cfg Config) string {
	return fmt.Sprintf("stress: seed %d workers %d max-sectors %d targets %d", cfg.Seed, cfg.Workers, maxSectors(cfg), len(cfg.Targets))
}

// TargetLine returns the line describing target i of cfg.
func TargetLine(cfg Config, i int) string {
	t := cfg.Targets[i]
	line := fmt.Sprintf("stress: target %d %s lba %d count %d sector %d", i, t.Name, t.LBA, t.Count, t.SectorSize)
	if t.ReadOnly {
		line += " read-only"
	}
	return line
}

// WorkerLine returns the line reporting that the worker owning s ran ops
// operations, the first ops of its Stream.
func WorkerLine(s Stripe, ops uint64) string {
	return fmt.Sprintf("stress: worker %d target %d lba %d count %d ops %d", s.Worker, s.Target, s.LBA, s.Count, ops)
}

// FailedLine returns the line reporting that op failed with err, whose
// message is one line.
func FailedLine(op Op, err error) string {
	return fmt.Sprintf("stress: worker %d op %d %s lba %d count %d failed: %v", op.Worker, op.Seq, op.Kind, op.LBA, op.Count, err)
}

func maxSectors(cfg Config) int {
	if cfg.MaxSectors <= 0 {
		return DefaultMaxSectors
	}
	return cfg.MaxSectors
}

// OpID names an operation: its worker and its index in the worker's
// stream.
type OpID struct {
	Worker int
	Seq    uint64
}

// Report is what the host reads back from a run's output.
type Report struct {
	Config Config
	Ops    []uint64      // per worker, the operations it ran
	Failed map[OpID]bool // the operations that failed
}

var (
	headerRE = regexp.MustCompile(`(?m)^stress: seed (\d+) workers (\d+) max-sectors (\d+) targets (\d+)\r?$`)
	targetRE = regexp.MustCompile(`(?m)^stress: target (\d+) (\S+) lba (\d+) count (\d+) sector (\d+)( read-only)?\r?$`)
	workerRE = regexp.MustCompile(`(?m)^stress: worker (\d+) target (\d+) lba (\d+) count (\d+) ops (\d+)\r?$`)
	failedRE = regexp.MustCompile(`(?m)^stress: worker (\d+) op (\d+) (read|write|verify) lba (\d+) count (\d+) failed: `)
)

// ParseReport reads the lines of one run from out, the console output of
// `ata stress`, and checks that every worker reported its count.
func ParseReport(out string) (*Report, error) {
	h := headerRE.FindStringSubmatch(out)
	if h == nil {
		return nil, fmt.Errorf("stress: no header line in the output")
	}
	r := &Report{Failed: map[OpID]bool{}}
	r.Config.Seed = num(h[1])
	r.Config.Workers = int(num(h[2]))
	r.Config.MaxSectors = int(num(h[3]))
	nt := int(num(h[4]))
	r.Config.Targets = make([]Target, nt)
	seen := 0
	for _, m := range targetRE.FindAllStringSubmatch(out, -1) {
		i := int(num(m[1]))
		if i >= nt {
			return nil, fmt.Errorf("stress: target %d of %d", i, nt)
		}
		r.Config.Targets[i] = Target{Name: m[2], LBA: num(m[3]), Count: num(m[4]), SectorSize: int(num(m[5])), ReadOnly: m[6] != ""}
		seen++
	}
	if seen != nt {
		return nil, fmt.Errorf("stress: %d target lines for %d targets", seen, nt)
	}
	plan, err := Plan(r.Config)
	if err != nil {
		return nil, err
	}
	r.Ops = make([]uint64, r.Config.Workers)
	got := make([]bool, r.Config.Workers)
	for _, m := range workerRE.FindAllStringSubmatch(out, -1) {
		w := int(num(m[1]))
		if w >= len(plan) {
			return nil, fmt.Errorf("stress: worker %d of %d", w, len(plan))
		}
		if s := (Stripe{Worker: w, Target: int(num(m[2])), LBA: num(m[3]), Count: num(m[4])}); s != plan[w] {
			return nil, fmt.Errorf("stress: worker %d reported stripe %+v, the plan says %+v", w, s, plan[w])
		}
		r.Ops[w], got[w] = num(m[5]), true
	}
	for w, ok := range got {
		if !ok {
			return nil, fmt.Errorf("stress: worker %d reported no operation count", w)
		}
	}
	for _, m := range failedRE.FindAllStringSubmatch(out, -1) {
		r.Failed[OpID{Worker: int(num(m[1])), Seq: num(m[2])}] = true
	}
	return r, nil
}

// Replay runs every worker's stream as far as the report says it went and
// returns the records the firmware kept, one per worker. A failed
// operation the stream does not have at that index is an error.
func (r *Report) Replay() ([]*Record, error) {
	plan, err := Plan(r.Config)
	if err != nil {
		return nil, err
	}
	failed := 0
	var recs []*Record
	for w, s := range plan {
		st := NewStream(r.Config, s)
		rec := NewRecord(r.Config, s)
		for i := uint64(0); i < r.Ops[w]; i++ {
			op := st.Next()
			bad := r.Failed[OpID{Worker: w, Seq: op.Seq}]
			if bad {
				failed++
			}
			rec.Apply(op, !bad)
		}
		recs = append(recs, rec)
	}
	if failed != len(r.Failed) {
		return nil, fmt.Errorf("stress: %d failed operations reported, %d of them within the operations run", len(r.Failed), failed)
	}
	return recs, nil
}

func num(s string) uint64 {
	v, _ := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	return v
}
