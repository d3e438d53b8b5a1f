package ata

import "sync/atomic"

// The record of every call into the miniport holds the channel's line mask
// bit read back from the IOAPIC (contexts.go). A read costs an IOAPIC
// register pair under the IOAPIC lock at HIGH, about 3.5 us under TCG and
// four times per request; yet the line changes only in the port's masked
// sections (Interrupt.SynchronizeMasked: synchronized routines, HwReset,
// the timeout check) and when a fault is injected (`irq mask`, counted by
// Interrupt.MaskChanges). So the port counts those sections, and a record
// reads the IOAPIC again only while one may be in progress, or when one
// began or ended, or the injected mask changed, since the last read;
// otherwise it takes that read's bit. Every masked section of the port
// goes through synchronizeMasked.

// maskState counts the port's masked sections of one channel.
type maskState struct {
	busy atomic.Int32  // masked sections in progress
	gen  atomic.Uint64 // bumped when one begins and when one ends
	last atomic.Uint64 // (gen+1)<<1 | the bit, of the last read made with no section in progress; 0: none yet
}

// synchronizeMasked runs fn through Interrupt.SynchronizeMasked and counts
// the masked section; it returns its answer (the device signalled
// meanwhile).
//
// Context: as Interrupt.SynchronizeMasked: PASSIVE..DIRQL, no channel lock
// held; does not block or allocate.
func (ch *Channel) synchronizeMasked(fn func()) bool {
	ch.mask.busy.Add(1)
	ch.mask.gen.Add(1)
	signalled := ch.intr.SynchronizeMasked(fn)
	ch.mask.gen.Add(1)
	ch.mask.busy.Add(-1)
	return signalled
}

// masked returns the line's mask bit as read back from the IOAPIC: now,
// or at the last read when no masked section ran since.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) masked() bool {
	g := ch.maskGen()
	idle := ch.mask.busy.Load() == 0
	if l := ch.mask.last.Load(); idle && l>>1 == g+1 {
		return l&1 != 0
	}
	m := ch.intr.Masked()
	if idle && ch.maskGen() == g {
		ch.mask.last.Store((g+1)<<1 | bit(m, 0))
	}
	return m
}

// maskGen moves whenever the line's mask bit may have: both counts only
// grow, so an equal sum means neither moved.
//
// Context: any IRQL; does not block or allocate.
func (ch *Channel) maskGen() uint64 {
	return ch.mask.gen.Load() + ch.intr.MaskChanges()
}
