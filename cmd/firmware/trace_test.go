//go:build !tamago

package main

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ataport/firmware/internal/qemu"
)

// traceEvent is one Chrome trace event as `trace dump` writes it; the
// pointers tell a missing member from a zero.
type traceEvent struct {
	Ph   string         `json:"ph"`
	Ts   *float64       `json:"ts"`
	Pid  *int           `json:"pid"`
	Tid  *int           `json:"tid"`
	Name string         `json:"name"`
	Dur  float64        `json:"dur"`
	ID   string         `json:"id"`
	Args map[string]any `json:"args"`
}

func (e *traceEvent) arg(k string) (int, bool) {
	v, ok := e.Args[k].(float64)
	return int(v), ok
}

// parseTraceDump cuts the JSON out of `trace dump`'s output and parses it.
func parseTraceDump(t *testing.T, out string) []traceEvent {
	t.Helper()
	i, j := strings.Index(out, traceBeginMarker), strings.Index(out, traceEndMarker)
	if i < 0 || j < i {
		t.Fatalf("trace dump: no JSON between the marker lines:\n%.2000s", out)
	}
	var doc struct {
		TraceEvents []traceEvent `json:"traceEvents"`
	}
	if err := json.Unmarshal([]byte(out[i+len(traceBeginMarker):j]), &doc); err != nil {
		t.Fatalf("trace dump: %v", err)
	}
	return doc.TraceEvents
}

// The marker lines of cmd/firmware/tracecmd.go (built for tamago only).
const (
	traceBeginMarker = "--- trace json begin ---"
	traceEndMarker   = "--- trace json end ---"
)

type span struct {
	name       string
	cpu        int
	begin, end float64
	cr8        int // at the begin event
}

// traceCheck holds what one trace showed; checkTrace fills it and reports
// broken rules through t.
type traceCheck struct {
	events, requests, replays int
	cr8Checked, syncSpans     int // events whose CR8 met their CPU's counter; masked sections
	spins                     int // spin lock waits
	buildWithVector           int // BuildIo spans with a vector accepted on their CPU inside
	isrInISR                  int // ISRs that ran inside another ISR of their CPU
}

