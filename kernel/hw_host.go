//go:build !tamago

package kernel

import (
	"runtime"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname
)

// The host fake: each Go scheduler P is a simulated CPU whose APIC ID is the
// P's id. A goroutine pinned with procPin keeps its P, and no other
// goroutine runs on that P meanwhile, exactly as on the firmware, so the
// per-P CR8 and IF below are per-CPU state that only the pinned goroutine
// changes.
var (
	fakeCR8   [MaxCPUs]atomic.Uint64
	fakeIFOff [MaxCPUs]atomic.Bool
	// fakeCR8Writes counts each simulated CPU's CR8 writes, which under
	// TCG each cost a helper call that ends a translation block.
	fakeCR8Writes [MaxCPUs]atomic.Uint64
)

func init() {
	if runtime.GOMAXPROCS(0) > MaxCPUs {
		runtime.GOMAXPROCS(MaxCPUs)
	}
}

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// hostP returns the P the calling goroutine runs on.
func hostP() int {
	p := procPin()
	procUnpin()
	return p
}

// readCR8 and readFlags read while pinned, as the one instruction they
// stand for does: a goroutine that moved between naming its P and the
// load would read another goroutine's level.
func readCR8() uint64 {
	p := procPin()
	v := fakeCR8[p].Load()
	procUnpin()
	return v
}

func writeCR8(v uint64) {
	p := hostP()
	fakeCR8[p].Store(v)
	fakeCR8Writes[p].Add(1)
}

func pinSetCR8(v uint64) uint8 {
	p := procPin()
	fakeCR8[p].Store(v)
	fakeCR8Writes[p].Add(1)
	return uint8(p)
}

// lowerCR8Unpins is false: lowerCR8 keeps the pin, and Lower undoes it
// last. On the host Go preempts goroutines asynchronously, and under -race
// the atomics of Lower's statements after lowerCR8 are calls that check
// the stack: unpinned there, the goroutine could move to another P before
// Lower has updated the state of the CPU it left.
const lowerCR8Unpins = false

func lowerCR8(v uint64) uint8 {
	p := hostP()
	fakeCR8[p].Store(v)
	fakeCR8Writes[p].Add(1)
	return uint8(p)
}

func readFlags() uint64 {
	p := procPin()
	off := fakeIFOff[p].Load()
	procUnpin()
	if off {
		return 0
	}
	return rflagsIF
}

func cli() {
	fakeIFOff[hostP()].Store(true)
}

func sti() {
	fakeIFOff[hostP()].Store(false)
}

func apicID() uint8 {
	return uint8(hostP())
}

// bootCPUs is the number of simulated CPUs: the Ps.
func bootCPUs() int {
	return runtime.GOMAXPROCS(0)
}

func readTSC() uint64 {
	return uint64(time.Now().UnixNano())
}

// fakeEOIs counts the EOIs each simulated CPU sent; fakeEOIHook, when set
// by a test, sees each one first.
var (
	fakeEOIs    [MaxCPUs]atomic.Uint64
	fakeEOIHook func(cpu int)
)

func eoi() {
	p := hostP()
	if fakeEOIHook != nil {
		fakeEOIHook(p)
	}
	fakeEOIs[p].Add(1)
}

// Deliver is the host fake's local APIC delivering vector to the
// executing simulated CPU: it does what the firmware's interrupt entry does
// (entry_amd64.s) and no more, so the ISR runs at that CPU's next safe
// point where the vector's class is above its level.
//
// Context: pinned (above PASSIVE), so that "executing CPU" stays the same
// until the safe point; does not block or allocate.
func Deliver(vector uint8) {
	apic := apicID()
	atomic.AddUint32(&accepted[apic][vector], 1)
	acceptTSC[apic][vector] = readTSC()
	switch vector {
	case SpuriousVector:
	case WakeVector:
		eoi()
	default:
		atomic.OrUint64(&pendingVec[apic][vector/64], 1<<(vector%64))
	}
}

// checkPinLayout has nothing to check on the host: pinSetCR8 and lowerCR8
// call procPin and procUnpin.
func checkPinLayout() error { return nil }

// checkProcs has nothing to check on the host: every P runs goroutines.
func checkProcs(int) error { return nil }

// setupCPUID and publishCPUID have nothing to do on the host: the
// simulated APIC ID is the P.
func setupCPUID()   {}
func publishCPUID() {}

// Store sets the word. On the host it is atomic: goroutines that take
// turns pinned on one P are one fake CPU to the kernel, but the race
// detector sees no order between them.
//
// Context: pinned on the word's CPU; does not block or allocate.
func (w *ownWord) Store(v uint32) { atomic.StoreUint32(&w.v, v) }

// requestDispatch stands for the firmware's IPI of DPCVector
// (hw_tamago.go): the host has no idle hook on a simulated CPU that runs
// no goroutine, so a goroutine goes there and lowers from DISPATCH,
// which runs the queue.
func requestDispatch(t *perCPU) {
	go RunOnCPU(t.index, func() {})
}
