package bench

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Latency is an interrupt or timer latency figure of `irq latency`, in TSC
// cycles, with the TSC rate to state it in microseconds too.
type Latency struct {
	Name          string // what was measured, from where to where
	P50, P99, Max uint64 // cycles, nearest rank
	Samples       int
	// Of, when above Samples, is how many there were in all: P50 and P99
	// are then of the latest Samples, Max of all (Lateness).
	Of uint64
	Hz uint64 // TSC cycles per second
}

// Latencies summarizes samples (cycles, in any order; sorted in place).
func Latencies(name string, samples []uint64, hz uint64) Latency {
	l := Latency{Name: name, Samples: len(samples), Hz: hz}
	if len(samples) == 0 {
		return l
	}
	slices.Sort(samples)
	rank := func(p int) uint64 { return samples[max((p*len(samples)+99)/100, 1)-1] }
	l.P50, l.P99, l.Max = rank(50), rank(99), samples[len(samples)-1]
	return l
}

// Lateness summarizes a lateness record (internal/lateness), which keeps
// its latest samples, the worst of all and their count: P50 and P99 of
// recent, Max the worst of all, and Of the count when it exceeds the
// samples kept.
func Lateness(name string, recent []uint64, worst, n, hz uint64) Latency {
	l := Latencies(name, recent, hz)
	l.Max = max(l.Max, worst)
	if n > uint64(l.Samples) {
		l.Of = n
	}
	return l
}

// Micros returns c cycles in microseconds.
func (l Latency) Micros(c uint64) float64 {
	if l.Hz == 0 {
		return 0
	}
	return float64(c) / float64(l.Hz) * 1e6
}

// String returns the line `irq latency` prints, for example
//
//	latency: self-IPI DIRQL5, send to ISR: p50 5200 cycles 2.0us p99 9100 cycles 3.5us max 26000 cycles 10.0us samples 1000
//
// and, for a Lateness with more events than samples kept, "samples 4096
// of 61234".
func (l Latency) String() string {
	s := fmt.Sprintf("latency: %s: p50 %d cycles %.1fus p99 %d cycles %.1fus max %d cycles %.1fus samples %d",
		l.Name, l.P50, l.Micros(l.P50), l.P99, l.Micros(l.P99), l.Max, l.Micros(l.Max), l.Samples)
	if l.Of > uint64(l.Samples) {
		s += fmt.Sprintf(" of %d", l.Of)
	}
	return s
}

var latencyLine = regexp.MustCompile(`^latency: (.+): p50 (\d+) cycles (\S+)us p99 (\d+) cycles (\S+)us max (\d+) cycles (\S+)us samples (\d+)(?: of (\d+))?$`)

// ParseLatency reads a line String wrote back; it reports false for any
// other line. The microsecond figures come back in P50us, P99us and Maxus.
func ParseLatency(line string) (l Latency, p50us, p99us, maxus float64, ok bool) {
	m := latencyLine.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return Latency{}, 0, 0, 0, false
	}
	bad := false
	u := func(i int) uint64 {
		v, err := strconv.ParseUint(m[i], 10, 64)
		bad = bad || err != nil
		return v
	}
	f := func(i int) float64 {
		v, err := strconv.ParseFloat(m[i], 64)
		bad = bad || err != nil
		return v
	}
	l = Latency{Name: m[1], P50: u(2), P99: u(4), Max: u(6), Samples: int(u(8))}
	if m[9] != "" {
		l.Of = u(9)
	}
	return l, f(3), f(5), f(7), !bad
}
