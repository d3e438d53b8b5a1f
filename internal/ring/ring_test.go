package ring

import (
	"sync"
	"testing"
)

func TestFIFOAndFull(t *testing.T) {
	var r Bytes
	if _, ok := r.Get(); ok {
		t.Fatal("Get on an empty queue returned a byte")
	}
	for i := range Size {
		if !r.Put(byte(i)) {
			t.Fatalf("Put %d of %d refused", i, Size)
		}
	}
	if r.Put(0xee) || r.Dropped() != 1 || r.Len() != Size {
		t.Fatalf("full queue: Put accepted, or Dropped %d Len %d", r.Dropped(), r.Len())
	}
	p := make([]byte, 10)
	if n := r.Read(p); n != 10 || p[0] != 0 || p[9] != 9 {
		t.Fatalf("Read = %d %v, want the first 10 bytes", n, p)
	}
	// The freed room takes new bytes, past the end of the buffer.
	for i := range 10 {
		if !r.Put(byte(200 + i)) {
			t.Fatalf("Put after Read refused")
		}
	}
	for i := 10; i < Size; i++ {
		if b, ok := r.Get(); !ok || b != byte(i) {
			t.Fatalf("Get %d = %d %v", i, b, ok)
		}
	}
	if n := r.Read(make([]byte, 64)); n != 10 {
		t.Fatalf("Read of the wrapped bytes = %d, want 10", n)
	}
	if r.Len() != 0 || r.Read(p) != 0 {
		t.Fatal("queue not empty at the end")
	}
}

// TestConcurrent runs one producer and one consumer at once, as the ISR
// and the shell do, and checks every byte arrives once and in order.
func TestConcurrent(t *testing.T) {
	var r Bytes
	const total = 1 << 20
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < total; {
			if r.Put(byte(i * 7)) {
				i++
			}
		}
	}()
	buf := make([]byte, 100)
	for got := 0; got < total; {
		if got%3 == 0 {
			if b, ok := r.Get(); ok {
				if b != byte(got*7) {
					t.Fatalf("byte %d = %d, want %d", got, b, byte(got*7))
				}
				got++
			}
			continue
		}
		n := r.Read(buf)
		for i := range n {
			if buf[i] != byte((got+i)*7) {
				t.Fatalf("byte %d = %d, want %d", got+i, buf[i], byte((got+i)*7))
			}
		}
		got += n
	}
	wg.Wait()
	if r.Len() != 0 {
		t.Fatalf("Len %d after all bytes read", r.Len())
	}
}
