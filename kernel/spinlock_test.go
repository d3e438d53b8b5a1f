package kernel

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestSpinLockMutualExclusion(t *testing.T) {
	const goroutines, rounds = 8, 2000
	l := &SpinLock{Name: "counter"}
	var (
		counter    int // protected by l only
		inside     atomic.Int32
		violations atomic.Int32
		badHolder  atomic.Int32
		wg         sync.WaitGroup
	)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				old := l.Acquire()
				if !inside.CompareAndSwap(0, 1) {
					violations.Add(1)
				}
				if l.Holder() != CPU() || !l.HeldByThisCPU() || Current() != DISPATCH {
					badHolder.Add(1)
				}
				v := counter
				for range 10 {
					inside.Load()
				}
				counter = v + 1
				inside.Store(0)
				l.Release(old)
			}
		}()
	}
	wg.Wait()
	if counter != goroutines*rounds || violations.Load() != 0 || badHolder.Load() != 0 {
		t.Errorf("counter %d (want %d), %d overlaps, %d wrong holder/level", counter, goroutines*rounds,
			violations.Load(), badHolder.Load())
	}
	if l.Held() || l.Holder() != -1 {
		t.Errorf("lock still held by %d", l.Holder())
	}
}

// TestSpinLockAtDispatch: taken and released at DISPATCH, a spin lock
// leaves the level alone and writes no CR8; taken from PASSIVE it raises
// and lowers.
func TestSpinLockAtDispatch(t *testing.T) {
	l := &SpinLock{Name: "queue"}
	old := Raise(DISPATCH)
	p := CPU()
	writes := fakeCR8Writes[p].Load()
	if got := l.Acquire(); got != DISPATCH {
		t.Errorf("Acquire at DISPATCH returned %v", got)
	}
	if !l.HeldByThisCPU() || Current() != DISPATCH {
		t.Errorf("held %v at %v", l.HeldByThisCPU(), Current())
	}
	l.Release(DISPATCH)
	if n := fakeCR8Writes[p].Load() - writes; n != 0 || Current() != DISPATCH || l.Held() {
		t.Errorf("after Release(DISPATCH): %d CR8 writes, level %v, held %v; want 0, DISPATCH, false", n, Current(), l.Held())
	}
	Lower(old)
	if got := l.Acquire(); got != PASSIVE || Current() != DISPATCH {
		t.Errorf("Acquire at PASSIVE returned %v at %v", got, Current())
	}
	l.Release(PASSIVE)
	if Current() != PASSIVE || l.Held() {
		t.Errorf("after Release(PASSIVE): level %v, held %v", Current(), l.Held())
	}
}

func TestInterruptLockMutualExclusion(t *testing.T) {
	const goroutines, rounds = 4, 2000
	l := &InterruptLock{SpinLock: SpinLock{Name: "ata0"}, Level: 7}
	var (
		counter int
		wrong   atomic.Int32
		wg      sync.WaitGroup
	)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				old := l.Acquire()
				if Current() != 7 || !l.HeldByThisCPU() {
					wrong.Add(1)
				}
				counter++
				l.Release(old)
			}
		}()
	}
	wg.Wait()
	if counter != goroutines*rounds || wrong.Load() != 0 {
		t.Errorf("counter %d (want %d), %d at the wrong level or holder", counter, goroutines*rounds, wrong.Load())
	}
}

func TestSpinLockMisuse(t *testing.T) {
	l := &SpinLock{Name: "L"}
	il := &InterruptLock{SpinLock: SpinLock{Name: "I"}, Level: 5}
	for _, tc := range []struct {
		name string
		fn   func()
		want string
	}{
		{"self-deadlock", func() { l.Acquire(); l.Acquire() },
			"kernel: spin lock L acquired twice on CPU"},
		{"self-deadlock at level", func() { il.Acquire(); il.AcquireAtLevel() },
			"kernel: spin lock I acquired twice on CPU"},
		{"acquire at DIRQL", func() { Raise(5); l.Acquire() },
			"kernel: SpinLock.Acquire(L) at DIRQL5, must be PASSIVE..DISPATCH"},
		{"at level below DISPATCH", func() { l.AcquireAtLevel() },
			"kernel: SpinLock.AcquireAtLevel(L) at PASSIVE, must be DISPATCH..HIGH"},
		{"release not held", func() { Raise(DISPATCH); l.ReleaseAtLevel() },
			"kernel: SpinLock.Release(L) on CPU"},
		{"interrupt lock above its level", func() { Raise(6); il.Acquire() },
			"kernel: InterruptLock.Acquire(I) at DIRQL6, must be PASSIVE..DIRQL5"},
		{"interrupt lock without level", func() { (&InterruptLock{SpinLock: SpinLock{Name: "Z"}}).Acquire() },
			"kernel: InterruptLock.Acquire(Z): invalid Level PASSIVE"},
	} {
		wantPanic(t, tc.name, panicOf(tc.fn), tc.want)
		// Bugcheck leaves held locks held; free them for the next case.
		l.holder.Store(0)
		il.holder.Store(0)
	}
}

