package shell

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// console is a fake UART. Read returns what is waiting, but with lineReads
// stops after a CR, as when a person types; Rx is the non-blocking read
// given as Poll.
type console struct {
	in        []byte
	out       bytes.Buffer
	lineReads bool
}

func (c *console) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}

	n := copy(p, c.in)
	if i := bytes.IndexByte(c.in[:n], '\r'); c.lineReads && i >= 0 {
		n = i + 1
	}
	c.in = c.in[n:]

	return n, nil
}

func (c *console) Rx() (byte, bool) {
	if len(c.in) == 0 {
		return 0, false
	}

	b := c.in[0]
	c.in = c.in[1:]

	return b, true
}

func (c *console) Write(p []byte) (int, error) {
	return c.out.Write(p)
}

// testCmds is a command table shaped like the firmware's.
func testCmds() []Cmd {
	return []Cmd{
		{Name: "echo", Args: "[WORD...]", Help: "print words", MaxArgs: -1,
			Handler: func(c *Context, args []string) error {
				_, err := fmt.Fprintln(c, strings.Join(args, "|"))
				return err
			}},
		{Name: "ata read", Args: "DEV LBA [COUNT]", Help: "read sectors", MinArgs: 2, MaxArgs: 3,
			Handler: func(c *Context, args []string) error {
				dev, err := ParseUint("DEV", args[0], 3)
				if err != nil {
					return err
				}
				lba, err := ParseUint("LBA", args[1], 1<<48-1)
				if err != nil {
					return err
				}
				count := uint64(1)
				if len(args) == 3 {
					if count, err = ParseUint("COUNT", args[2], 256); err != nil {
						return err
					}
				}
				_, err = fmt.Fprintf(c, "read dev %d lba %d count %d\n", dev, lba, count)
				return err
			}},
		{Name: "ata  sum", Args: "DEV", Help: "checksum a disk", MinArgs: 1, MaxArgs: 1,
			Handler: func(c *Context, args []string) error {
				_, err := fmt.Fprintln(c, "sum", args[0])
				return err
			}},
		{Name: "ata", Args: "[ARG...]", Help: "ata catch-all", MaxArgs: -1,
			Handler: func(c *Context, args []string) error {
				_, err := fmt.Fprintln(c, "ata", args)
				return err
			}},
		{Name: "irql bench", Args: "[DURATION]", Help: "time IRQL changes", MaxArgs: 1,
			Handler: func(c *Context, args []string) error { return nil }},
		{Name: "trace", Help: "show the trace", Handler: func(c *Context, args []string) error {
			_, err := fmt.Fprintln(c, "trace")
			return err
		}},
		{Name: "trace show", Args: "[N]", Help: "show N events", MaxArgs: 1, Handler: func(c *Context, args []string) error {
			_, err := fmt.Fprintln(c, "show", args)
			return err
		}},
		{Name: "irql rw on", Help: "enable", Handler: func(c *Context, args []string) error {
			_, err := fmt.Fprintln(c, "on")
			return err
		}},
		{Name: "boom", Help: "panic", Handler: func(c *Context, args []string) error {
			panic("kaboom\nsecond line")
		}},
		{Name: "fail", Help: "fail", Handler: func(c *Context, args []string) error {
			return errors.New("bad\nthing\r\nhappened\n")
		}},
		{Name: "usage", Args: "A|B", Help: "refuse", MaxArgs: -1, Handler: func(c *Context, args []string) error {
			return fmt.Errorf("%w: A and B together", ErrUsage)
		}},
		{Name: "partial", Args: "[FAIL]", Help: "no newline", MaxArgs: 1, Handler: func(c *Context, args []string) error {
			_, err := fmt.Fprint(c, "partial")
			if len(args) > 0 {
				return errors.New(args[0])
			}
			return err
		}},
		{Name: "loop", Help: "run until Ctrl-C", Handler: func(c *Context, args []string) error {
			for range 1000 {
				if c.Interrupted() {
					return ErrInterrupted
				}
			}
			return errors.New("not interrupted")
		}},
		{Name: "peek", Help: "poll once", Handler: func(c *Context, args []string) error {
			_, err := fmt.Fprintf(c, "interrupted=%v\n", c.Interrupted())
			return err
		}},
	}
}

