// Package tracesvg draws the Chrome trace-event JSON of `trace dump` as an
// SVG picture on the host, for a look without a trace viewer: a lane per
// CPU coloured by its IRQL counter, with a tick for each vector the CPU
// accepted, and per ATA channel a lane of requests in flight (StartIo to
// completion) above a row per request block with each request's life
// (submitted to returned), from the first request on.
package tracesvg

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

type event struct {
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	Name string         `json:"name"`
	Dur  float64        `json:"dur"`
	ID   string         `json:"id"`
	Args map[string]any `json:"args"`
}

// Layout, in pixels.
const (
	width   = 1600
	left    = 110 // lane labels
	laneH   = 28
	tickH   = 8
	rowH    = 5 // a request block's row
	gap     = 14
	plotW   = width - left - 10
	maxTags = 8 // request block rows drawn per channel
)

// irqlColour is the fill of a CPU lane at each IRQL: PASSIVE light, APC
// and DISPATCH blues, DIRQL from yellow to red, CLOCK..HIGH dark.
func irqlColour(l int) string {
	switch {
	case l <= 0:
		return "#eeeeee"
	case l == 1:
		return "#9ecae1"
	case l == 2:
		return "#3182bd"
	case l <= 12:
		// DIRQL 3..12: yellow to red.
		g := 220 - (l-3)*20
		return fmt.Sprintf("#f0%02x20", max(g, 0))
	default:
		return "#222222"
	}
}

// Render reads a trace-event JSON document from data and writes the
// picture to w.
func Render(w io.Writer, data []byte) error {
	var doc struct {
		TraceEvents []event `json:"traceEvents"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("tracesvg: %w", err)
	}
	evs := doc.TraceEvents
	t0, t1 := math.Inf(1), math.Inf(-1)
	names := map[[2]int]string{}
	for _, e := range evs {
		if e.Ph == "M" {
			if e.Name == "thread_name" {
				names[[2]int{e.Pid, e.Tid}], _ = e.Args["name"].(string)
			}
			continue
		}
		t0, t1 = math.Min(t0, e.Ts), math.Max(t1, e.Ts+e.Dur)
	}
	// The picture starts with the first request: before it the CPUs
	// mostly idle while the shell starts the load.
	for _, e := range evs {
		if e.Pid == 2 && e.Ph != "M" && e.Ts > t0 {
			t0 = e.Ts
			break
		}
	}
	if t0 >= t1 {
		t1 = t0 + 1
	}
	x := func(ts float64) float64 { return left + (ts-t0)/(t1-t0)*plotW }

	var cpus, chans []int
	for k := range names {
		if k[0] == 1 {
			cpus = append(cpus, k[1])
		} else {
			chans = append(chans, k[1])
		}
	}
	sort.Ints(cpus)
	sort.Ints(chans)
	height := 40 + len(cpus)*(laneH+tickH+gap) + len(chans)*(laneH+maxTags*rowH+gap) + 40

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="16">%.3f ms from %.3f ms; CPU lanes coloured by IRQL, ticks: vectors accepted; channel lanes: requests in flight, then each request's life</text>`+"\n", left, (t1-t0)/1e3, t0/1e3)
	y := 30

	for _, cpu := range cpus {
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`+"\n", y+tickH+laneH/2+4, esc(names[[2]int{1, cpu}]))
		// The highest IRQL in each pixel column, so that short raises
		// stay visible and the picture stays small.
		col := make([]int, plotW+1)
		level, lastX := -1, 0
		var ticks []float64
		for _, e := range evs {
			if e.Pid != 1 || e.Tid != cpu {
				continue
			}
			switch {
			case e.Ph == "C":
				v, _ := e.Args["IRQL"].(float64)
				px := int(x(e.Ts)) - left
				for i := lastX; i < px && i < len(col); i++ {
					col[i] = max(col[i], level)
				}
				if px >= 0 && px < len(col) {
					col[px] = max(col[px], level, int(v))
				}
				level, lastX = int(v), max(px, 0)
			case e.Ph == "i" && strings.HasPrefix(e.Name, "vector "):
				ticks = append(ticks, x(e.Ts))
			}
		}
		for i := lastX; i < len(col); i++ {
			col[i] = max(col[i], level)
		}
		for i := 0; i < len(col); {
			j := i
			for j < len(col) && col[j] == col[i] {
				j++
			}
			if col[i] >= 0 {
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left+i, y+tickH, j-i, laneH, irqlColour(col[i]))
			}
			i = j
		}
		for _, tx := range ticks {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/>`+"\n", tx, y, tx, y+tickH)
		}
		y += laneH + tickH + gap
	}

	for _, ch := range chans {
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`+"\n", y+laneH/2+4, esc(names[[2]int{2, ch}]))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#f8f8f8"/>`+"\n", left, y, plotW, laneH)
		begun := map[string]float64{}
		for _, e := range evs {
			if e.Pid != 2 || e.Tid != ch {
				continue
			}
			switch e.Ph {
			case "X":
				fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#31a354"><title>%s</title></rect>`+"\n",
					x(e.Ts), y+2, math.Max(x(e.Ts+e.Dur)-x(e.Ts), 0.5), laneH-4, esc(e.Name))
			case "b":
				begun[e.ID] = e.Ts
			case "e":
				s, ok := begun[e.ID]
				if !ok {
					continue
				}
				delete(begun, e.ID)
				var tag int
				fmt.Sscanf(e.ID[strings.LastIndex(e.ID, ".")+1:], "%d", &tag)
				if tag >= maxTags {
					continue
				}
				fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#756bb1"/>`+"\n",
					x(s), y+laneH+tag*rowH, math.Max(x(e.Ts)-x(s), 0.5), rowH-1)
			}
		}
		y += laneH + maxTags*rowH + gap
	}

	// Legend.
	lx := left
	for _, l := range []struct {
		name string
		lv   int
	}{{"PASSIVE", 0}, {"APC", 1}, {"DISPATCH", 2}, {"DIRQL3", 3}, {"DIRQL6", 6}, {"DIRQL12", 12}, {"CLOCK..HIGH", 15}} {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="%s" stroke="#999"/><text x="%d" y="%d">%s</text>`+"\n", lx, y, irqlColour(l.lv), lx+16, y+10, l.name)
		lx += 100
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="#31a354"/><text x="%d" y="%d">in flight</text>`+"\n", lx, y, lx+16, y+10)
	lx += 100
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" fill="#756bb1"/><text x="%d" y="%d">request (row per tag)</text>`+"\n", lx, y, lx+16, y+10)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