// TestSpinDiagnostic holds a lock for 1.2 s on one simulated CPU while
// another spins on it, and checks that the spinner printed exactly one
// diagnostic naming the lock and the holder.
func TestSpinDiagnostic(t *testing.T) {
	if NumCPU() < 2 {
		t.Skip("needs 2 simulated CPUs (GOMAXPROCS >= 2)")
	}
	if testing.Short() {
		t.Skip("holds a lock for 1.2 s")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup2(int(w.Fd()), 2); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		io.Copy(&out, r)
		close(copied)
	}()

	l := &SpinLock{Name: "slow"}
	var held, done atomic.Bool
	var holder atomic.Int32
	go func() {
		old := l.Acquire()
		holder.Store(int32(CPU()))
		held.Store(true)
		Stall(1200 * time.Millisecond)
		l.Release(old)
	}()
	go func() {
		for !held.Load() {
			time.Sleep(time.Millisecond)
		}
		old := l.Acquire()
		l.Release(old)
		done.Store(true)
	}()
	for !done.Load() {
		time.Sleep(10 * time.Millisecond)
	}

	syscall.Dup2(saved, 2)
	syscall.Close(saved)
	w.Close()
	<-copied
	want := "spinning over 1s on lock slow, held by CPU " + strconv.Itoa(int(holder.Load())) + "\n"
	if n := bytes.Count(out.Bytes(), []byte(want)); n != 1 {
		t.Errorf("stderr %q: %d diagnostics %q, want 1", out.String(), n, want)
	}
}

// TestSpinHalt: a CPU that spins long on a held lock calls the board's
// brief halt between turns, at its own level with IF=1, and counts it; at
// HIGH (IF=0) it never does.
func TestSpinHalt(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("a lock held by one simulated CPU and awaited by another needs two Ps")
	}
	var calls atomic.Int32
	var badContext atomic.Int32
	SetSpinWait(func() {
		if Current() != DISPATCH || !InterruptsEnabled() {
			badContext.Add(1)
		}
		calls.Add(1)
	})
	defer waitHook.Store(nil)

	// hold has a second goroutine take the lock and keep it until until
	// holds (10 s at most) while this one waits for it.
	hold := func(acquire func() IRQL, release func(IRQL), until func() bool) {
		var held atomic.Bool
		done := make(chan struct{})
		go func() {
			old := acquire()
			held.Store(true)
			for deadline := time.Now().Add(10 * time.Second); !until() && time.Now().Before(deadline); {
			}
			release(old)
			close(done)
		}()
		for !held.Load() {
			runtime.Gosched()
		}
		release(acquire())
		<-done
	}

	sumHalts := func() (n uint64) {
		for cpu := range NumCPU() {
			n += SpinHalts(cpu)
		}
		return n
	}
	before := sumHalts()
	l := &SpinLock{Name: "held"}
	hold(l.Acquire, l.Release, func() bool { return calls.Load() > 0 })
	after := sumHalts()
	if calls.Load() == 0 || badContext.Load() != 0 || after == before {
		t.Errorf("DISPATCH: %d brief halts (%d outside DISPATCH with IF=1), SpinHalts rose by %d, want some",
			calls.Load(), badContext.Load(), after-before)
	}

	calls.Store(0)
	hl := &InterruptLock{SpinLock: SpinLock{Name: "held at HIGH"}, Level: HIGH}
	start := time.Now()
	hold(hl.Acquire, hl.Release, func() bool { return time.Since(start) > 50*time.Millisecond })
	if calls.Load() != 0 {
		t.Errorf("HIGH: %d brief halts, want none (IF=0)", calls.Load())
	}
}
