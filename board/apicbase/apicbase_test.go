package apicbase

import (
	"slices"
	"strings"
	"testing"
)

const base = 0xfee00000

// Known answers, from values the MSR reads: QEMU's BSP after SeaBIOS
// (0xfee00900: base, EN, BSP), the same in x2APIC mode as SeaBIOS leaves it
// with more than 255 CPUs (0xfee00d00), an AP (no BSP bit).
func TestToXAPIC(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v      uint64
		locked bool
		writes []uint64
		was    Mode
		err    string
	}{
		{"xAPIC BSP", 0xfee00900, false, nil, XAPIC, ""},
		{"xAPIC AP", 0xfee00800, false, nil, XAPIC, ""},
		{"x2APIC BSP", 0xfee00d00, false, []uint64{0xfee00100, 0xfee00900}, X2APIC, ""},
		{"x2APIC AP", 0xfee00c00, false, []uint64{0xfee00000, 0xfee00800}, X2APIC, ""},
		{"disabled", 0xfee00100, false, []uint64{0xfee00900}, Disabled, ""},
		{"x2APIC locked", 0xfee00d00, true, nil, X2APIC, "locked in x2APIC mode"},
		{"xAPIC locked flag ignored", 0xfee00900, true, nil, XAPIC, ""},
		{"relocated", 0xfec00900, false, nil, XAPIC, "at 0xfec00000 (IA32_APIC_BASE 0xfec00900), not at 0xfee00000"},
		{"above 4 GiB", 0x1_fee00900, false, nil, XAPIC, "at 0x1fee00000"},
		{"invalid", 0xfee00500, false, nil, Invalid, "invalid state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writes, was, err := ToXAPIC(tc.v, base, tc.locked)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("ToXAPIC(%#x): error %v, want %q", tc.v, err, tc.err)
			}
			if !slices.Equal(writes, tc.writes) || was != tc.was {
				t.Errorf("ToXAPIC(%#x) = %#x, %v; want %#x, %v", tc.v, writes, was, tc.writes, tc.was)
			}
			// Every plan ends in xAPIC mode at base, and an x2APIC passes
			// through disabled first (a direct EXTD 1 -> 0 write faults).
			if len(writes) > 0 {
				if last := writes[len(writes)-1]; ModeOf(last) != XAPIC || last&BASE_MASK != base {
					t.Errorf("last write %#x is %v at %#x", last, ModeOf(last), last&BASE_MASK)
				}
				if tc.was == X2APIC && ModeOf(writes[0]) != Disabled {
					t.Errorf("first write %#x leaves x2APIC for %v, not disabled", writes[0], ModeOf(writes[0]))
				}
			}
		})
	}
}
