// Package ring is a byte queue of fixed size between one producer and one
// consumer that may run on different CPUs at once, without a lock: the
// console's ISR fills it at DIRQL and the shell's goroutine empties it at
// PASSIVE (cmd/firmware/console.go).
package ring

import "sync/atomic"

// Size is the capacity of a Bytes, a power of two: 4 KiB is 355 ms of
// input at 115200 baud, far more than a shell line.
const Size = 4096

// Bytes is the queue. Its zero value is empty and ready. Put must not run
// on two CPUs at once, nor Get and Read; a Put may run beside a Get.
type Bytes struct {
	buf  [Size]byte
	head atomic.Uint32 // the next byte to take; only the consumer writes it
	tail atomic.Uint32 // the next byte to fill; only the producer writes it
	drop atomic.Uint64 // bytes Put refused because the queue was full
}

// Put appends b and reports whether there was room; a byte refused is
// counted (Dropped).
//
// Context: any IRQL; does not block or allocate.
func (r *Bytes) Put(b byte) bool {
	t := r.tail.Load()
	if t-r.head.Load() == Size {
		r.drop.Add(1)
		return false
	}
	r.buf[t%Size] = b
	r.tail.Store(t + 1) // publishes the byte to the consumer
	return true
}

// Get takes the oldest byte, false when the queue is empty.
//
// Context: any IRQL; does not block or allocate.
func (r *Bytes) Get() (byte, bool) {
	h := r.head.Load()
	if h == r.tail.Load() {
		return 0, false
	}
	b := r.buf[h%Size]
	r.head.Store(h + 1) // gives the slot back to the producer
	return b, true
}

// Read takes up to len(p) bytes, oldest first, and returns how many.
//
// Context: any IRQL; does not block or allocate.
func (r *Bytes) Read(p []byte) int {
	h, t := r.head.Load(), r.tail.Load()
	n := min(int(t-h), len(p))
	for i := range n {
		p[i] = r.buf[(h+uint32(i))%Size]
	}
	r.head.Store(h + uint32(n))
	return n
}

// Len returns how many bytes are queued.
//
// Context: any IRQL; does not block or allocate.
func (r *Bytes) Len() int {
	return int(r.tail.Load() - r.head.Load())
}

// Dropped returns how many bytes Put refused.
//
// Context: any IRQL; does not block or allocate.
func (r *Bytes) Dropped() uint64 {
	return r.drop.Load()
}