// checkTrace checks one trace against the format and docs/DESIGN.md.
func checkTrace(t *testing.T, evs []traceEvent) traceCheck {
	t.Helper()
	var res traceCheck
	res.events = len(evs)
	type key struct{ pid, tid int }
	tracks := map[key][]int{}
	for i := range evs {
		e := &evs[i]
		if e.Ph == "" || e.Ts == nil || e.Pid == nil || e.Tid == nil {
			t.Fatalf("event %d lacks ph, ts, pid or tid: %+v", i, *e)
		}
		if e.Ph == "M" {
			continue
		}
		tracks[key{*e.Pid, *e.Tid}] = append(tracks[key{*e.Pid, *e.Tid}], i)
	}
	irql := map[int][][2]float64{} // CPU: (ts, level) in order
	var spans []span
	var vectors []span // instants: begin == end
	for k, idx := range tracks {
		depth, last := 0, -1e18
		var open []int
		level := -1
		for _, i := range idx {
			e := &evs[i]
			if *e.Ts < last {
				t.Errorf("track %v: ts %.3f after %.3f", k, *e.Ts, last)
			}
			last = *e.Ts
			switch e.Ph {
			case "B":
				depth++
				open = append(open, i)
				// What runs at or below DISPATCH never starts inside a
				// DIRQL section of its CPU, and the reverse.
				cr8, _ := e.arg("cr8")
				low := strings.HasPrefix(e.Name, "DPC ") || strings.HasPrefix(e.Name, "BuildIo ")
				high := strings.HasPrefix(e.Name, "ISR ") || strings.HasPrefix(e.Name, "StartIo ") || strings.HasPrefix(e.Name, "sync ")
				if low && cr8 > 2 || high && cr8 < 3 {
					t.Errorf("CPU %d: %q begins at CR8 %d (%.3f)", k.tid, e.Name, cr8, *e.Ts)
				}
			case "E":
				depth--
				if depth < 0 {
					t.Fatalf("track %v: E %q at %.3f without B", k, e.Name, *e.Ts)
				}
				b := &evs[open[len(open)-1]]
				open = open[:len(open)-1]
				if b.Name != e.Name {
					t.Errorf("track %v: E %q closes B %q", k, e.Name, b.Name)
				}
				if k.pid == 1 {
					cr8, _ := b.arg("cr8")
					spans = append(spans, span{b.Name, k.tid, *b.Ts, *e.Ts, cr8})
				}
				if strings.HasPrefix(e.Name, "sync ") {
					res.syncSpans++
					bm, _ := b.arg("masked")
					em, _ := e.arg("masked")
					if _, cut := e.arg("cut"); bm != 1 || (em != 1 && !cut) {
						t.Errorf("CPU %d: %s at %.3f..%.3f: line mask read back %d..%d, want 1", k.tid, e.Name, *b.Ts, *e.Ts, bm, em)
					}
				}
			case "C":
				if v, ok := e.arg("IRQL"); ok {
					level = v
					irql[k.tid] = append(irql[k.tid], [2]float64{*e.Ts, float64(v)})
				}
				continue
			case "X":
				if strings.HasPrefix(e.Name, "spin ") {
					res.spins++
				}
			case "i":
				if k.pid == 1 && strings.HasPrefix(e.Name, "vector ") {
					vectors = append(vectors, span{name: e.Name, cpu: k.tid, begin: *e.Ts, end: *e.Ts})
				}
			}
			// Every event of a CPU's track that read CR8 read its counter.
			if cr8, ok := e.arg("cr8"); ok && k.pid == 1 && level >= 0 {
				res.cr8Checked++
				if cr8 != level {
					t.Errorf("CPU %d: %s %q at %.3f: CR8 %d, IRQL counter %d", k.tid, e.Ph, e.Name, *e.Ts, cr8, level)
				}
			}
		}
		if depth != 0 {
			t.Errorf("track %v: %d B without E", k, depth)
		}
	}

	// StartIo and the ISR of one channel never overlap, on any CPUs.
	byName := map[string][]span{}
	for _, s := range spans {
		byName[s.name] = append(byName[s.name], s)
	}
	for name, starts := range byName {
		if !strings.HasPrefix(name, "StartIo ") {
			continue
		}
		isrs := byName["ISR "+strings.TrimPrefix(name, "StartIo ")]
		for _, a := range starts {
			for _, b := range isrs {
				if a.begin < b.end && b.begin < a.end {
					t.Errorf("%s on CPU %d at %.3f..%.3f overlaps the ISR on CPU %d at %.3f..%.3f", name, a.cpu, a.begin, a.end, b.cpu, b.begin, b.end)
				}
			}
		}
	}

	// An ISR runs inside a DIRQL section of its CPU (another ISR, a
	// StartIo, a masked section) only when its DIRQL is above that
	// section's: a higher line's vector served at a safe point of the
	// lower's code, as the local APIC would interrupt it.
	var isrs, dirql []span
	for _, s := range spans {
		switch {
		case strings.HasPrefix(s.name, "ISR "):
			isrs = append(isrs, s)
			dirql = append(dirql, s)
		case strings.HasPrefix(s.name, "StartIo "), strings.HasPrefix(s.name, "sync "):
			dirql = append(dirql, s)
		}
	}
	for _, in := range isrs {
		for _, out := range dirql {
			if out.cpu != in.cpu || out.begin >= in.begin || in.end >= out.end {
				continue
			}
			if in.cr8 <= out.cr8 {
				t.Errorf("CPU %d: %s at CR8 %d (%.3f..%.3f) ran inside %s at CR8 %d (%.3f..%.3f)", in.cpu, in.name, in.cr8, in.begin, in.end, out.name, out.cr8, out.begin, out.end)
			}
			if strings.HasPrefix(out.name, "ISR ") {
				res.isrInISR++
			}
		}
	}

	// BuildIo spans with a vector accepted on their own CPU inside.
	for _, b := range spans {
		if !strings.HasPrefix(b.name, "BuildIo ") {
			continue
		}
		for _, v := range vectors {
			if v.cpu == b.cpu && v.begin > b.begin && v.begin < b.end {
				res.buildWithVector++
				t.Logf("CPU %d: %s at %.3f..%.3f; %s accepted at %.3f", b.cpu, b.name, b.begin, b.end, v.name, v.begin)
				break
			}
		}
	}

	// Every request whose life the trace holds whole, in order:
	// submitted < BuildIo < StartIo < vector accepted < claimed by the
	// ISR (completed inside it) < completion DPC < returned.
	within := func(name string, cpu int, ts float64) bool {
		for _, s := range byName[name] {
			if s.cpu == cpu && s.begin <= ts && ts <= s.end {
				return true
			}
		}
		return false
	}
	accepted := func(ch string, cpu int, from, to float64) bool {
		for _, v := range vectors {
			if v.cpu == cpu && strings.HasSuffix(v.name, " "+ch) && v.begin >= from && v.begin <= to {
				return true
			}
		}
		return false
	}
	chanName := map[int]string{}
	for i := range evs {
		if e := &evs[i]; e.Ph == "M" && e.Name == "thread_name" && *e.Pid == 2 {
			chanName[*e.Tid], _ = e.Args["name"].(string)
		}
	}
	for k, idx := range tracks {
		if k.pid != 2 {
			continue
		}
		ch := chanName[k.tid]
		steps := map[int]map[string]int{} // tag: step: event index (the last StartIo)
		for _, i := range idx {
			e := &evs[i]
			if e.Ph != "i" {
				continue
			}
			tag, _ := e.arg("tag")
			if e.Name == "submit" {
				steps[tag] = map[string]int{}
			}
			s := steps[tag]
			if s == nil {
				continue // submitted before the trace
			}
			s[e.Name] = i
			if e.Name != "return" {
				continue
			}
			delete(steps, tag)
			res.requests++
			order := []string{"submit", "BuildIo", "BuildIo end", "StartIo", "complete", "completion DPC", "return"}
			prev := -1
			for _, step := range order {
				j, ok := s[step]
				if !ok || j <= prev {
					t.Errorf("%s tag %d: %s missing or out of order: %v", ch, tag, step, s)
					break
				}
				prev = j
			}
			c := &evs[s["complete"]]
			cpu, _ := c.arg("cpu")
			if !within("ISR "+ch, cpu, *c.Ts) {
				res.replays++ // completed by the port's replay of a missed edge
				continue
			}
			if st, ok := s["StartIo"]; ok && !accepted(ch, cpu, *evs[st].Ts, *c.Ts) {
				t.Errorf("%s tag %d: completed in the ISR on CPU %d at %.3f with no vector accepted there since StartIo at %.3f", ch, tag, cpu, *c.Ts, *evs[st].Ts)
			}
		}
	}
	if res.cr8Checked == 0 {
		t.Errorf("no event's CR8 was checked against its CPU's IRQL counter")
	}
	if res.requests == 0 {
		t.Errorf("no whole request in the trace")
	}
	return res
}

