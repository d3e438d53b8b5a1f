package miniport

import "time"

// SynchronizedRoutine is a callback run by Port.RequestSynchronizedRoutine
// (IDE_HW_SYNCHRONIZED) with the request its caller passed.
//
// Context: the channel's DIRQL, IF=1, line masked at the IOAPIC, channel
// interrupt lock held; must not block or allocate.
type SynchronizedRoutine func(req *Request) bool

// TimerRoutine is a callback run by Port.RequestTimer (IDE_HW_TIMER).
//
// Context: DISPATCH, IF=1, line unmasked, no lock held; must not block or
// allocate. To touch state shared with the ISR it calls
// Port.RequestSynchronizedRoutine.
type TimerRoutine func()

// WorkerRoutine is a callback run by Port.RequestWorkerRoutine
// (IDE_HW_DPC run from a work item).
//
// Context: PASSIVE, IF=1, line unmasked, no lock held; may block.
type WorkerRoutine func()

// Port is what the port driver offers one channel's miniport (the
// AtaPort* service routines). ChannelInit receives it.
type Port interface {
	// Name returns the channel's name in messages: "ata0".
	Name() string

	// InterruptLockHeld reports whether this CPU holds the channel's
	// interrupt spin lock: the cheap entry check of the routines whose
	// Context says they run holding it.
	//
	// Context: any IRQL; does not block or allocate.
	InterruptLockHeld() bool

	// Complete reports that req is done, with req.Status set
	// (AtaPortNotification(IdeRequestComplete)). The port finishes it in
	// its completion DPC. A request completes exactly once.
	//
	// Context: the channel's DIRQL with the channel interrupt lock held
	// (StartIo, Interrupt, synchronized routines); does not block or
	// allocate. Panics when req is not in flight.
	Complete(req *Request)

	// RequestSynchronizedRoutine runs fn(req) synchronized with the ISR
	// (AtaPortRequestSynchronizedRoutine) and returns its answer. The
	// port then services an interrupt the device signalled while the line
	// was masked.
	//
	// Context: PASSIVE or DISPATCH, IF=1, no channel lock held (BuildIo,
	// timer and worker routines); does not block or allocate. fn runs at
	// the channel's DIRQL, IF=1, line masked, channel interrupt lock held.
	RequestSynchronizedRoutine(fn SynchronizedRoutine, req *Request) bool

	// RequestTimer arranges for fn to run once after d
	// (AtaPortRequestTimer); a later call replaces an earlier one that has
	// not run yet.
	//
	// Context: the channel's DIRQL with the channel interrupt lock held;
	// does not block or allocate. fn runs as a TimerRoutine.
	RequestTimer(fn TimerRoutine, d time.Duration)

	// RequestWorkerRoutine arranges for fn to run once at PASSIVE
	// (AtaPortRequestWorkerRoutine). It returns false when a worker
	// routine of this channel is already waiting to run.
	//
	// Context: the channel's DIRQL with the channel interrupt lock held;
	// does not block or allocate. fn runs as a WorkerRoutine.
	RequestWorkerRoutine(fn WorkerRoutine) bool

	// Stall busy-waits for d (AtaPortStallExecution).
	//
	// Context: any IRQL; does not block or allocate.
	Stall(d time.Duration)

	// IO returns the channel's I/O-port access (AtaPortReadPortUchar and
	// relatives).
	//
	// Context: any IRQL; does not block or allocate.
	IO() PortIO

	// AllocateCommonBuffer reserves size bytes of DMA memory aligned to
	// align, for the channel's lifetime (AtaPortGetUnCachedExtension).
	//
	// Context: PASSIVE, IF=1 (ChannelInit); may block.
	AllocateCommonBuffer(size, align int) (DMABuffer, error)

	// ScatterGather returns the physical segments of req.Data
	// (AtaPortGetScatterGatherList), in order; nil for a request without
	// DMA-capable data.
	//
	// Context: PASSIVE..DIRQL while req is owned by the miniport (BuildIo
	// to completion); does not block or allocate.
	ScatterGather(req *Request) []Segment
}

// PortIO is x86 I/O-port access (the IN, OUT, REP INS and REP OUTS
// instructions). The string forms move len(buf) bytes, which must be a
// multiple of the access width; the data keeps the device's byte order
// (little-endian words). In the firmware every access, and every sector
// of a string move, is a safe point for interrupts: the ISR of a line of
// higher DIRQL may run before it returns, as it would interrupt the
// caller there on hardware, never one of the caller's own DIRQL.
type PortIO interface {
	In8(port uint16) uint8
	Out8(port uint16, v uint8)
	In16(port uint16) uint16
	Out16(port uint16, v uint16)
	In32(port uint16) uint32
	Out32(port uint16, v uint32)
	InsW(port uint16, buf []byte)  // rep insw
	OutsW(port uint16, buf []byte) // rep outsw
	InsL(port uint16, buf []byte)  // rep insl
	OutsL(port uint16, buf []byte) // rep outsl
}
