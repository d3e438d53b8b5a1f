// Package shell is the firmware's serial debug shell: a line editor for a
// VT100/ANSI terminal on a byte stream (COM1), and a table of commands from
// which help and usage errors are generated, in the form of go-boot's
// shell/cmd.go (one row per command: name, argument usage, help, handler).
//
// A line holds at most 512 bytes of printable ASCII; further input is
// refused with a bell. The last 64 distinct lines are kept as history.
// Cursor moves are relative (backspace, CUB, CUF), so editing displays right
// only while prompt and line fit on one terminal row; a longer line is still
// edited correctly, only its echo may be misplaced.
// Everything written to the console goes through a writer that turns "\n"
// into "\r\n", as a raw UART needs.
//
// Only the standard library is used, so the package builds for GOOS=tamago
// and is tested on the host.
//
// References: ECMA-48, 5th edition (1991), 5.4 "Control sequences" and 8.3
// (CUB, CUF, EL, ED, CUP); DEC VT100 User Guide (EK-VT100-UG-003), chapter
// 3, for the cursor-key and editing-key sequences terminals send.
package shell

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// maxDrain bounds the bytes one Interrupted call takes from Poll, so a
// flood of input cannot keep a command from running.
const maxDrain = 4 * maxLine

// ErrUsage, returned by a handler, makes the shell print the command's usage
// line instead of an error: for argument combinations MinArgs and MaxArgs
// cannot express.
var ErrUsage = errors.New("usage")

// ErrInterrupted is what a handler returns when it stops because
// Interrupted reported Ctrl-C.
var ErrInterrupted = errors.New("interrupted")

// Shell is a debug shell on one console. The caller fills the exported
// fields, registers commands with Add and calls Run. A Shell is used by one
// goroutine: the one calling Run, which also runs the handlers.
type Shell struct {
	// In delivers the console input. A Read may return fewer bytes than
	// asked, even none, but should wait a little for input before
	// returning none, as Run reads again at once.
	In io.Reader

	// Out is the console output.
	Out io.Writer

	// Poll, if set, returns the next input byte without blocking, and
	// false when none is waiting. Interrupted uses it to see Ctrl-C while
	// a command runs; on the firmware it is the UART's Rx. It is called
	// from the goroutine running Run.
	Poll func() (byte, bool)

	// Prompt is printed before each line; empty means "> ".
	Prompt string

	// OnPanic, if set, is called after a handler panicked and the shell
	// printed "panic: <value>", with the value and the handler's stack
	// (runtime/debug.Stack). It must not panic itself.
	OnPanic func(v any, stack []byte)

	cmds []*entry
	ed   editor
	out  crlfWriter
	rbuf [64]byte

	// queue holds input read but not yet edited: bytes Interrupted
	// drained from Poll, and the rest of a Read after an accepted line.
	queue []byte

	interrupted bool
}

// Interrupted reports whether Ctrl-C (0x03) arrived since the running
// command started, without blocking, so a long command can poll it and stop
// with ErrInterrupted. Bytes typed before the Ctrl-C are discarded with it,
// as a terminal flushes type-ahead on an interrupt; other bytes are kept for
// the next line, up to 512 (more are dropped). Without Poll it only sees
// input already read.
//
// Context: PASSIVE, in the goroutine running Run (from a handler); does not
// block.
func (s *Shell) Interrupted() bool {
	if s.interrupted {
		return true
	}

	if i := bytes.IndexByte(s.queue, ctrlC); i >= 0 {
		s.queue = s.queue[i+1:]
		s.interrupted = true
		return true
	}

	if s.Poll == nil {
		return false
	}

	for range maxDrain {
		b, ok := s.Poll()
		if !ok {
			break
		}

		if b == ctrlC {
			s.queue = s.queue[:0]
			s.interrupted = true
			return true
		}

		if len(s.queue) < maxLine {
			s.queue = append(s.queue, b)
		}
	}

	return false
}

// Run prints the prompt, then reads, edits and executes lines until In
// returns io.EOF, when it returns nil; an unfinished line is dropped. It
// returns any other error from In, or the first error writing to Out.
//
// Context: PASSIVE; blocks in In.Read, allocates, and runs the handlers in
// its goroutine.
func (s *Shell) Run() error {
	if s.In == nil || s.Out == nil {
		return errors.New("shell: Run needs In and Out")
	}

	s.init()
	s.out.w = s.Out
	s.ed.prompt = s.Prompt
	if s.ed.prompt == "" {
		s.ed.prompt = "> "
	}
	s.prompt()
	s.flush()

	for {
		n, err := s.In.Read(s.rbuf[:])
		s.queue = append(s.queue, s.rbuf[:n]...)

		for len(s.queue) > 0 {
			b := s.queue[0]
			s.queue = s.queue[1:]
			s.feed(b)
		}
		s.flush()

		switch {
		case s.out.err != nil:
			return s.out.err
		case err == io.EOF:
			return nil
		case err != nil:
			return err
		}
	}
}

