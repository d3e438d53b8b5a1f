package trace

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// Names tell Text and WriteJSON what the numbers in events stand for; a
// nil func or an empty answer leaves the number.
type Names struct {
	Vector  func(v uint8) string  // the interrupt connected to a vector: "ata0"
	Channel func(ch uint8) string // an ATA channel by number: "ata0"
	Command func(c uint8) string  // an ATA command: "READ DMA EXT"
}

func (n *Names) vector(v uint64) string {
	if n.Vector != nil {
		if s := n.Vector(uint8(v)); s != "" {
			return s
		}
	}
	return "0x" + strconv.FormatUint(v, 16)
}

func (n *Names) channel(ch uint8) string {
	if n.Channel != nil {
		if s := n.Channel(ch); s != "" {
			return s
		}
	}
	return "channel" + strconv.Itoa(int(ch))
}

func (n *Names) command(c uint8) string {
	if n.Command != nil {
		if s := n.Command(c); s != "" {
			return s
		}
	}
	return "cmd 0x" + strconv.FormatUint(uint64(c), 16)
}

// The fields of a request event (see the request kinds): LBA, sector
// count, command, target device, the request block's tag, its status and
// the channel number.
func (e *Event) LBA() uint64     { return e.A & (1<<48 - 1) }
func (e *Event) Count() int      { return int(e.A >> 48) }
func (e *Event) Command() uint8  { return uint8(e.C) }
func (e *Event) Device() uint8   { return uint8(e.C >> 8) }
func (e *Event) Tag() uint8      { return uint8(e.C >> 16) }
func (e *Event) Status() uint8   { return uint8(e.C >> 24) }
func (e *Event) Channel() uint8  { return e.D }
func (e *Event) isRequest() bool { return e.Kind.Class() == ClassReq }

var reqNames = [...]string{"submit", "BuildIo", "BuildIo end", "StartIo", "StartIo end", "complete", "completion DPC", "return"}

// Text writes the last n events (all for n <= 0) one per line, in time
// order: microseconds since the start, CPU, CR8 and what happened.
//
// Context: PASSIVE; allocates.
func (s *Snapshot) Text(w io.Writer, n int, names Names) error {
	ev := s.ByTime()
	if n > 0 && len(ev) > n {
		ev = ev[len(ev)-n:]
	}
	bw := bufio.NewWriter(w)
	for i := range ev {
		e := &ev[i]
		fmt.Fprintf(bw, "%12.3f cpu%d cr8=%-2d %s\n", s.Micros(e.TSC), e.CPU, e.CR8, s.describe(e, &names))
	}
	return bw.Flush()
}

func (s *Snapshot) describe(e *Event, n *Names) string {
	switch e.Kind {
	case IRQL:
		return fmt.Sprintf("irql %d -> %d", e.A, e.B)
	case Vector:
		return fmt.Sprintf("vector 0x%x %s accepted at %.3f", e.A, n.vector(e.A), s.Micros(e.B))
	case ISRBegin:
		return "isr " + n.vector(e.A) + " begin"
	case ISREnd:
		return fmt.Sprintf("isr %s end claimed=%d", n.vector(e.A), e.B)
	case EOI:
		return "eoi " + n.vector(e.A)
	case SyncBegin:
		return fmt.Sprintf("sync %s begin masked=%d", n.vector(e.A), e.B)
	case SyncEnd:
		return fmt.Sprintf("sync %s end masked=%d", n.vector(e.A), e.B)
	case DPCQueue:
		return fmt.Sprintf("dpc %s queued for cpu%d", NameOf(e.A), int64(e.B))
	case DPCBegin:
		return "dpc " + NameOf(e.A) + " begin"
	case DPCEnd:
		return "dpc " + NameOf(e.A) + " end"
	case TimerSet:
		return fmt.Sprintf("timer %s set for %.3f ms", NameOf(e.A), float64(e.B)/1e6)
	case TimerCancel:
		return fmt.Sprintf("timer %s cancelled armed=%d", NameOf(e.A), e.B)
	case TimerFire:
		return fmt.Sprintf("timer %s fired %.3f us late", NameOf(e.A), float64(e.C)/1e3)
	case SpinWait:
		return fmt.Sprintf("spin lock %s acquired after %.3f us", LockName(e.A), float64(e.B)*1e6/s.Hz)
	case IdleHalt:
		return "idle halt"
	case IdleWake:
		return "idle wake"
	}
	if e.isRequest() && int(e.Kind-ReqSubmit) < len(reqNames) {
		return fmt.Sprintf("%s %s tag %d dev %d %s lba %d count %d status %d", n.channel(e.D), reqNames[e.Kind-ReqSubmit],
			e.Tag(), e.Device(), n.command(e.Command()), e.LBA(), e.Count(), e.Status())
	}
	return fmt.Sprintf("kind 0x%x a %d b %d c %d d %d", e.Kind, e.A, e.B, e.C, e.D)
}

