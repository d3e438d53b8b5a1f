package shell

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// edit feeds input to a new editor, as the shell does, and returns it with
// the lines it accepted.
func edit(input string) (*editor, []string) {
	e := &editor{prompt: "> "}
	e.start()

	var lines []string
	for i := 0; i < len(input); i++ {
		switch e.feed(input[i]) {
		case accept:
			lines = append(lines, e.take())
			e.start()
		case cancel:
			e.start()
		}
	}

	return e, lines
}

func TestEditorLine(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"cr", "abc\r", []string{"abc"}},
		{"lf", "abc\n", []string{"abc"}},
		{"crlf is one enter", "abc\r\ndef\r\n", []string{"abc", "def"}},
		{"lfcr is two", "a\n\rb\r", []string{"a", "", "b"}},
		{"empty", "\r", []string{""}},
		{"backspace del", "abc\x7f\r", []string{"ab"}},
		{"backspace bs", "abc\x08\x08\r", []string{"a"}},
		{"backspace at start", "\x7fa\r", []string{"a"}},
		{"left insert", "abc\x1b[D\x1b[DX\r", []string{"aXbc"}},
		{"left right insert", "abc\x1b[D\x1b[D\x1b[CX\r", []string{"abXc"}},
		{"left at start", "a\x1b[D\x1b[D\x1b[DX\r", []string{"Xa"}},
		{"right at end", "a\x1b[C\x1b[CX\r", []string{"aX"}},
		{"home CSI H", "bc\x1b[Ha\r", []string{"abc"}},
		{"home CSI 1~", "bc\x1b[1~a\r", []string{"abc"}},
		{"home CSI 7~", "bc\x1b[7~a\r", []string{"abc"}},
		{"home SS3 H", "bc\x1bOHa\r", []string{"abc"}},
		{"home ctrl-A", "bc\x01a\r", []string{"abc"}},
		{"end CSI F", "bc\x01a\x1b[Fd\r", []string{"abcd"}},
		{"end CSI 4~", "bc\x01a\x1b[4~d\r", []string{"abcd"}},
		{"end CSI 8~", "bc\x01a\x1b[8~d\r", []string{"abcd"}},
		{"end SS3 F", "bc\x01a\x1bOFd\r", []string{"abcd"}},
		{"end ctrl-E", "bc\x01a\x05d\r", []string{"abcd"}},
		{"delete", "abc\x01\x1b[3~\r", []string{"bc"}},
		{"delete at end", "abc\x1b[3~\r", []string{"abc"}},
		{"ctrl-U", "abc\x1b[D\x15\r", []string{"c"}},
		{"ctrl-K", "abc\x1b[D\x1b[D\x0b\r", []string{"a"}},
		{"ctrl-W", "ata read 0  \x17\r", []string{"ata read "}},
		{"ctrl-W twice", "ata read\x17\x17\r", []string{""}},
		{"ctrl-W mid", "ata read\x1b[D\x1b[D\x17\r", []string{"ata ad"}},
		{"ctrl-C", "abc\x03def\r", []string{"def"}},
		{"ctrl-L", "ab\x0cc\r", []string{"abc"}},
		{"unknown CSI", "a\x1b[5~b\x1b[?25lc\x1b[200~d\r", []string{"abcd"}},
		{"modified arrow", "ab\x1b[1;5DX\r", []string{"aXb"}},
		{"alt key", "a\x1bxb\r", []string{"ab"}},
		{"esc esc", "a\x1b\x1b[Db\r", []string{"ba"}},
		{"esc then enter", "ab\x1b\r", []string{"ab"}},
		{"broken CSI then enter", "ab\x1b[12\r", []string{"ab"}},
		{"SS3 then enter", "ab\x1bO\r", []string{"ab"}},
		{"huge CSI parameter", "ab\x1b[99999999999999999999~c\r", []string{"abc"}},
		{"control chars", "a\x00\x02\x09\x1f\x04b\r", []string{"ab"}},
		{"high bytes", "a\xff\xc3\xa9b\r", []string{"ab"}},
		{"max line", strings.Repeat("x", maxLine+100) + "\r", []string{strings.Repeat("x", maxLine)}},
		{"unfinished", "abc", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, got := edit(tc.in)
			if !slices.Equal(got, tc.want) {
				t.Errorf("lines %q, want %q", got, tc.want)
			}
			if e.cur < 0 || e.cur > len(e.line) || len(e.line) > maxLine {
				t.Errorf("cursor %d, line length %d", e.cur, len(e.line))
			}
		})
	}
}

