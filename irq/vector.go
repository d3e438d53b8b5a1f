package irq

import (
	"errors"
	"strconv"

	"github.com/ataport/firmware/kernel"
)

// Vector classes and reservations (SDM Vol 3A, APIC chapter 10/11,
// "Interrupt, Task, and Processor Priority": the priority class of a vector
// is vector >> 4, and CR8 = d masks every class at or below d; "Exception
// and Interrupt Vectors" (6.2): vectors 0-31 are reserved for exceptions).
const (
	// FirstVector is the lowest vector an interrupt may use.
	FirstVector = kernel.FirstVector
)

// vectorAllocator hands out vectors by priority class: a vector of class c
// lies in c<<4 .. c<<4|0xf. It is a pure bitmap, tested on the host.
type vectorAllocator struct {
	used [4]uint64
}

var errNoLevel = errors.New("no vector class for this level")

// alloc returns the lowest free vector of class level (vector>>4 == level).
// DISPATCH..IPI have classes; PASSIVE and APC fall among the exception
// vectors and have none, and HIGH has none either: an ISR runs at its
// vector's class with IF=1, which HIGH forbids (class 15 holds the
// spurious vector).
func (a *vectorAllocator) alloc(level kernel.IRQL) (uint8, error) {
	if level < kernel.DISPATCH || level >= kernel.HIGH {
		return 0, errors.New("irq: " + level.String() + ": " + errNoLevel.Error())
	}
	for v := int(level) << 4; v <= int(level)<<4|0xf; v++ {
		if reserved(v) || a.used[v/64]>>(v%64)&1 != 0 {
			continue
		}
		a.used[v/64] |= 1 << (v % 64)
		return uint8(v), nil
	}
	return 0, errors.New("irq: all 16 vectors of class " + strconv.Itoa(int(level)) +
		" (" + level.String() + ") are in use")
}

// free returns v to the allocator; it panics when v was not allocated.
func (a *vectorAllocator) free(v uint8) {
	if reserved(int(v)) || a.used[v/64]>>(v%64)&1 == 0 {
		kernel.Bugcheck("irq: FreeVector: vector 0x" + strconv.FormatUint(uint64(v), 16) + " is not allocated")
	}
	a.used[v/64] &^= 1 << (v % 64)
}

func reserved(v int) bool {
	return v < FirstVector || v == kernel.DPCVector || v == kernel.WakeVector || v == kernel.SpuriousVector
}
