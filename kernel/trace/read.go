package trace

import (
	"sort"
	"sync"
	"time"
)

// names holds the names DPCs and timers are recorded by (Name).
var names struct {
	mu sync.Mutex
	s  []string
}

// Name returns the number events record for name, the same for the same
// name, made once when a DPC or a timer is made.
//
// Context: PASSIVE; may allocate.
func Name(name string) uint64 {
	names.mu.Lock()
	defer names.mu.Unlock()
	for i, s := range names.s {
		if s == name {
			return uint64(i)
		}
	}
	names.s = append(names.s, name)
	return uint64(len(names.s) - 1)
}

// NameOf returns the name numbered n by Name.
func NameOf(n uint64) string {
	names.mu.Lock()
	defer names.mu.Unlock()
	if n < uint64(len(names.s)) {
		return names.s[n]
	}
	return "?"
}

// Snapshot is a trace as read back: the events of every CPU up to the
// first drop of any ring, each CPU's in the order it recorded them, with
// what turns TSC values into time.
type Snapshot struct {
	Events   []Event // by CPU, then in recording (TSC) order
	StartTSC uint64
	Hz       float64 // TSC ticks per second over the trace
	Cut      bool    // a ring was full: events after its first drop are left out
	Dropped  uint64
}

// Read returns the current trace; it may run while recording goes on.
//
// Context: PASSIVE; allocates.
func Read() Snapshot {
	b := cur.Load()
	if b == nil {
		return Snapshot{}
	}
	s := Snapshot{StartTSC: b.startTSC}
	endTSC, endNanos := b.stopTSC.Load(), b.stopNanos.Load()
	if endTSC == 0 {
		endTSC, endNanos = hw.TSC(), time.Since(epoch).Nanoseconds()
	}
	if dn := endNanos - b.startNanos; dn > 0 && endTSC > b.startTSC {
		s.Hz = float64(endTSC-b.startTSC) * 1e9 / float64(dn)
	} else {
		s.Hz = 1e9
	}
	cut := ^uint64(0)
	for i := range b.r {
		if t := b.r[i].dropTSC.Load(); t != 0 && t < cut {
			cut, s.Cut = t, true
		}
		s.Dropped += b.r[i].dropped.Load()
	}
	for i := range b.r {
		r := &b.r[i]
		n := r.n.Load()
		for _, e := range r.ev[:n] {
			if e.TSC < cut {
				s.Events = append(s.Events, e)
			}
		}
	}
	return s
}

// Micros returns TSC value t as microseconds since the trace started.
func (s *Snapshot) Micros(t uint64) float64 {
	return float64(int64(t-s.StartTSC)) * 1e6 / s.Hz
}

// ByTime returns the events of every CPU merged in TSC order (the TSC is
// the same clock on every CPU), each CPU's own order kept.
func (s *Snapshot) ByTime() []Event {
	out := append([]Event(nil), s.Events...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].TSC < out[j].TSC })
	return out
}