func TestEditorHistory(t *testing.T) {
	var many strings.Builder
	for i := range 100 {
		fmt.Fprintf(&many, "cmd%d\r", i)
	}

	for _, tc := range []struct {
		name, in string
		last     string   // the last accepted line
		hist     []string // nil: not checked
	}{
		{"up", "one\rtwo\r\x1b[A\r", "two", []string{"one", "two"}},
		{"up up", "one\rtwo\r\x1b[A\x1b[A\r", "one", []string{"one", "two", "one"}},
		{"up past oldest", "one\r\x1b[A\x1b[A\x1b[A\r", "one", []string{"one"}},
		{"down restores new line", "one\rtw\x1b[A\x1b[B\r", "tw", []string{"one", "tw"}},
		{"down past newest", "one\rtwo\r\x1b[A\x1b[A\x1b[B\x1b[B\x1b[B\r", "", nil},
		{"SS3 up", "one\r\x1bOA\r", "one", []string{"one"}},
		{"edit recalled", "one\r\x1b[Ax\r", "onex", []string{"one", "onex"}},
		{"recalled entry unchanged", "one\r\x1b[Ax\x03\x1b[A\x1b[A\r", "one", []string{"one"}},
		{"no empty lines", "\r   \rone\r\r", "", []string{"one"}},
		{"no consecutive duplicates", "a\ra\rb\ra\r", "a", []string{"a", "b", "a"}},
		{"cancelled line not kept", "one\rtwo\x03", "one", []string{"one"}},
		{"new line after recall", "one\rtwo\r\x1b[A\x1b[A\rx\x1b[A\r", "one", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, lines := edit(tc.in)
			if len(lines) == 0 || lines[len(lines)-1] != tc.last {
				t.Errorf("lines %q, want last %q", lines, tc.last)
			}
			if tc.hist != nil && !slices.Equal(e.hist, tc.hist) {
				t.Errorf("history %q, want %q", e.hist, tc.hist)
			}
		})
	}

	t.Run("bounded", func(t *testing.T) {
		e, _ := edit(many.String())
		if len(e.hist) != historySize || e.hist[0] != "cmd36" || e.hist[historySize-1] != "cmd99" {
			t.Errorf("history has %d entries, %q..%q", len(e.hist), e.hist[0], e.hist[len(e.hist)-1])
		}
	})
}

// TestEditorOutput checks the exact bytes sent, which must stay small on a
// 115200-baud line.
func TestEditorOutput(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"append echoes only the char", "ab", "> ab"},
		{"enter", "ab\r", "> ab\r\n> "},
		{"insert rewrites the tail", "ac\x1b[Db", "> ac" + "\b" + "bc\b"},
		{"backspace at end", "ab\x7f", "> ab" + "\b\x1b[K"},
		{"backspace in middle", "abc\x1b[D\x7f", "> abc" + "\b" + "\b" + "c\x1b[K\b"},
		{"short left", "abc\x01", "> abc\b\b\b"},
		{"left past 3 columns", "abcd\x01", "> abcd\x1b[4D"},
		{"long home", "abcdefghij\x01", "> abcdefghij\x1b[10D"},
		{"short right", "abc\x01\x1b[C\x1b[C", "> abc\b\b\bab"},
		{"long end", "abcdef\x01\x05", "> abcdef\x1b[6D\x1b[6C"},
		{"ctrl-K", "abc\x1b[D\x1b[D\x0b", "> abc\b\b\x1b[K"},
		{"ctrl-C", "ab\x03", "> ab^C\r\n> "},
		{"history redraw", "one\r\x1b[A", "> one\r\n> \r> one\x1b[K"},
		{"ctrl-L", "ab\x1b[D\x0c", "> ab\b\x1b[H\x1b[2J\r> ab\x1b[K\b"},
		{"bell when full", strings.Repeat("x", maxLine+2), "> " + strings.Repeat("x", maxLine) + "\a\a"},
		{"ignored keys send nothing", "\x00\x1b[5~\x1bx\x09", "> "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := edit(tc.in)
			if got := string(e.out); got != tc.want {
				t.Errorf("output %q, want %q", got, tc.want)
			}
		})
	}
}