// run runs a shell with testCmds on input until EOF and returns what it
// printed.
func run(t *testing.T, input string, lineReads bool) (*Shell, string) {
	t.Helper()

	con := &console{in: []byte(input), lineReads: lineReads}
	s := &Shell{In: con, Out: con, Poll: con.Rx}
	for _, c := range testCmds() {
		s.Add(c)
	}

	if err := s.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	return s, con.out.String()
}

func TestDispatch(t *testing.T) {
	for _, tc := range []struct {
		line, want string
	}{
		{"", ""},
		{"   ", ""},
		{"foo", `unknown command "foo" (try help)` + "\r\n"},
		{"foo bar", `unknown command "foo" (try help)` + "\r\n"},
		{"irql", `unknown command "irql" (try help irql)` + "\r\n"},
		{"irql foo 1", `unknown command "irql foo" (try help irql)` + "\r\n"},
		{"irql rw", `unknown command "irql rw" (try help irql rw)` + "\r\n"},
		{"irql rw off", `unknown command "irql rw off" (try help irql rw)` + "\r\n"},
		{"irql rw on", "on\r\n"},
		{"irql rw on x", "usage: irql rw on\r\n"},
		{"trace", "trace\r\n"},
		{"trace foo", `unknown command "trace foo" (try help trace)` + "\r\n"},
		{"trace foo 1 2", `unknown command "trace foo" (try help trace)` + "\r\n"},
		{"trace show 5", "show [5]\r\n"},
		{"trace show 5 6", "usage: trace show [N]\r\n"},
		{"ata read", "usage: ata read DEV LBA [COUNT]\r\n"},
		{"ata read 0", "usage: ata read DEV LBA [COUNT]\r\n"},
		{"ata read 0 1 2 3", "usage: ata read DEV LBA [COUNT]\r\n"},
		{"ata read 1 0x10", "read dev 1 lba 16 count 1\r\n"},
		{"  ata   read 1 5 256 ", "read dev 1 lba 5 count 256\r\n"},
		{"ata read 4 5", "error: DEV: 4 is out of range (max 3)\r\n"},
		{"ata read 0 x", `error: LBA: "x" is not a number` + "\r\n"},
		{"ata sum 0", "sum 0\r\n"},
		{"ata sum", "usage: ata sum DEV\r\n"},
		{"ata", "ata []\r\n"},
		{"ata summ 0", "ata [summ 0]\r\n"},
		{`echo "a b" c ""`, "a b|c|\r\n"},
		{`echo "a b`, "error: unterminated quote\r\n"},
		{"fail", "error: bad; thing; happened\r\n"},
		{"usage x", "usage: usage A|B\r\n"},
		{"boom", "panic: kaboom; second line\r\n"},
		{"partial", "partial\r\n"},
		{"partial oops", "partial\r\nerror: oops\r\n"},
		{"help ata sum", "ata sum DEV\r\n    checksum a disk\r\n"},
		{"help nosuch", `unknown command "nosuch" (try help)` + "\r\n"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, got := run(t, tc.line+"\r", false)
			if want := "> " + tc.line + "\r\n" + tc.want + "> "; got != want {
				t.Errorf("output\n%q, want\n%q", got, want)
			}
		})
	}
}

// runCmds runs a shell with the prompt "ata> " and the rows cmds on input
// until EOF and returns what it printed.
func runCmds(t *testing.T, input string, cmds []Cmd) string {
	t.Helper()

	con := &console{in: []byte(input)}
	s := &Shell{In: con, Out: con, Prompt: "ata> "}
	for _, c := range cmds {
		s.Add(c)
	}

	if err := s.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	return con.out.String()
}

func TestHelp(t *testing.T) {
	got := runCmds(t, "help\rhelp ata\r", testCmds()[:3])

	want := "ata> help\r\n" +
		"ata read DEV LBA [COUNT]\r\n" +
		"    read sectors\r\n" +
		"ata sum DEV\r\n" +
		"    checksum a disk\r\n" +
		"echo [WORD...]\r\n" +
		"    print words\r\n" +
		"help [CMD...]\r\n" +
		"    every command with its usage, or those starting with CMD\r\n" +
		"ata> help ata\r\n" +
		"ata read DEV LBA [COUNT]\r\n" +
		"    read sectors\r\n" +
		"ata sum DEV\r\n" +
		"    checksum a disk\r\n" +
		"ata> "
	if got != want {
		t.Errorf("output\n%s\nwant\n%s", got, want)
	}
}

