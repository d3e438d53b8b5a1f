package shell

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestTokenize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"", nil, ""},
		{"   \t ", nil, ""},
		{"ata read 0 5", []string{"ata", "read", "0", "5"}, ""},
		{"  ata\t read  ", []string{"ata", "read"}, ""},
		{`echo "a b" c`, []string{"echo", "a b", "c"}, ""},
		{`echo ""`, []string{"echo", ""}, ""},
		{`echo a"b c"d`, []string{"echo", "ab cd"}, ""},
		{`echo "say \"hi\" \\ \n"`, []string{"echo", `say "hi" \ \n`}, ""},
		{`echo \"`, []string{"echo", `\`}, "unterminated quote"},
		{`echo "abc`, nil, "unterminated quote"},
	} {
		got, err := tokenize(tc.in)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("tokenize(%q) error %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || !slices.Equal(got, tc.want)):
			t.Errorf("tokenize(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseCount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  string
	}{
		{"1", 1, ""},
		{"0x10", 16, ""},
		{"0", 0, "N: must be at least 1"},
		{"0x0", 0, "N: must be at least 1"},
		{"17", 0, "N: 17 is out of range (max 16)"},
		{"x", 0, `N: "x" is not a number`},
	} {
		got, err := ParseCount("N", tc.in, 16)
		checkParse(t, "ParseCount", tc.in, got, tc.want, err, tc.err)
	}
}

func TestParseUint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  uint64
		want uint64
		err  string
	}{
		{"0", 10, 0, ""},
		{"10", 10, 10, ""},
		{"010", 10, 10, ""},
		{"0x1f0", 0xffff, 0x1f0, ""},
		{"0XFF", 0xffff, 0xff, ""},
		{"18446744073709551615", math.MaxUint64, math.MaxUint64, ""},
		{"11", 10, 0, "LBA: 11 is out of range (max 10)"},
		{"0x10000", 0xffff, 0, "LBA: 0x10000 is out of range (max 0xffff)"},
		{"18446744073709551616", math.MaxUint64, 0, "LBA: 18446744073709551616 is out of range (max 18446744073709551615)"},
		{"", 10, 0, `LBA: "" is not a number`},
		{"12x", 10, 0, `LBA: "12x" is not a number`},
		{"-1", 10, 0, `LBA: "-1" is not a number`},
		{"+1", 10, 0, `LBA: "+1" is not a number`},
		{"1_0", 10, 0, `LBA: "1_0" is not a number`},
		{"0x", 10, 0, `LBA: "0x" is not a number`},
		{"0b1", 10, 0, `LBA: "0b1" is not a number`},
	} {
		got, err := ParseUint("LBA", tc.in, tc.max)
		checkParse(t, "ParseUint", tc.in, got, tc.want, err, tc.err)
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  uint64
		want uint64
		err  string
	}{
		{"512", 1 << 40, 512, ""},
		{"4K", 1 << 40, 4096, ""},
		{"4k", 1 << 40, 4096, ""},
		{"0x10K", 1 << 40, 16 << 10, ""},
		{"2M", 1 << 40, 2 << 20, ""},
		{"1G", 1 << 40, 1 << 30, ""},
		{"1G", 1 << 29, 0, "SIZE: 1G is out of range (max 536870912)"},
		{"17179869184G", math.MaxUint64, 0, "SIZE: 17179869184G is out of range (max 18446744073709551615)"},
		{"K", 1 << 40, 0, `SIZE: "K" is not a size (number with optional K, M or G)`},
		{"1T", 1 << 40, 0, `SIZE: "1T" is not a size (number with optional K, M or G)`},
		{"1KB", 1 << 40, 0, `SIZE: "1KB" is not a size (number with optional K, M or G)`},
		{"", 1 << 40, 0, `SIZE: "" is not a size (number with optional K, M or G)`},
	} {
		got, err := ParseSize("SIZE", tc.in, tc.max)
		checkParse(t, "ParseSize", tc.in, got, tc.want, err, tc.err)
	}
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  uint64
		want uint64
		err  string
	}{
		{"fee00000", math.MaxUint64, 0xfee00000, ""},
		{"0xFEE00000", math.MaxUint64, 0xfee00000, ""},
		{"1f0", 0xffff, 0x1f0, ""},
		{"10000", 0xffff, 0, "PORT: 10000 is out of range (max 0xffff)"},
		{"0x", 0xffff, 0, `PORT: "0x" is not a hex address`},
		{"0x0x5", 0xffff, 0, `PORT: "0x0x5" is not a hex address`},
		{"g", 0xffff, 0, `PORT: "g" is not a hex address`},
	} {
		got, err := ParseAddr("PORT", tc.in, tc.max)
		checkParse(t, "ParseAddr", tc.in, got, tc.want, err, tc.err)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"500ms", 500 * time.Millisecond, ""},
		{"1m30s", 90 * time.Second, ""},
		{"0", 0, ""},
		{"-1s", 0, "TIMEOUT: -1s is negative"},
		{"5", 0, `TIMEOUT: "5" is not a duration (e.g. 500ms, 2s)`},
		{"", 0, `TIMEOUT: "" is not a duration (e.g. 500ms, 2s)`},
	} {
		got, err := ParseDuration("TIMEOUT", tc.in)
		checkParse(t, "ParseDuration", tc.in, got, tc.want, err, tc.err)
	}
}

func checkParse[T comparable](t *testing.T, fn, in string, got, want T, err error, wantErr string) {
	t.Helper()

	switch {
	case wantErr != "" && (err == nil || err.Error() != wantErr):
		t.Errorf("%s(%q) error %v, want %q", fn, in, err, wantErr)
	case wantErr == "" && (err != nil || got != want):
		t.Errorf("%s(%q) = %v, %v, want %v", fn, in, got, err, want)
	}
}
