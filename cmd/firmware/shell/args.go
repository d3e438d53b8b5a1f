package shell

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// tokenize splits a line on spaces and tabs. Double quotes group words, a
// quoted "" is an empty argument, and inside quotes \" and \\ stand for "
// and \.
func tokenize(line string) ([]string, error) {
	var args []string
	var word strings.Builder
	inWord, quoted := false, false

	for i := 0; i < len(line); i++ {
		b := line[i]

		switch {
		case quoted && b == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
			i++
			word.WriteByte(line[i])
		case b == '"':
			quoted = !quoted
			inWord = true
		case !quoted && (b == ' ' || b == '\t'):
			if inWord {
				args = append(args, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(b)
			inWord = true
		}
	}

	if quoted {
		return nil, errors.New("unterminated quote")
	}

	if inWord {
		args = append(args, word.String())
	}

	return args, nil
}

// ParseUint parses the argument called name: decimal, or hexadecimal after
// 0x, at most max. Its errors are one line naming the argument, such as
// `LBA: "12x" is not a number` or `COUNT: 300 is out of range (max 256)`.
func ParseUint(name, s string, max uint64) (uint64, error) {
	v, err := parseUint(s)
	return check(name, s, "a number", v, err, max, hasHexPrefix(s))
}

// ParseCount parses the argument called name like ParseUint and refuses 0
// (`N: must be at least 1`): a count of things to do or show, where 0
// would do nothing or quietly mean a default.
func ParseCount(name, s string, max uint64) (uint64, error) {
	v, err := ParseUint(name, s, max)
	if err == nil && v == 0 {
		return 0, fmt.Errorf("%s: must be at least 1", name)
	}
	return v, err
}

// ParseSize parses a byte count like ParseUint, with an optional K, M or G
// suffix (either case) multiplying it by 2^10, 2^20 or 2^30.
func ParseSize(name, s string, max uint64) (uint64, error) {
	shift := 0
	if s != "" {
		switch s[len(s)-1] {
		case 'K', 'k':
			shift = 10
		case 'M', 'm':
			shift = 20
		case 'G', 'g':
			shift = 30
		}
	}

	digits := s
	if shift > 0 {
		digits = s[:len(s)-1]
	}

	v, err := parseUint(digits)
	if err == nil && v > math.MaxUint64>>shift {
		err = strconv.ErrRange
	}

	return check(name, s, "a size (number with optional K, M or G)", v<<shift, err, max, hasHexPrefix(s))
}

// ParseAddr parses an address, at most max: hexadecimal with or without 0x,
// because the firmware always shows addresses in hex.
func ParseAddr(name, s string, max uint64) (uint64, error) {
	digits := s
	if hasHexPrefix(s) {
		digits = s[2:]
	}

	v, err := strconv.ParseUint(digits, 16, 64)
	return check(name, s, "a hex address", v, err, max, true)
}

// ParseDuration parses a duration in Go syntax ("500ms", "2s", "1m30s") and
// refuses a negative one.
func ParseDuration(name, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%s: %q is not a duration (e.g. 500ms, 2s)", name, s)
	case d < 0:
		return 0, fmt.Errorf("%s: %s is negative", name, s)
	}
	return d, nil
}

// parseUint is strconv.ParseUint with base 10 or, after 0x, 16: unlike base
// 0 it reads "010" as ten, not eight, and refuses underscores.
func parseUint(s string) (uint64, error) {
	if hasHexPrefix(s) {
		return strconv.ParseUint(s[2:], 16, 64)
	}
	return strconv.ParseUint(s, 10, 64)
}

func hasHexPrefix(s string) bool {
	return len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
}

// check turns the result of parsing argument name, written s, into the
// value or a one-line error; max is shown in hex when hex is set.
func check(name, s, what string, v uint64, err error, max uint64, hex bool) (uint64, error) {
	switch {
	case errors.Is(err, strconv.ErrRange) || (err == nil && v > max):
		m := strconv.FormatUint(max, 10)
		if hex {
			m = fmt.Sprintf("%#x", max)
		}
		return 0, fmt.Errorf("%s: %s is out of range (max %s)", name, s, m)
	case err != nil:
		return 0, fmt.Errorf("%s: %q is not %s", name, s, what)
	}
	return v, nil
}
