// Package stress is the workload of the shell's `ata stress`: random reads,
// writes and verifies by several workers over several devices, generated
// deterministically from a seed, so that a host test can replay what the
// firmware did and check a disk image sector by sector afterwards.
//
// Each worker owns a disjoint stripe of one device's sectors: it is the only
// one to write them, so what each of them must hold is unambiguous. Its
// operations are a function of the seed, the worker and the operation's
// index alone (Stream), never of what happened before; a write's data is
// the internal/pattern "random" pattern keyed by the worker and the write's
// generation (Content), so that a sector's contents tell which write put
// them there. A Record keeps, per sector of a stripe, the generation of the
// last write that was acknowledged and those of the writes that failed
// since (a failed write may or may not have reached a sector), and judges a
// sector's contents against it (Check).
//
// The firmware prints the configuration, each worker's operation count and
// each failed operation in lines this package formats and parses (Header,
// WorkerLine, FailedLine, ParseReport), and the host rebuilds every
// worker's Record from them (Report.Replay).
package stress

import (
	"errors"
	"fmt"

	"github.com/ataport/firmware/internal/pattern"
)

// Kind is what an operation does.
type Kind uint8

// Operations.
const (
	Read   Kind = iota // read any sectors of the worker's device, unchecked (other workers write them)
	Write              // write the worker's next generation over sectors of its stripe
	Verify             // read sectors of the worker's stripe and check them against its record
)

// String returns "read", "write" or "verify".
func (k Kind) String() string {
	switch k {
	case Read:
		return "read"
	case Write:
		return "write"
	case Verify:
		return "verify"
	}
	return "kind?"
}

// Target is one device's part of the workload.
type Target struct {
	Name       string // the device's shell name: "0:0"
	LBA        uint64 // first sector used
	Count      uint64 // sectors used
	SectorSize int    // bytes per sector

	// ReadOnly makes a target that is only read (a CD): its workers
	// verify where they would write, and a verify checks that each sector
	// reads as it read the first time.
	ReadOnly bool
}

// Config is a workload.
type Config struct {
	Seed       uint64
	Workers    int // in all, at least one per target
	Targets    []Target
	MaxSectors int // most sectors one operation moves; DefaultMaxSectors when 0
}

// DefaultMaxSectors is Config.MaxSectors by default: 32 KiB of 512-byte
// sectors.
const DefaultMaxSectors = 64

// Stripe is the sectors a worker owns, on one target.
type Stripe struct {
	Worker int
	Target int    // index in Config.Targets
	LBA    uint64 // first sector
	Count  uint64 // sectors
}

// Plan returns each worker's stripe: worker w works on target w modulo the
// number of targets, and a target's workers split its sectors into equal
// contiguous stripes, in worker order, the last taking the remainder.
func Plan(cfg Config) ([]Stripe, error) {
	nt := len(cfg.Targets)
	switch {
	case nt == 0:
		return nil, errors.New("stress: no target")
	case cfg.Workers < nt:
		return nil, fmt.Errorf("stress: %d workers for %d targets: at least one each", cfg.Workers, nt)
	}
	var out []Stripe
	for w := 0; w < cfg.Workers; w++ {
		t := w % nt
		tg := cfg.Targets[t]
		n := uint64((cfg.Workers - t + nt - 1) / nt) // workers of target t
		i := uint64(w / nt)                          // this worker's index among them
		if tg.SectorSize <= 0 || tg.Count < n {
			return nil, fmt.Errorf("stress: target %s: %d sectors of %d bytes for %d workers", tg.Name, tg.Count, tg.SectorSize, n)
		}
		size := tg.Count / n
		s := Stripe{Worker: w, Target: t, LBA: tg.LBA + i*size, Count: size}
		if i == n-1 {
			s.Count = tg.Count - i*size
		}
		out = append(out, s)
	}
	return out, nil
}

// Op is one operation of a worker.
type Op struct {
	Worker int
	Seq    uint64 // index in the worker's stream, from 0
	Kind   Kind
	LBA    uint64 // first sector, on the worker's target
	Count  int    // sectors
	Gen    uint32 // a write's generation: the worker's writes counted from 1
}

// Stream generates a worker's operations.
type Stream struct {
	stripe Stripe
	target Target
	seed   uint64
	max    int
	seq    uint64
	gen    uint32
}

// NewStream returns the operations of the worker owning s, from the first.
func NewStream(cfg Config, s Stripe) *Stream {
	m := cfg.MaxSectors
	if m <= 0 {
		m = DefaultMaxSectors
	}
	return &Stream{stripe: s, target: cfg.Targets[s.Target], seed: cfg.Seed, max: m}
}

// Next returns the next operation: a read (30%) of any sectors of the
// target, a write (40%) or a verify (30%) of sectors of the stripe, of 1
// to MaxSectors sectors; on a read-only target a verify where a write
// would be.
func (s *Stream) Next() Op {
	x := mix(s.seed ^ uint64(s.stripe.Worker)<<40 ^ s.seq)
	op := Op{Worker: s.stripe.Worker, Seq: s.seq}
	s.seq++
	area, first := s.stripe.Count, s.stripe.LBA
	switch r := x % 10; {
	case r < 3:
		op.Kind = Read
		area, first = s.target.Count, s.target.LBA
	case r < 7 && !s.target.ReadOnly:
		op.Kind = Write
		s.gen++
		op.Gen = s.gen
	default:
		op.Kind = Verify
	}
	x = mix(x)
	n := 1 + x%uint64(s.max)
	n = min(n, area)
	op.Count = int(n)
	op.LBA = first + mix(x)%(area-n+1)
	return op
}

// Content returns the pattern of the write of generation gen by worker.
// Distinct (worker, gen) pairs give distinct keys: mix is a bijection.
func Content(seed uint64, worker int, gen uint32) pattern.Pattern {
	return pattern.Pattern{Kind: "random", Value: mix(seed ^ uint64(worker)<<32 ^ uint64(gen))}
}

// Fill writes the data of write op into buf, op.Count sectors of
// sectorSize bytes.
func Fill(seed uint64, op Op, buf []byte, sectorSize int) {
	Content(seed, op.Worker, op.Gen).Fill(buf[:op.Count*sectorSize], op.LBA, sectorSize)
}

// mix is the SplitMix64 finalizer (Steele, Lea and Flood), a bijection of
// 64-bit words.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
