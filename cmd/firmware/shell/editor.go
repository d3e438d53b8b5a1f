package shell

import (
	"strconv"
	"strings"
)

const (
	// maxLine bounds a line, and so the editor's memory and the redraw a
	// keystroke can cost on a 115200-baud line.
	maxLine = 512

	// historySize is how many past lines Up and Down reach.
	historySize = 64
)

// Control characters the editor acts on (ASCII, ECMA-48 5.2).
const (
	ctrlA = 0x01 // cursor to line start
	ctrlC = 0x03 // abandon the line, or interrupt a command
	ctrlE = 0x05 // cursor to line end
	bel   = 0x07
	bs    = 0x08 // Backspace on some terminals
	lf    = 0x0a
	ctrlK = 0x0b // kill to line end
	ctrlL = 0x0c // clear the screen and redraw the line
	cr    = 0x0d
	ctrlU = 0x15 // kill to line start
	ctrlW = 0x17 // delete the word before the cursor
	esc   = 0x1b
	del   = 0x7f // Backspace on most terminals
)

// escState tracks an escape sequence being received.
type escState uint8

const (
	escNone  escState = iota
	escStart          // after ESC
	escCSI            // after ESC [, collecting parameters (ECMA-48 5.4)
	escSS3            // after ESC O, as keys send in VT100 application mode
)

// action is what a byte completed.
type action uint8

const (
	none   action = iota
	accept        // Enter: the line is ready in take
	cancel        // Ctrl-C: the line was abandoned
)

// editor is the line editor's state machine: feed takes input bytes one at
// a time and appends the terminal output they cause to out.
type editor struct {
	prompt string
	line   []byte
	cur    int // cursor offset in line
	out    []byte

	esc   escState
	param int  // first numeric CSI parameter
	semi  bool // a ';' ended the first parameter
	// afterCR is set after a CR, so the LF of a CRLF is not a second
	// Enter.
	afterCR bool

	hist    []string
	histPos int    // index in hist of the line shown; len(hist) for the new one
	saved   string // the new line, kept while browsing history
}

// start begins a new line: it queues the prompt and resets the line and
// history position.
func (e *editor) start() {
	e.line = e.line[:0]
	e.cur = 0
	e.histPos = len(e.hist)
	e.saved = ""
	e.out = append(e.out, e.prompt...)
}

// take returns the accepted line and records it in history.
func (e *editor) take() string {
	line := string(e.line)

	if strings.TrimSpace(line) != "" && (len(e.hist) == 0 || e.hist[len(e.hist)-1] != line) {
		if len(e.hist) == historySize {
			copy(e.hist, e.hist[1:])
			e.hist = e.hist[:historySize-1]
		}
		e.hist = append(e.hist, line)
	}

	return line
}

// feed processes one input byte.
func (e *editor) feed(b byte) action {
	if e.afterCR {
		e.afterCR = false
		if b == lf {
			return none
		}
	}

	switch e.esc {
	case escStart:
		e.esc = escNone
		switch {
		case b == '[':
			e.esc, e.param, e.semi = escCSI, 0, false
			return none
		case b == 'O':
			e.esc = escSS3
			return none
		case b >= 0x20:
			// Alt-key or an unknown sequence: dropped.
			return none
		}
	case escCSI:
		switch {
		case b >= '0' && b <= '9':
			// Key numbers are small; the bound only stops overflow.
			if !e.semi && e.param < 1000 {
				e.param = e.param*10 + int(b-'0')
			}
			return none
		case b >= 0x20 && b <= 0x3f:
			// Other parameter and intermediate bytes.
			e.semi = e.semi || b == ';'
			return none
		case b >= 0x40 && b <= 0x7e:
			e.esc = escNone
			e.key(b, e.param)
			return none
		}
		// A control byte (or DEL) aborts the sequence and is handled as
		// itself, so a broken sequence cannot swallow an Enter.
		e.esc = escNone
	case escSS3:
		e.esc = escNone
		if b >= 0x20 {
			e.key(b, 0)
			return none
		}
	}

	switch {
	case b >= 0x20 && b < del:
		e.insert(b)
	case b == cr:
		e.afterCR = true
		e.out = append(e.out, "\r\n"...)
		return accept
	case b == lf:
		e.out = append(e.out, "\r\n"...)
		return accept
	case b == ctrlC:
		e.out = append(e.out, "^C\r\n"...)
		return cancel
	case b == del || b == bs:
		if e.cur > 0 {
			e.cut(e.cur-1, e.cur)
		}
	case b == ctrlA:
		e.moveTo(0)
	case b == ctrlE:
		e.moveTo(len(e.line))
	case b == ctrlU:
		e.cut(0, e.cur)
	case b == ctrlK:
		e.cut(e.cur, len(e.line))
	case b == ctrlW:
		i := e.cur
		for i > 0 && e.line[i-1] == ' ' {
			i--
		}
		for i > 0 && e.line[i-1] != ' ' {
			i--
		}
		e.cut(i, e.cur)
	case b == ctrlL:
		e.out = append(e.out, esc, '[', 'H', esc, '[', '2', 'J')
		e.redraw()
	case b == esc:
		e.esc = escStart
	}

	return none
}

