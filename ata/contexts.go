package ata

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ataport/firmware/kernel"
)

// Routine names a port-to-miniport call (or the port's completion DPC) in
// the contexts record.
type Routine uint8

// Routines recorded.
const (
	RoutineAdapterControl     Routine = iota // AtaAdapterControl
	RoutineChannelEnabled                    // AtaControllerChannelEnabled
	RoutineChannelInit                       // AtaChannelInitRoutine
	RoutineTransferModeSelect                // AtaControllerTransferModeSelect
	RoutineInitialize                        // IdeHwInitialize
	RoutineControl                           // IdeHwControl
	RoutineBuildIo                           // IdeHwBuildIo
	RoutineStartIo                           // IdeHwStartIo
	RoutineInterrupt                         // IdeHwInterrupt
	RoutinePending                           // the lost-interrupt check
	RoutineReset                             // IdeHwReset
	RoutineSynchronized                      // a RequestSynchronizedRoutine callback
	RoutineTimer                             // a RequestTimer callback
	RoutineWorker                            // a RequestWorkerRoutine callback
	RoutineCompletionDPC                     // the port's completion DPC
	numRoutines
)

var routineNames = [numRoutines]string{
	"AdapterControl", "ChannelEnabled", "ChannelInit", "TransferModeSelect",
	"HwInitialize", "HwControl", "HwBuildIo", "HwStartIo", "HwInterrupt",
	"Pending", "HwReset", "SynchronizedRoutine", "TimerRoutine", "WorkerRoutine",
	"CompletionDPC",
}

// String returns the routine's ataport name: "HwBuildIo".
func (r Routine) String() string {
	if r < numRoutines {
		return routineNames[r]
	}
	return "Routine?"
}

// ContextRecord is one recorded call: where the routine ran.
type ContextRecord struct {
	Routine  Routine
	CR8      kernel.IRQL   // kernel.Current() at entry
	IF       bool          // RFLAGS.IF at entry
	Masked   bool          // the channel's line masked at the IOAPIC, read back (again after each masked section, mask.go)
	LockHeld bool          // this CPU held the channel's interrupt lock
	CPU      int           // the CPU it ran on
	Time     time.Duration // since the package started
	Tag      int           // the request's tag, -1 for none

	// BuildIo only: an ISR of this channel ran while BuildIo did, on any
	// CPU or through the port's replay of a missed edge (Overlap); the
	// local APIC of the CPU running BuildIo delivered the channel's vector
	// to it meanwhile (SameCPU: hardware only).
	Overlap, SameCPU bool
}

// Seen is the set of values of a boolean seen in the records of a routine.
type Seen uint8

// Values of Seen.
const (
	SeenFalse Seen = 1 << iota
	SeenTrue
)

// String returns "0", "1", "0,1", or "-" when nothing was seen.
func (s Seen) String() string {
	switch s {
	case SeenFalse:
		return "0"
	case SeenTrue:
		return "1"
	case SeenFalse | SeenTrue:
		return "0,1"
	}
	return "-"
}

// ContextRow aggregates the records of one routine (the `ata contexts`
// table).
type ContextRow struct {
	Routine        Routine
	Count          uint64
	MinCR8, MaxCR8 kernel.IRQL
	IF             Seen
	Masked         Seen
	LockHeld       Seen
	Overlap        uint64 // BuildIo calls during which an ISR of the channel ran
	SameCPU        uint64 // BuildIo calls during which their CPU's local APIC delivered the channel's vector to it

	// Time is the total time spent in the routine's calls, for the
	// port's sections at DIRQL (HwStartIo, HwInterrupt, Pending,
	// SynchronizedRoutine, HwReset): from their records' timestamps (the
	// TSC) to their end.
	Time time.Duration
}

// String formats the row as one line of the `ata contexts` table:
//
//	HwStartIo            CR8 DIRQL5..DIRQL5   IF 1    masked 0    lock 1    calls 1234
//
// with, for HwBuildIo, how many calls an ISR of the channel ran during.
func (r ContextRow) String() string {
	s := fmt.Sprintf("%-20s CR8 %-18s IF %-4s masked %-4s lock %-4s calls %d",
		r.Routine, r.MinCR8.String()+".."+r.MaxCR8.String(), r.IF, r.Masked, r.LockHeld, r.Count)
	if r.Routine == RoutineBuildIo {
		s += fmt.Sprintf(" ISR-during %d (same CPU %d)", r.Overlap, r.SameCPU)
	}
	return s
}

// ringSize is the number of records each channel keeps (the most recent).
const ringSize = 256

// Packing of a record into one word, so that the ring is written with
// atomic stores at DIRQL without allocating (msahci's history ring).
const (
	packRoutine = 0  // 8 bits
	packCR8     = 8  // 4 bits
	packIF      = 12 // 1 bit each
	packMasked  = 13
	packLock    = 14
	packOverlap = 15
	packSameCPU = 16
	packCPU     = 24 // 8 bits
	packTag     = 32 // 16 bits, tag + 1
	packValid   = 63
)

// epoch is the origin of ContextRecord.Time.
var epoch = time.Now()

