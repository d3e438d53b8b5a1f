package pattern

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Pattern
		err  bool
	}{
		{"0xa5", Pattern{"byte", 0xa5}, false},
		{"lba", Pattern{"lba", 0}, false},
		{"random:42", Pattern{"random", 42}, false},
		{"random:0x10", Pattern{"random", 16}, false},
		{"0x1ff", Pattern{}, true},
		{"random:x", Pattern{}, true},
		{"zeros", Pattern{}, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v", tc.in, got, err)
		}
		if err == nil && got.String() != tc.in && tc.in != "random:0x10" {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
}

func TestFill(t *testing.T) {
	buf := make([]byte, 3*512)
	Pattern{Kind: "lba"}.Fill(buf, 100, 512)
	if binary.LittleEndian.Uint64(buf[0:]) != 100 || binary.LittleEndian.Uint64(buf[1024+504:]) != 102 {
		t.Errorf("lba pattern wrong")
	}
	Pattern{Kind: "byte", Value: 0x5a}.Fill(buf, 0, 512)
	if !bytes.Equal(buf, bytes.Repeat([]byte{0x5a}, len(buf))) {
		t.Errorf("byte pattern wrong")
	}
	// random: deterministic, different per sector and per seed.
	a, b := make([]byte, 1024), make([]byte, 1024)
	p := Pattern{Kind: "random", Value: 7}
	p.Fill(a, 10, 512)
	p.Fill(b, 10, 512)
	if !bytes.Equal(a, b) || bytes.Equal(a[:512], a[512:]) {
		t.Errorf("random pattern not deterministic or repeats across sectors")
	}
	p.Fill(b[:512], 11, 512)
	if !bytes.Equal(b[:512], a[512:]) {
		t.Errorf("sector 11 differs when filled alone")
	}
	if binary.LittleEndian.Uint64(a) == 0 {
		t.Errorf("random word is zero")
	}
}