// init registers the built-in help row once.
func (s *Shell) init() {
	if s.cmds != nil {
		return
	}

	s.cmds = []*entry{{
		Cmd: Cmd{
			Name:    "help",
			Args:    "[CMD...]",
			Help:    "every command with its usage, or those starting with CMD",
			MaxArgs: -1,
			Handler: s.help,
		},
		words: []string{"help"},
	}}
}

// feed gives one input byte to the editor and executes the line it
// completes.
func (s *Shell) feed(b byte) {
	switch s.ed.feed(b) {
	case accept:
		line := s.ed.take()
		s.flush()
		s.exec(line)
		s.prompt()
	case cancel:
		s.prompt()
	}
}

// prompt starts a new line for editing, on a fresh console line even if a
// command's output did not end in a newline.
func (s *Shell) prompt() {
	s.flush()
	if !s.out.atLineStart() {
		_, _ = s.out.Write([]byte("\n"))
	}
	s.ed.start()
}

// flush writes the editor's pending output.
func (s *Shell) flush() {
	if len(s.ed.out) > 0 {
		_, _ = s.out.Write(s.ed.out)
		s.ed.out = s.ed.out[:0]
	}
}

// exec tokenizes and runs one line, reporting every failure as one line.
func (s *Shell) exec(line string) {
	args, err := tokenize(line)
	if err != nil {
		s.printf("error: %v\n", err)
		return
	}

	if len(args) == 0 {
		return
	}

	e, n := s.lookup(args)
	if e == nil {
		s.unknown(args)
		return
	}

	rest := args[n:]
	if e.MaxArgs >= 0 && len(rest) > e.MaxArgs && s.group(e) {
		// "ata foo": a subcommand that does not exist, not arguments.
		s.unknown(args)
		return
	}
	if len(rest) < e.MinArgs || (e.MaxArgs >= 0 && len(rest) > e.MaxArgs) {
		s.printf("usage: %s\n", e.usage())
		return
	}
	args = rest

	s.call(e, args)
}

// call runs a handler, turning its error or panic into one line.
func (s *Shell) call(e *entry, args []string) {
	s.interrupted = false

	defer func() {
		v := recover()
		if v == nil {
			return
		}

		stack := debug.Stack()
		s.report("panic: %s\n", oneLine(fmt.Sprint(v)))

		if s.OnPanic != nil {
			s.OnPanic(v, stack)
		}
	}()

	err := e.Handler(&Context{Writer: &s.out, Cmd: &e.Cmd, shell: s}, args)

	switch {
	case err == nil:
	case errors.Is(err, ErrUsage):
		s.report("usage: %s\n", e.usage())
	default:
		s.report("error: %s\n", oneLine(err.Error()))
	}
}

// report prints a handler's failure on a line of its own, even after
// output that did not end in a newline.
func (s *Shell) report(format string, a ...any) {
	if !s.out.atLineStart() {
		s.printf("\n")
	}
	s.printf(format, a...)
}

func (s *Shell) printf(format string, a ...any) {
	_, _ = fmt.Fprintf(&s.out, format, a...)
}

// oneLine joins the lines of a message with "; " so an error or panic value
// prints as one console line.
func oneLine(msg string) string {
	lines := strings.FieldsFunc(msg, func(r rune) bool {
		return r == '\n' || r == '\r'
	})

	var kept []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			kept = append(kept, l)
		}
	}

	return strings.Join(kept, "; ")
}

// crlfWriter turns each "\n" not preceded by "\r" into "\r\n", remembers the
// last byte written (to know whether the cursor is at a line start) and the
// first write error.
type crlfWriter struct {
	w    io.Writer
	last byte
	err  error
	buf  [256]byte
}

func (c *crlfWriter) atLineStart() bool {
	return c.last == 0 || c.last == '\n'
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	n := 0

	for _, b := range p {
		if b == '\n' && c.last != '\r' {
			c.buf[n] = '\r'
			n++
		}

		c.buf[n] = b
		n++
		c.last = b

		if n >= len(c.buf)-1 {
			if !c.put(c.buf[:n]) {
				return 0, c.err
			}
			n = 0
		}
	}

	if !c.put(c.buf[:n]) {
		return 0, c.err
	}

	return len(p), nil
}

func (c *crlfWriter) put(p []byte) bool {
	if c.err != nil {
		return false
	}

	if len(p) > 0 {
		_, c.err = c.w.Write(p)
	}

	return c.err == nil
}
