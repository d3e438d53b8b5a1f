package kernel

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestRunOnCPU(t *testing.T) {
	for cpu := range NumCPU() {
		var got, level atomic.Int32
		RunOnCPU(cpu, func() {
			got.Store(int32(CPU()))
			level.Store(int32(Current()))
		})
		if int(got.Load()) != cpu || IRQL(level.Load()) != DISPATCH {
			t.Errorf("RunOnCPU(%d): ran on CPU %d at %v", cpu, got.Load(), IRQL(level.Load()))
		}
	}
	msg := panicOf(func() { RunOnCPU(MaxCPUs, func() {}) })
	wantPanic(t, "RunOnCPU out of range", msg, "kernel: RunOnCPU: CPU 64 out of range")
}

// TestOnEachCPU checks that the function runs exactly once on every
// simulated CPU, at DISPATCH.
func TestOnEachCPU(t *testing.T) {
	var runs [MaxCPUs]atomic.Int32
	var wrong atomic.Int32
	if err := OnEachCPU(func() {
		runs[CPU()].Add(1)
		if Current() != DISPATCH {
			wrong.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	for cpu := range MaxCPUs {
		want := int32(0)
		if cpu < NumCPU() {
			want = 1
		}
		if got := runs[cpu].Load(); got != want {
			t.Errorf("CPU %d ran the function %d times, want %d", cpu, got, want)
		}
	}
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d runs not at DISPATCH", n)
	}
}

// TestStates raises one simulated CPU to DIRQL5 with a DPC queued and reads
// the shadows from another.
func TestStates(t *testing.T) {
	if NumCPU() < 2 {
		t.Skip("needs 2 simulated CPUs (GOMAXPROCS >= 2)")
	}
	var raised, release atomic.Bool
	var where atomic.Int32
	d := NewDPC("later", func() {})
	before := States()
	done := make(chan struct{})
	go func() {
		defer close(done)
		old := Raise(HIGH)
		where.Store(int32(CPU()))
		d.Queue()
		Lower(5)
		raised.Store(true)
		for !release.Load() {
		}
		Lower(old)
	}()
	for !raised.Load() {
		time.Sleep(time.Millisecond)
	}
	st := States()
	release.Store(true)
	<-done

	other := int(where.Load())
	// SpinHalts counts since the process started, earlier tests' too:
	// none are added while the CPU is raised here.
	want := CPUState{CPU: other, CR8: 5, IF: true, Pinned: true, PendingDPCs: 1, SpinHalts: before[other].SpinHalts}
	if st[other] != want {
		t.Errorf("raised CPU: %+v, want %+v", st[other], want)
	}
	for i, s := range st {
		if i != other && (s.CR8 != PASSIVE || !s.IF || s.Pinned || s.CPU != i) {
			t.Errorf("CPU %d: %+v, want PASSIVE, IF, not pinned", i, s)
		}
	}
}

func TestInitErrors(t *testing.T) {
	for _, tc := range []struct {
		ids  []uint32
		want string
	}{
		{nil, "kernel: Init: 0 CPUs, want 1..64"},
		{make([]uint32, MaxCPUs+1), "kernel: Init: 65 CPUs, want 1..64"},
		{[]uint32{0, 256}, "kernel: Init: APIC ID 256 above 255 (x2APIC IDs are not supported)"},
		{[]uint32{0, 2, 2}, "kernel: Init: duplicate APIC ID 2"},
	} {
		if err := Init(tc.ids); err == nil || err.Error() != tc.want {
			t.Errorf("Init(%v) = %v, want %q", tc.ids, err, tc.want)
		}
	}
}

// TestAPICIDMapping maps through a table with gaps (APIC IDs 0, 2, 4...),
// then restores the identity mapping of TestMain.
func TestAPICIDMapping(t *testing.T) {
	n := NumCPU()
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	defer Init(ids)

	// Reverse order: APIC ID i is CPU n-1-i.
	rev := make([]uint32, n)
	for i := range rev {
		rev[i] = uint32(n - 1 - i)
	}
	if err := Init(rev); err != nil {
		t.Fatal(err)
	}
	for cpu := range n {
		var got, apic atomic.Int32
		RunOnCPU(cpu, func() {
			got.Store(int32(CPU()))
			apic.Store(int32(apicID()))
		})
		if int(got.Load()) != cpu || int(apic.Load()) != n-1-cpu {
			t.Errorf("CPU %d runs with APIC ID %d, want %d", got.Load(), apic.Load(), n-1-cpu)
		}
	}
}