// TestHelpWraps checks that a usage and a description longer than a line
// are broken between words into lines of at most 79 columns, usage
// continuations indented by 8 and the description by 4, no word lost, and
// a bracketed group of the usage never split.
func TestHelpWraps(t *testing.T) {
	const (
		args = "DEV [-size N] [-lba N -count N] [-time D] [-passes N] [-tests seq-read,seq-write,rand-read] [-modes dma,pio]"
		help = "sequential and random (4 KiB, QD1) throughput, latency and costs per request, in DMA and PIO, " +
			"with a word longer than any line: " + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	)
	got := runCmds(t, "help ata bench\r", []Cmd{{Name: "ata bench", Args: args, Help: help, MaxArgs: -1,
		Handler: func(*Context, []string) error { return nil }}})

	want := "ata> help ata bench\r\n" +
		"ata bench DEV [-size N] [-lba N -count N] [-time D] [-passes N]\r\n" +
		"        [-tests seq-read,seq-write,rand-read] [-modes dma,pio]\r\n" +
		"    sequential and random (4 KiB, QD1) throughput, latency and costs per\r\n" +
		"    request, in DMA and PIO, with a word longer than any line:\r\n" +
		"    0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n" +
		"ata> "
	if got != want {
		t.Errorf("output\n%s\nwant\n%s", got, want)
	}
}

func TestUsageWords(t *testing.T) {
	for _, tc := range []struct {
		usage string
		want  []string
	}{
		{"halt", []string{"halt"}},
		{"ata read DEV LBA [COUNT]", []string{"ata", "read", "DEV", "LBA", "[COUNT]"}},
		{"ata stress DEV... [-time D | -ops N] [-lba A -count C]", []string{"ata", "stress", "DEV...", "[-time D | -ops N]", "[-lba A -count C]"}},
		{"x [a [b c]] d", []string{"x", "[a [b c]]", "d"}},
		{"x a] [b", []string{"x", "a]", "[b"}},
	} {
		if got := usageWords(tc.usage); !slices.Equal(got, tc.want) {
			t.Errorf("usageWords(%q) = %q, want %q", tc.usage, got, tc.want)
		}
	}
}

func TestHelpListsEveryRow(t *testing.T) {
	_, out := run(t, "help\r", false)

	lines := strings.Split(out, "\r\n")
	lines = lines[1 : len(lines)-1]

	// Usage lines start in column 0, description lines are indented.
	var usages, helps []string
	for _, l := range lines {
		if d, ok := strings.CutPrefix(l, "    "); ok {
			helps[len(helps)-1] = strings.TrimSpace(helps[len(helps)-1] + " " + d)
		} else {
			usages, helps = append(usages, l), append(helps, "")
		}
	}

	if len(usages) != len(testCmds())+1 {
		t.Fatalf("help printed %d rows, want %d:\n%s", len(usages), len(testCmds())+1, out)
	}

	for i, c := range append(testCmds(), Cmd{Name: "help"}) {
		name := strings.Join(strings.Fields(c.Name), " ")
		found := false
		for j, u := range usages {
			found = found || (u == name || strings.HasPrefix(u, name+" ")) && strings.Contains(helps[j], c.Help)
		}
		if !found {
			t.Errorf("row %d %q missing from help:\n%s", i, name, out)
		}
	}

	if !strings.HasPrefix(usages[0], "ata ") || !strings.HasPrefix(usages[len(usages)-1], "usage ") {
		t.Errorf("help not sorted:\n%s", out)
	}
}

func TestPanicHook(t *testing.T) {
	con := &console{in: []byte("boom\recho after\r")}
	var got any
	var stack []byte
	s := &Shell{In: con, Out: con, OnPanic: func(v any, st []byte) { got, stack = v, st }}
	for _, c := range testCmds() {
		s.Add(c)
	}

	if err := s.Run(); err != nil {
		t.Fatal(err)
	}

	if got != "kaboom\nsecond line" || !bytes.Contains(stack, []byte("shell_test.go")) {
		t.Errorf("OnPanic got %q with stack\n%s", got, stack)
	}

	if out := con.out.String(); !strings.Contains(out, "panic: kaboom; second line\r\n> echo after\r\nafter\r\n> ") {
		t.Errorf("output %q", out)
	}
}