// TestTrace records mixed two-channel I/O (DMA on ata0, PIO on ata1) on
// one CPU and on two, dumps it as JSON, parses it on the host and checks the trace
// format (ph, ts, pid, tid on every event; B/E balanced and ts monotonic
// per track) and the execution contract over time: each request's steps
// in order, its completion inside its channel's ISR after a vector
// accepted on that CPU, StartIo never overlapping the channel's ISR,
// synchronized sections with the line masked (read back), the IRQL
// counter of each CPU equal to the CR8 read at each of its events, and
// BuildIo spans inside which the CPU accepted a vector, and ata0's ISR
// (DIRQL 6) run inside ata1's (DIRQL 5), where a PIO block's transfer
// offers a safe point every sector (rounds of load until both are seen:
// about one BuildIo in a thousand has a vector inside, two or so in the
// 16384 events a round keeps per CPU; after naturalRounds without one,
// each BuildIo stalls 2 ms, as in TestContextsUnderLoad, until one is
// seen).
func TestTrace(t *testing.T) {
	for _, smp := range []string{"1", "2,sockets=1,cores=2"} {
		t.Run("smp"+smp[:1], func(t *testing.T) { traceMixed(t, smp) })
	}
}

func traceMixed(t *testing.T, smp string) {
	m := bootDMAAndPIO(t, smp, 31)
	found, nested, stalled := 0, 0, false
	for round := 1; round <= naturalRounds+stalledRounds && (found == 0 || nested == 0); round++ {
		switch {
		case !stalled && found == 0 && round > naturalRounds:
			t.Logf("no BuildIo span with a vector accepted on its CPU in %d rounds of load alone: each BuildIo now stalls 2 ms", naturalRounds)
			stallBuildIo(t, m, true)
			stalled = true
		case stalled && found > 0:
			// On one CPU the stalls leave ata1's PIO ISRs too little of
			// the CPU for ata0's to nest in them.
			stallBuildIo(t, m, false)
			stalled = false
		}
		out := m.Run("trace start", 10*time.Second)
		expectLine(t, out, `(?m)^trace: recording, classes irql,intr,sync,dpc,timer,idle,req,lock, 16384 events per CPU$`)
		out = m.Run(roundStress(round, "2s"), 2*time.Minute)
		expectLine(t, out, `(?m)^stress: \d+ ops .* 0 errors, 0 corrupted sectors`)
		t.Logf("round %d: %s", round, m.Run("trace stop", 10*time.Second))
		start := time.Now()
		dump := m.Run("trace dump", 5*time.Minute)
		evs := parseTraceDump(t, dump)
		res := checkTrace(t, evs)
		t.Logf("round %d: %d JSON events in %v, %d CR8 readings checked, %d masked sections, %d spin lock waits, %d whole requests, %d completed by a replay, %d BuildIo spans with a vector accepted on their CPU, %d ISRs inside another ISR; %s",
			round, res.events, time.Since(start).Round(time.Millisecond), res.cr8Checked, res.syncSpans, res.spins, res.requests, res.replays, res.buildWithVector, res.isrInISR,
			regexp.MustCompile(`(?m)^trace: \d+ events.*$`).FindString(dump))
		found += res.buildWithVector
		nested += res.isrInISR
		if res.replays*10 > res.requests {
			t.Errorf("%d of %d requests completed outside their channel's ISR", res.replays, res.requests)
		}
		if t.Failed() {
			return
		}
	}
	if found == 0 {
		t.Errorf("no BuildIo span with a vector accepted on its CPU in %d rounds", naturalRounds+stalledRounds)
	}
	if nested == 0 {
		t.Errorf("no ISR of ata0 (DIRQL 6) ran inside an ISR of ata1 (DIRQL 5, PIO) in %d rounds", naturalRounds+stalledRounds)
	}
}

