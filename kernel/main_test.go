package kernel

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestMain registers the host's simulated CPUs (one per P) with Init, as the
// board registers the MADT's processors.
func TestMain(m *testing.M) {
	ids := make([]uint32, runtime.GOMAXPROCS(0))
	for i := range ids {
		ids[i] = uint32(i)
	}
	if err := Init(ids); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

// panicOf runs fn and returns its panic message ("" if it did not panic).
// Whatever level fn panicked at, the caller is back at PASSIVE afterwards,
// so that no test goroutine ends pinned.
func panicOf(fn func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = r.(string)
		}
		if Current() != PASSIVE {
			Lower(PASSIVE)
		}
	}()
	fn()
	return ""
}

func wantPanic(t *testing.T, name, got, want string) {
	t.Helper()
	if got == "" {
		t.Errorf("%s: no panic, want %q", name, want)
	} else if !strings.Contains(got, want) {
		t.Errorf("%s: panic %q, want it to contain %q", name, got, want)
	}
}