func TestInterrupt(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		lineReads bool
		want      string
	}{
		// The Ctrl-C is already read, behind the command's line.
		{"queued", "loop\rab\x03echo hi\r", false, "> loop\r\nerror: interrupted\r\n> echo hi\r\nhi\r\n> "},
		// The Ctrl-C is still in the UART: Poll finds it, and drops
		// the type-ahead before it.
		{"polled", "loop\rab\x03echo hi\r", true, "> loop\r\nerror: interrupted\r\n> echo hi\r\nhi\r\n> "},
		// Type-ahead drained by Poll is edited after the command.
		{"type-ahead kept", "peek\recho hi\r", true, "> peek\r\ninterrupted=false\r\n> echo hi\r\nhi\r\n> "},
		// The flag is cleared for each command.
		{"reset", "loop\r\x03peek\r", true, "> loop\r\nerror: interrupted\r\n> peek\r\ninterrupted=false\r\n> "},
		{"none", "loop\r", true, "> loop\r\nerror: not interrupted\r\n> "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := run(t, tc.in, tc.lineReads)
			if got != tc.want {
				t.Errorf("output\n%q, want\n%q", got, tc.want)
			}
		})
	}

	t.Run("no poll", func(t *testing.T) {
		s := &Shell{}
		if s.Interrupted() {
			t.Error("Interrupted without input")
		}
	})
}

func TestRun(t *testing.T) {
	t.Run("unfinished line dropped", func(t *testing.T) {
		if _, out := run(t, "echo hi", false); out != "> echo hi" {
			t.Errorf("output %q", out)
		}
	})

	t.Run("needs In and Out", func(t *testing.T) {
		if err := (&Shell{}).Run(); err == nil {
			t.Error("Run without In and Out succeeded")
		}
	})

	t.Run("read error", func(t *testing.T) {
		gone := errors.New("uart gone")
		r := io.MultiReader(strings.NewReader("echo hi\r"), errReader{gone})
		var out bytes.Buffer
		s := &Shell{In: r, Out: &out}
		s.Add(testCmds()[0])
		if err := s.Run(); err != gone || !strings.Contains(out.String(), "hi\r\n") {
			t.Errorf("Run = %v, output %q", err, out.String())
		}
	})

	t.Run("write error", func(t *testing.T) {
		full := errors.New("full")
		s := &Shell{In: strings.NewReader("echo hi\r"), Out: errWriter{full}}
		if err := s.Run(); err != full {
			t.Errorf("Run = %v", err)
		}
	})

	t.Run("empty reads", func(t *testing.T) {
		var out bytes.Buffer
		s := &Shell{In: &stutter{data: []byte("echo a\r\necho b\n")}, Out: &out}
		s.Add(testCmds()[0])
		if err := s.Run(); err != nil || out.String() != "> echo a\r\na\r\n> echo b\r\nb\r\n> " {
			t.Errorf("Run = %v, output %q", err, out.String())
		}
	})
}

func TestAddPanics(t *testing.T) {
	h := func(*Context, []string) error { return nil }

	for _, c := range []Cmd{
		{Name: " ", Handler: h},
		{Name: "x"},
		{Name: "x", MinArgs: -1, Handler: h},
		{Name: "x", MinArgs: 2, MaxArgs: 1, Handler: h},
		{Name: "help", Handler: h},
		{Name: "ata  read", Handler: h},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%+v) did not panic", c)
				}
			}()
			s := &Shell{}
			s.Add(Cmd{Name: "ata read", Handler: h})
			s.Add(c)
		}()
	}
}

func TestCRLF(t *testing.T) {
	var out bytes.Buffer
	w := &crlfWriter{w: &out}

	text := strings.Repeat("0123456789\n", 100) + "x\r\ny\n\n"
	if n, err := w.Write([]byte(text)); n != len(text) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}

	want := strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
	if out.String() != want {
		t.Errorf("wrote %q", out.String())
	}

	// A "\r" ending one write still pairs with a "\n" starting the next.
	out.Reset()
	_, _ = w.Write([]byte("a\r"))
	_, _ = w.Write([]byte("\nb"))
	if out.String() != "a\r\nb" || w.atLineStart() {
		t.Errorf("wrote %q", out.String())
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

// stutter returns its data a byte at a time, with an empty read between.
type stutter struct {
	data  []byte
	empty bool
}

func (s *stutter) Read(p []byte) (int, error) {
	if s.empty = !s.empty; s.empty {
		return 0, nil
	}

	if len(s.data) == 0 {
		return 0, io.EOF
	}

	p[0] = s.data[0]
	s.data = s.data[1:]

	return 1, nil
}
