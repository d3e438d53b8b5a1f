package shell

import (
	"io"
	"slices"
	"strings"
)

// Cmd is one row of the command table.
type Cmd struct {
	// Name is one or more words; a line runs the row whose name matches
	// the most leading words, so "ata read" and "ata rw on" are
	// subcommands of "ata".
	Name string

	// Args is the usage of the arguments after the name, as in
	// "DEV LBA [COUNT]".
	Args string

	// Help is a description of a sentence or two, without line breaks:
	// help wraps it to fit 80 columns.
	Help string

	// MinArgs and MaxArgs bound the number of arguments; a negative
	// MaxArgs means no upper bound. Outside them the shell prints the
	// usage line and does not call Handler.
	MinArgs, MaxArgs int

	// Handler runs the command with the arguments after the name. Its
	// error is printed as one line "error: ...".
	Handler func(c *Context, args []string) error
}

// Context is what a handler gets besides its arguments.
type Context struct {
	// Writer is the console; "\n" is sent as "\r\n".
	io.Writer

	// Cmd is the row being run.
	Cmd *Cmd

	shell *Shell
}

// Interrupted reports whether Ctrl-C arrived since the command started (see
// Shell.Interrupted).
func (c *Context) Interrupted() bool {
	return c.shell.Interrupted()
}

// entry is a registered row with its name split into words.
type entry struct {
	Cmd
	words []string
}

func (e *entry) usage() string {
	if e.Args == "" {
		return e.Name
	}
	return e.Name + " " + e.Args
}

// Add registers a command. An invalid row (empty name, nil handler,
// MinArgs < 0 or above a non-negative MaxArgs) or a name already taken,
// "help" included, is a programming error and panics, at boot, like a
// TamaGo driver's Init.
func (s *Shell) Add(c Cmd) {
	s.init()

	words := strings.Fields(c.Name)
	switch {
	case len(words) == 0:
		panic("shell: command with empty name")
	case c.Handler == nil:
		panic("shell: command " + c.Name + " has no handler")
	case c.MinArgs < 0 || (c.MaxArgs >= 0 && c.MaxArgs < c.MinArgs):
		panic("shell: command " + c.Name + " has invalid MinArgs/MaxArgs")
	}

	// One space between words, so help and messages print names alike.
	c.Name = strings.Join(words, " ")
	e := &entry{Cmd: c, words: words}

	i, found := slices.BinarySearchFunc(s.cmds, e, func(a, b *entry) int {
		return slices.Compare(a.words, b.words)
	})
	if found {
		panic("shell: command " + c.Name + " added twice")
	}

	s.cmds = slices.Insert(s.cmds, i, e)
}

// lookup returns the row whose name is the longest match of leading words
// of args, and how many words it took.
func (s *Shell) lookup(args []string) (*entry, int) {
	var best *entry

	for _, e := range s.cmds {
		if len(e.words) <= len(args) && slices.Equal(e.words, args[:len(e.words)]) &&
			(best == nil || len(e.words) > len(best.words)) {
			best = e
		}
	}

	if best == nil {
		return nil, 0
	}
	return best, len(best.words)
}

// group reports whether e's name starts other rows' names: "ata" before
// "ata read".
func (s *Shell) group(e *entry) bool {
	for _, o := range s.cmds {
		if len(o.words) > len(e.words) && slices.Equal(o.words[:len(e.words)], e.words) {
			return true
		}
	}
	return false
}

// unknown reports a line that matches no row. When its first words start
// some rows' names, it points to the help for those.
func (s *Shell) unknown(args []string) {
	group := 0

	for _, e := range s.cmds {
		n := 0
		for n < len(e.words) && n < len(args) && e.words[n] == args[n] {
			n++
		}
		group = max(group, n)
	}

	if group == 0 {
		s.printf("unknown command %q (try help)\n", args[0])
		return
	}

	name := strings.Join(args[:min(group+1, len(args))], " ")
	s.printf("unknown command %q (try help %s)\n", name, strings.Join(args[:group], " "))
}

// Help layout: every line fits an 80-column terminal with its last column
// free, because some terminals wrap as soon as that column is written and
// would then show an empty line after a full one. A row is its usage, long
// usages broken between words with continuation lines indented by
// usageIndent, then its description indented by helpIndent.
const (
	helpWidth   = 79
	helpIndent  = 4
	usageIndent = 8
)

// help is the built-in help command: the rows whose names start with args,
// sorted, each as its usage then its indented description (see helpWidth).
func (s *Shell) help(c *Context, args []string) error {
	var b strings.Builder

	for _, e := range s.cmds {
		if len(e.words) >= len(args) && slices.Equal(e.words[:len(args)], args) {
			wrap(&b, usageWords(e.usage()), 0, usageIndent)
			wrap(&b, strings.Fields(e.Help), helpIndent, helpIndent)
		}
	}

	if b.Len() == 0 {
		s.printf("unknown command %q (try help)\n", strings.Join(args, " "))
		return nil
	}

	_, err := io.WriteString(c, b.String())
	return err
}

// usageWords splits a usage into the units a line may break between: words
// outside brackets, and whole bracketed groups such as "[-lba A -count C]",
// so that an option is never split from its value.
func usageWords(usage string) []string {
	var words []string
	depth, start := 0, -1

	for i, r := range usage {
		switch {
		case r == ' ' && depth == 0:
			if start >= 0 {
				words = append(words, usage[start:i])
			}
			start = -1
			continue
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		}
		if start < 0 {
			start = i
		}
	}

	if start >= 0 {
		words = append(words, usage[start:])
	}
	return words
}

// wrap writes words to b, separated by spaces, in lines of at most
// helpWidth columns, the first line indented by first spaces and the
// others by next. A word longer than a line gets a line of its own.
func wrap(b *strings.Builder, words []string, first, next int) {
	indent, n := first, 0

	for _, w := range words {
		if n > 0 && n+1+len(w) > helpWidth {
			b.WriteByte('\n')
			indent, n = next, 0
		}
		if n == 0 {
			b.WriteString(strings.Repeat(" ", indent))
			n = indent
		} else {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}

	if n > 0 {
		b.WriteByte('\n')
	}
}
