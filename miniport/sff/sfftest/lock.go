package sfftest

import "sync/atomic"

// spinLock guards the fakes' state. The code under test reaches them at
// DISPATCH and above, pinned to its P, where a sync.Mutex that has to wait
// parks the goroutine and the runtime stops with "schedule: holding
// locks"; real registers never block, so the fakes spin instead. Each
// critical section is a few statements and calls out to nothing.
type spinLock struct{ held atomic.Bool }

func (l *spinLock) Lock() {
	for !l.held.CompareAndSwap(false, true) {
	}
}

func (l *spinLock) Unlock() { l.held.Store(false) }
