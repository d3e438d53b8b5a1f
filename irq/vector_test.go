//go:build !tamago

package irq

import (
	"strings"
	"testing"

	"github.com/ataport/firmware/kernel"
)

// Known answers: the vectors each level's class yields, lowest first, and how
// many there are (0x00-0x1f are exceptions, 0x2f is the kernel's DPC
// vector, 0xef its wake vector, and class 15, with the spurious vector
// 0xff, has none to give).
func TestVectorAllocatorKnownAnswers(t *testing.T) {
	for _, tc := range []struct {
		level kernel.IRQL
		first uint8
		last  uint8
		n     int
	}{
		{kernel.DISPATCH, 0x20, 0x2e, 15},
		{kernel.DIRQLMin, 0x30, 0x3f, 16},
		{5, 0x50, 0x5f, 16},
		{kernel.DIRQLMax, 0xc0, 0xcf, 16},
		{kernel.CLOCK, 0xd0, 0xdf, 16},
		{kernel.IPI, 0xe0, 0xee, 15},
	} {
		var a vectorAllocator
		var got []uint8
		for {
			v, err := a.alloc(tc.level)
			if err != nil {
				if !strings.Contains(err.Error(), "are in use") {
					t.Errorf("%v: %v", tc.level, err)
				}
				break
			}
			if kernel.IRQL(v>>4) != tc.level {
				t.Errorf("%v: vector %#x of class %d", tc.level, v, v>>4)
			}
			got = append(got, v)
		}
		if len(got) != tc.n || got[0] != tc.first || got[len(got)-1] != tc.last {
			t.Errorf("%v: %d vectors %#x..%#x, want %d %#x..%#x", tc.level, len(got), got[0], got[len(got)-1],
				tc.n, tc.first, tc.last)
		}
	}
}

func TestVectorAllocatorFreeAndReuse(t *testing.T) {
	var a vectorAllocator
	for range 3 {
		a.alloc(7)
	}
	a.free(0x71)
	if v, _ := a.alloc(7); v != 0x71 {
		t.Errorf("after freeing 0x71 got %#x, want the lowest free 0x71", v)
	}
	if v, _ := a.alloc(7); v != 0x73 {
		t.Errorf("next vector %#x, want 0x73", v)
	}
	for _, l := range []kernel.IRQL{kernel.PASSIVE, kernel.APC, kernel.HIGH, 16} {
		if _, err := a.alloc(l); err == nil || !strings.Contains(err.Error(), "no vector class for this level") {
			t.Errorf("alloc(%v): %v", l, err)
		}
	}
	for _, v := range []uint8{0x10, 0x74, 0xff} {
		msg := recovered(func() { a.free(v) })
		if !strings.Contains(msg, "is not allocated") {
			t.Errorf("free(%#x): panic %q", v, msg)
		}
	}
}