// key handles the final byte of a CSI or SS3 sequence, with its first
// parameter; unknown keys are ignored.
func (e *editor) key(final byte, param int) {
	switch final {
	case 'A':
		if e.histPos > 0 {
			if e.histPos == len(e.hist) {
				e.saved = string(e.line)
			}
			e.histPos--
			e.set(e.hist[e.histPos])
		}
	case 'B':
		if e.histPos < len(e.hist) {
			e.histPos++
			if e.histPos == len(e.hist) {
				e.set(e.saved)
			} else {
				e.set(e.hist[e.histPos])
			}
		}
	case 'C':
		if e.cur < len(e.line) {
			e.moveTo(e.cur + 1)
		}
	case 'D':
		if e.cur > 0 {
			e.moveTo(e.cur - 1)
		}
	case 'H':
		e.moveTo(0)
	case 'F':
		e.moveTo(len(e.line))
	case '~':
		// VT220-style editing keys: ESC [ n ~.
		switch param {
		case 1, 7:
			e.moveTo(0)
		case 4, 8:
			e.moveTo(len(e.line))
		case 3:
			if e.cur < len(e.line) {
				e.cut(e.cur, e.cur+1)
			}
		}
	}
}

// insert puts b at the cursor, echoing only b when appending.
func (e *editor) insert(b byte) {
	if len(e.line) >= maxLine {
		e.out = append(e.out, bel)
		return
	}

	at := e.cur
	e.line = append(e.line, 0)
	copy(e.line[at+1:], e.line[at:])
	e.line[at] = b
	e.out = append(e.out, e.line[at:]...)
	e.cur = len(e.line)
	e.moveTo(at + 1)
}

// cut deletes line[a:b], where the cursor is at a or b, by rewriting the
// tail and erasing to the end of the terminal line (EL); the cursor ends at
// a.
func (e *editor) cut(a, b int) {
	if a == b {
		return
	}

	e.moveTo(a)
	e.line = append(e.line[:a], e.line[b:]...)
	e.out = append(e.out, e.line[a:]...)
	e.out = append(e.out, esc, '[', 'K')
	e.cur = len(e.line)
	e.moveTo(a)
}

// moveTo moves the cursor to c in whichever form is shorter on the wire:
// backspaces or re-echoed text for up to 3 columns, else CUB or CUF.
func (e *editor) moveTo(c int) {
	switch n := c - e.cur; {
	case n < -3:
		e.csi(-n, 'D')
	case n < 0:
		for range -n {
			e.out = append(e.out, bs)
		}
	case n > 3:
		e.csi(n, 'C')
	case n > 0:
		e.out = append(e.out, e.line[e.cur:c]...)
	}
	e.cur = c
}

func (e *editor) csi(n int, final byte) {
	e.out = append(e.out, esc, '[')
	e.out = strconv.AppendInt(e.out, int64(n), 10)
	e.out = append(e.out, final)
}

// set replaces the line with s, cursor at the end.
func (e *editor) set(s string) {
	e.line = append(e.line[:0], s...)
	e.cur = len(e.line)
	e.redraw()
}

// redraw rewrites the prompt and line from the line start, erases what is
// left of an older, longer line (EL), and puts the cursor back.
func (e *editor) redraw() {
	e.out = append(e.out, '\r')
	e.out = append(e.out, e.prompt...)
	e.out = append(e.out, e.line...)
	e.out = append(e.out, esc, '[', 'K')
	c := e.cur
	e.cur = len(e.line)
	e.moveTo(c)
}