// Trace-event processes: one thread per CPU in cpuPid, one per ATA
// channel in chanPid.
const (
	cpuPid  = 1
	chanPid = 2
)

// jev is one trace event being laid out.
type jev struct {
	tsc     uint64
	ph      byte
	pid     int
	tid     int
	name    string
	args    string // the members of the args object, "" for none
	dur     uint64 // X: TSC ticks
	id      string // b/e
	cat     string
	counter bool
}

// WriteJSON writes the trace as Chrome trace-event JSON (the object form,
// {"traceEvents":[...]}) for ui.perfetto.dev and chrome://tracing. Each
// CPU is a thread of process 1 with its IRQL as a counter ("IRQL cpuN"),
// its ISRs, DPCs, synchronized sections, BuildIo and StartIo calls and
// idle halts as B/E spans, and vectors (at the entry's acceptance), EOIs
// and timers as instants; each ATA channel is a thread of process 2 with
// the request in flight (StartIo to completion) as X spans, each
// request's life as async b/e spans, and its steps as instants. Every
// event carries "cpu" and "cr8" in args where CR8 was read; B/E spans
// are balanced per thread (a span cut by the start or the end of the
// trace is dropped or closed at its end).
//
// Context: PASSIVE; allocates.
func (s *Snapshot) WriteJSON(w io.Writer, names Names) error {
	tracks := map[[2]int][]jev{}
	add := func(j jev) { k := [2]int{j.pid, j.tid}; tracks[k] = append(tracks[k], j) }
	end := s.StartTSC
	inflight := map[[2]int]uint64{} // channel, tag: StartIo's TSC
	for i := range s.Events {
		e := &s.Events[i]
		end = max(end, e.TSC)
		cpu := int(e.CPU)
		common := fmt.Sprintf(`"cpu":%d,"cr8":%d`, e.CPU, e.CR8)
		on := func(ph byte, name, args string) {
			if args != "" {
				args = common + "," + args
			} else {
				args = common
			}
			add(jev{tsc: e.TSC, ph: ph, pid: cpuPid, tid: cpu, name: name, args: args})
		}
		switch e.Kind {
		case IRQL:
			add(jev{tsc: e.TSC, ph: 'C', pid: cpuPid, tid: cpu, name: "IRQL cpu" + strconv.Itoa(cpu), args: `"IRQL":` + strconv.FormatUint(e.B, 10), counter: true})
		case Vector:
			if e.B < s.StartTSC {
				break // accepted before the trace started
			}
			add(jev{tsc: e.B, ph: 'i', pid: cpuPid, tid: cpu, name: "vector " + n(&names, e.A),
				args: fmt.Sprintf(`"vector":%d,"cpu":%d,"latency_us":%.3f`, e.A, e.CPU, s.Micros(e.TSC)-s.Micros(e.B))})
		case ISRBegin:
			on('B', "ISR "+names.vector(e.A), fmt.Sprintf(`"vector":%d`, e.A))
		case ISREnd:
			on('E', "ISR "+names.vector(e.A), fmt.Sprintf(`"vector":%d,"claimed":%d`, e.A, e.B))
		case EOI:
			on('i', "EOI "+names.vector(e.A), fmt.Sprintf(`"vector":%d`, e.A))
		case SyncBegin, SyncEnd:
			on("BE"[e.Kind-SyncBegin], "sync "+names.vector(e.A), fmt.Sprintf(`"vector":%d,"masked":%d`, e.A, e.B))
		case DPCQueue:
			on('i', "queue DPC "+NameOf(e.A), fmt.Sprintf(`"target":%d`, int64(e.B)))
		case DPCBegin, DPCEnd:
			on("BE"[e.Kind-DPCBegin], "DPC "+NameOf(e.A), "")
		case TimerSet:
			on('i', "set timer "+NameOf(e.A), fmt.Sprintf(`"after_ms":%.6f`, float64(e.B)/1e6))
		case TimerCancel:
			on('i', "cancel timer "+NameOf(e.A), fmt.Sprintf(`"armed":%d`, e.B))
		case TimerFire:
			on('i', "timer "+NameOf(e.A), fmt.Sprintf(`"due_ns":%d,"late_us":%.3f`, e.B, float64(e.C)/1e3))
		case IdleHalt, IdleWake:
			on("BE"[e.Kind-IdleHalt], "halt", "")
		case SpinWait:
			add(jev{tsc: e.TSC - e.B, ph: 'X', pid: cpuPid, tid: cpu, name: "spin " + LockName(e.A), dur: e.B, args: common})
		}
		if !e.isRequest() || int(e.Kind-ReqSubmit) >= len(reqNames) {
			continue
		}
		ch := names.channel(e.D)
		req := fmt.Sprintf(`"tag":%d,"dev":%d,"cmd":%d,"lba":%d,"count":%d,"status":%d,"ok":%d`,
			e.Tag(), e.Device(), e.Command(), e.LBA(), e.Count(), e.Status(), e.B)
		switch e.Kind {
		case ReqBuildBegin, ReqBuildEnd:
			on("BE"[e.Kind-ReqBuildBegin], "BuildIo "+ch, req)
		case ReqStartBegin, ReqStartEnd:
			on("BE"[e.Kind-ReqStartBegin], "StartIo "+ch, req)
		}
		key := [2]int{int(e.D), int(e.Tag())}
		add(jev{tsc: e.TSC, ph: 'i', pid: chanPid, tid: int(e.D), name: reqNames[e.Kind-ReqSubmit], args: common + "," + req})
		id := ch + "." + strconv.Itoa(int(e.Tag()))
		switch e.Kind {
		case ReqSubmit:
			add(jev{tsc: e.TSC, ph: 'b', pid: chanPid, tid: int(e.D), name: names.command(e.Command()), cat: "request", id: id,
				args: fmt.Sprintf(`"dev":%d,"lba":%d,"count":%d`, e.Device(), e.LBA(), e.Count())})
		case ReqReturn:
			add(jev{tsc: e.TSC, ph: 'e', pid: chanPid, tid: int(e.D), name: names.command(e.Command()), cat: "request", id: id})
		case ReqStartBegin:
			inflight[key] = e.TSC
		case ReqComplete:
			if t, ok := inflight[key]; ok {
				delete(inflight, key)
				add(jev{tsc: t, ph: 'X', pid: chanPid, tid: int(e.D), name: names.command(e.Command()), dur: e.TSC - t,
					args: fmt.Sprintf(`"tag":%d,"dev":%d,"lba":%d,"count":%d,"status":%d`, e.Tag(), e.Device(), e.LBA(), e.Count(), e.Status())})
			}
		}
	}

	bw := bufio.NewWriter(w)
	bw.WriteString(`{"displayTimeUnit":"ns","traceEvents":[`)
	first := true
	emit := func(j jev, ts float64) {
		if !first {
			bw.WriteString(",")
		}
		first = false
		fmt.Fprintf(bw, "\n{\"ph\":\"%c\",\"ts\":%.3f,\"pid\":%d,\"tid\":%d,\"name\":%s", j.ph, ts, j.pid, j.tid, strconv.Quote(j.name))
		if j.ph == 'X' {
			fmt.Fprintf(bw, ",\"dur\":%.3f", float64(j.dur)*1e6/s.Hz)
		}
		if j.ph == 'i' {
			bw.WriteString(`,"s":"t"`)
		}
		if j.id != "" {
			fmt.Fprintf(bw, ",\"cat\":%q,\"id\":%q", j.cat, j.id)
		}
		if j.args != "" {
			bw.WriteString(",\"args\":{" + j.args + "}")
		}
		bw.WriteString("}")
	}
	meta := func(pid, tid int, what, name string) {
		emit(jev{ph: 'M', pid: pid, tid: tid, name: what, args: `"name":` + strconv.Quote(name)}, 0)
	}
	meta(cpuPid, 0, "process_name", "CPUs")
	meta(chanPid, 0, "process_name", "ATA channels")
	keys := make([][2]int, 0, len(tracks))
	for k := range tracks {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		if k[0] == cpuPid {
			meta(k[0], k[1], "thread_name", "CPU "+strconv.Itoa(k[1]))
		} else {
			meta(k[0], k[1], "thread_name", names.channel(uint8(k[1])))
		}
		t := tracks[k]
		sort.SliceStable(t, func(i, j int) bool { return t[i].tsc < t[j].tsc })
		var open []string         // B spans open on this thread, innermost last
		async := map[string]int{} // b spans open by id
		for _, j := range t {
			switch j.ph {
			case 'B':
				open = append(open, j.name)
			case 'E':
				if len(open) == 0 {
					continue // begun before the trace
				}
				j.name = open[len(open)-1]
				open = open[:len(open)-1]
			case 'b':
				async[j.id]++
			case 'e':
				if async[j.id] == 0 {
					continue
				}
				async[j.id]--
			}
			emit(j, s.Micros(j.tsc))
		}
		for i := len(open) - 1; i >= 0; i-- {
			emit(jev{ph: 'E', pid: k[0], tid: k[1], name: open[i], args: `"cut":1`}, s.Micros(max(end, lastTSC(t))))
		}
		ids := make([]string, 0, len(async))
		for id, c := range async {
			for ; c > 0; c-- {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			emit(jev{ph: 'e', pid: k[0], tid: k[1], name: "cut", cat: "request", id: id}, s.Micros(max(end, lastTSC(t))))
		}
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}

func n(names *Names, v uint64) string {
	return fmt.Sprintf("0x%x %s", v, names.vector(v))
}

func lastTSC(t []jev) uint64 {
	if len(t) == 0 {
		return 0
	}
	return t[len(t)-1].tsc
}
