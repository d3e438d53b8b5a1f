package stress

import (
	"bytes"
)

// Record is what is known of a stripe's sectors: per sector, the
// generation of the last acknowledged write (0: none), and the generations
// of the writes that failed since, any of which may have reached it.
type Record struct {
	Stripe     Stripe
	seed       uint64
	sectorSize int
	acked      []uint32
	maybe      map[uint64][]uint32 // by index in the stripe
	scratch    []byte
}

// NewRecord returns the record of stripe s, with nothing written.
func NewRecord(cfg Config, s Stripe) *Record {
	ss := cfg.Targets[s.Target].SectorSize
	return &Record{
		Stripe: s, seed: cfg.Seed, sectorSize: ss,
		acked: make([]uint32, s.Count), maybe: map[uint64][]uint32{},
		scratch: make([]byte, ss),
	}
}

// Apply records the outcome of operation op of the stripe's worker: an
// acknowledged write (ok) becomes what its sectors hold; a failed one is
// what they may hold besides.
func (r *Record) Apply(op Op, ok bool) {
	if op.Kind != Write {
		return
	}
	for lba := op.LBA; lba < op.LBA+uint64(op.Count); lba++ {
		i, in := r.index(lba)
		if !in {
			continue
		}
		if ok {
			r.acked[i] = op.Gen
			delete(r.maybe, i)
		} else {
			r.maybe[i] = append(r.maybe[i], op.Gen)
		}
	}
}

// Verdict is how a sector's contents compare with its record.
type Verdict uint8

// Verdicts.
const (
	Match   Verdict = iota // one of the contents the record allows
	Corrupt                // none of them: corrupted data, or an acknowledged write lost
	Unknown                // it may hold the sector's original contents, which were not given
)

// Check judges the contents of sector lba of the stripe: they must be
// those of the last acknowledged write, or of a failed write since; a
// sector no acknowledged write reached may also hold its original
// contents, initial, which a nil initial leaves unknown. A sector outside
// the stripe is Unknown.
func (r *Record) Check(lba uint64, data, initial []byte) Verdict {
	i, in := r.index(lba)
	if !in || len(data) != r.sectorSize {
		return Unknown
	}
	m, unknown := r.holds(lba, data, initial, r.acked[i])
	for _, gen := range r.maybe[i] {
		if m {
			break
		}
		var u bool
		m, u = r.holds(lba, data, initial, gen)
		unknown = unknown || u
	}
	switch {
	case m:
		return Match
	case unknown:
		return Unknown
	}
	return Corrupt
}

// holds reports whether data are the contents of sector lba after the
// write of generation gen (0: the original contents, initial), and whether
// that cannot be told because initial is nil.
func (r *Record) holds(lba uint64, data, initial []byte, gen uint32) (match, unknown bool) {
	if gen == 0 {
		if initial == nil {
			return false, true
		}
		return bytes.Equal(data, initial), false
	}
	Content(r.seed, r.Stripe.Worker, gen).Fill(r.scratch, lba, r.sectorSize)
	return bytes.Equal(data, r.scratch), false
}

// Acked returns the generation of the last acknowledged write of sector
// lba, 0 for none, and how many failed writes since may have reached it.
func (r *Record) Acked(lba uint64) (gen uint32, failed int) {
	i, in := r.index(lba)
	if !in {
		return 0, 0
	}
	return r.acked[i], len(r.maybe[i])
}

func (r *Record) index(lba uint64) (uint64, bool) {
	if lba < r.Stripe.LBA || lba-r.Stripe.LBA >= r.Stripe.Count {
		return 0, false
	}
	return lba - r.Stripe.LBA, true
}
