package shell

import (
	"io"
	"testing"
)

// FuzzShell feeds arbitrary bytes through the editor and dispatcher, in
// reads of varying size (some empty) with Poll taking from the same input:
// no panic may escape, Run must end cleanly at EOF, and output and state
// must stay bounded.
func FuzzShell(f *testing.F) {
	for _, seed := range []string{
		"help\r",
		"help ata\r\n",
		"ata read 0 1 8\r",
		"ata read 9 1\r",
		"boom\recho ok\r",
		"loop\rab\x03echo hi\r",
		"abc\x1b[D\x1b[D\x7f\x1b[3~\x1b[H\x1b[F\x0c\x15\x0b\x17\r",
		"one\rtwo\r\x1b[A\x1b[A\x1b[B\x1bOA\r",
		`echo "a b" "c`,
		"\x1b[1;5C\x1b[99999~\x1bO\x1b\x1b[\r",
	} {
		f.Add([]byte(seed), uint8(64))
		f.Add([]byte(seed), uint8(0))
	}

	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		con := &fuzzConsole{console: console{in: in}, chunk: int(chunk)}
		s := &Shell{In: con, Out: con, Poll: con.Rx, OnPanic: func(any, []byte) {}}
		for _, c := range testCmds() {
			s.Add(c)
		}

		if err := s.Run(); err != nil {
			t.Fatalf("Run: %v", err)
		}

		// The costliest bytes are a Ctrl-L or an Up redrawing a full line,
		// and a help listing.
		if limit := 1024 * (len(in) + 1); con.out > limit {
			t.Errorf("%d input bytes printed %d bytes", len(in), con.out)
		}

		if e := &s.ed; len(e.line) > maxLine || e.cur < 0 || e.cur > len(e.line) ||
			len(e.hist) > historySize || len(s.queue) > maxLine+len(s.rbuf) {
			t.Errorf("state out of bounds: line %d cursor %d history %d queue %d",
				len(e.line), e.cur, len(e.hist), len(s.queue))
		}
	})
}

// fuzzConsole is console (its Rx included) reading up to chunk%9 bytes at
// a time, a 0 giving an empty read, and counting what is written instead
// of keeping it.
type fuzzConsole struct {
	console
	chunk int
	reads int
	out   int
}

func (c *fuzzConsole) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}

	c.reads++
	n := min((c.chunk+c.reads)%9, len(p), len(c.in))
	copy(p, c.in[:n])
	c.in = c.in[n:]

	return n, nil
}

func (c *fuzzConsole) Write(p []byte) (int, error) {
	c.out += len(p)
	return len(p), nil
}