// TestTraceDroppedInterrupt traces one write whose interrupt an injected
// fault drops (`ata inject 0 drop 1`) and checks, besides the rules of
// checkTrace, that the trace shows the recovery in order: StartIo, the
// channel's ISR (which the fault makes drop the completion), the timeout
// timer of the lost-interrupt check about 250 ms later, its masked section
// (the line masked, read back), the completion found there and serviced
// after it, the completion DPC, and the write returned; `trace show`
// prints the same steps as text. Before the trace, `trace` and `trace
// show` say there is none.
func TestTraceDroppedInterrupt(t *testing.T) {
	img := randomImage(t, "a.img", 8<<20, 41)
	m := qemu.Boot(t, qemu.Options{Drives: []qemu.Drive{{File: img, Bus: 0}}})
	runLine(t, m, "ata rw on 0:0", "0:0: writable true", 10*time.Second)
	runLine(t, m, "ata inject 0 drop 1", "ata0: inject drop 1 delay 0s (dropped 0, delayed 0)", 5*time.Second)
	runLine(t, m, "trace", "trace: none since boot (`trace start` begins one)", 5*time.Second)
	runLine(t, m, "trace show", "error: no trace since boot: `trace start` begins one", 5*time.Second)
	m.Run("trace start", 10*time.Second)
	m.Run("ata write 0:0 100 8 0x5a", 30*time.Second)
	m.Run("trace stop", 10*time.Second)
	show := m.Run("trace show 400", 30*time.Second)
	expectLine(t, show, `(?m)^ +\d+\.\d{3} cpu\d cr8=\d +ata0 complete tag \d+ dev 0 WRITE (DMA|DMA EXT) lba 100 count 8 status \d+$`)
	expectLine(t, show, `(?m)^ +\d+\.\d{3} cpu\d cr8=\d +timer ata0 timeout fired \d+\.\d{3} us late$`)
	expectLine(t, show, `(?m)^ +\d+\.\d{3} cpu\d cr8=6 +sync ata0 begin masked=1$`)
	evs := parseTraceDump(t, m.Run("trace dump", 2*time.Minute))
	res := checkTrace(t, evs)
	if res.requests != 1 || res.replays != 1 || res.syncSpans == 0 {
		t.Errorf("%d requests, %d completed by a replay, %d masked sections: want 1, 1 and at least 1", res.requests, res.replays, res.syncSpans)
	}
	// The steps, first occurrence of each after the previous one, in
	// time order over all tracks.
	sorted := make([]*traceEvent, 0, len(evs))
	for i := range evs {
		if evs[i].Ph != "M" && evs[i].Ph != "C" {
			sorted = append(sorted, &evs[i])
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return *sorted[i].Ts < *sorted[j].Ts })
	steps := []struct{ ph, name string }{
		{"i", "submit"}, {"B", "StartIo ata0"}, {"B", "ISR ata0"}, {"E", "ISR ata0"}, {"i", "timer ata0 timeout"},
		{"B", "sync ata0"}, {"E", "sync ata0"}, {"i", "complete"}, {"i", "completion DPC"}, {"i", "return"},
	}
	var at []float64
	k := 0
	for _, e := range sorted {
		if k < len(steps) && e.Ph == steps[k].ph && e.Name == steps[k].name {
			at = append(at, *e.Ts)
			k++
		}
	}
	if k < len(steps) {
		t.Fatalf("the trace has %d of the steps, no %s %q after them: %v", k, steps[k].ph, steps[k].name, at)
	}
	if lost := at[7] - at[1]; lost < 200e3 {
		t.Errorf("completed %.3f ms after StartIo, want the lost-interrupt check's 250 ms", lost/1e3)
	}
	t.Logf("StartIo %.3f ms, ISR %.3f, timeout timer %.3f, masked section %.3f..%.3f, completion %.3f, DPC %.3f, returned %.3f",
		at[1]/1e3, at[2]/1e3, at[4]/1e3, at[5]/1e3, at[6]/1e3, at[7]/1e3, at[8]/1e3, at[9]/1e3)
}