// contexts is the record of one channel (or of the controller-level
// calls): a ring of the latest records and the per-routine aggregates.
type contexts struct {
	next atomic.Uint64
	ring [ringSize]struct{ word, time atomic.Uint64 }
	agg  [numRoutines]struct {
		count, overlap, same atomic.Uint64
		min, max             atomic.Uint32
		ifs, masked, lock    atomic.Uint32
		time                 atomic.Int64 // ns spent, see spent
	}
}

func (c *contexts) init() {
	for i := range c.agg {
		c.agg[i].min.Store(0xff)
	}
}

func seen(v bool) uint32 {
	if v {
		return uint32(SeenTrue)
	}
	return uint32(SeenFalse)
}

func bit(v bool, pos uint) uint64 {
	if v {
		return 1 << pos
	}
	return 0
}

// record stores one record and folds it into the aggregate; it returns the
// record's time, for spent.
//
// Context: any IRQL, any IF; does not block or allocate.
func (c *contexts) record(r Routine, masked, lock bool, tag int) time.Duration {
	return c.recordAt(r, kernel.Current(), kernel.InterruptsEnabled(), kernel.CPU(), masked, lock, tag, false, false)
}

// recordAt stores a record of values read earlier (BuildIo's, taken at its
// entry and completed by the overlap found at its exit); it returns the
// record's time.
//
// Context: any IRQL, any IF; does not block or allocate.
func (c *contexts) recordAt(r Routine, cr8 kernel.IRQL, ifl bool, cpu int, masked, lock bool, tag int, overlap, same bool) time.Duration {
	w := uint64(r)<<packRoutine | uint64(cr8&0xf)<<packCR8 | bit(ifl, packIF) | bit(masked, packMasked) |
		bit(lock, packLock) | bit(overlap, packOverlap) | bit(same, packSameCPU) |
		uint64(cpu&0xff)<<packCPU | uint64((tag+1)&0xffff)<<packTag | 1<<packValid
	slot := &c.ring[(c.next.Add(1)-1)%ringSize]
	slot.word.Store(w)
	t := time.Since(epoch)
	slot.time.Store(uint64(t))

	a := &c.agg[r]
	a.count.Add(1)
	for v := a.min.Load(); uint32(cr8) < v && !a.min.CompareAndSwap(v, uint32(cr8)); v = a.min.Load() {
	}
	for v := a.max.Load(); uint32(cr8) > v && !a.max.CompareAndSwap(v, uint32(cr8)); v = a.max.Load() {
	}
	a.ifs.Or(seen(ifl))
	a.masked.Or(seen(masked))
	a.lock.Or(seen(lock))
	if overlap {
		a.overlap.Add(1)
	}
	if same {
		a.same.Add(1)
	}
	return t
}

// spent adds the time since start, the time of a record of routine r, to
// r's total: the port defers it at the entry of its sections at DIRQL.
//
// Context: any IRQL, any IF; does not block or allocate.
func (c *contexts) spent(r Routine, start time.Duration) {
	c.agg[r].time.Add(int64(time.Since(epoch) - start))
}

// records returns the ring's records, oldest first.
//
// Context: PASSIVE; allocates.
func (c *contexts) records() []ContextRecord {
	n := c.next.Load()
	start := uint64(0)
	if n > ringSize {
		start = n - ringSize
	}
	out := make([]ContextRecord, 0, n-start)
	for i := start; i < n; i++ {
		slot := &c.ring[i%ringSize]
		w := slot.word.Load()
		if w&(1<<packValid) == 0 {
			continue
		}
		out = append(out, ContextRecord{
			Routine:  Routine(w >> packRoutine),
			CR8:      kernel.IRQL(w >> packCR8 & 0xf),
			IF:       w&(1<<packIF) != 0,
			Masked:   w&(1<<packMasked) != 0,
			LockHeld: w&(1<<packLock) != 0,
			Overlap:  w&(1<<packOverlap) != 0,
			SameCPU:  w&(1<<packSameCPU) != 0,
			CPU:      int(w >> packCPU & 0xff),
			Tag:      int(w>>packTag&0xffff) - 1,
			Time:     time.Duration(slot.time.Load()),
		})
	}
	return out
}

// addRows folds the aggregate into rows, indexed by routine.
//
// Context: any IRQL; does not block or allocate.
func (c *contexts) addRows(rows *[numRoutines]ContextRow) {
	for i := range c.agg {
		a := &c.agg[i]
		n := a.count.Load()
		if n == 0 {
			continue
		}
		row := &rows[i]
		if row.Count == 0 || kernel.IRQL(a.min.Load()) < row.MinCR8 {
			row.MinCR8 = kernel.IRQL(a.min.Load())
		}
		if kernel.IRQL(a.max.Load()) > row.MaxCR8 {
			row.MaxCR8 = kernel.IRQL(a.max.Load())
		}
		row.Routine = Routine(i)
		row.Count += n
		row.IF |= Seen(a.ifs.Load())
		row.Masked |= Seen(a.masked.Load())
		row.LockHeld |= Seen(a.lock.Load())
		row.Overlap += a.overlap.Load()
		row.SameCPU += a.same.Load()
		row.Time += time.Duration(a.time.Load())
	}
}

// rows returns the non-empty rows of a set, in routine order.
func rows(all *[numRoutines]ContextRow) []ContextRow {
	var out []ContextRow
	for _, r := range all {
		if r.Count != 0 {
			out = append(out, r)
		}
	}
	return out
}
