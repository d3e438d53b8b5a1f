package kernel

import (
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// MaxCPUs is the number of CPUs the per-CPU state can describe.
const MaxCPUs = 64

// perCPU is the state one CPU keeps: shadows of its CR8 and IF for States,
// the record of the pinned section in progress and its DPC queue.
type perCPU struct {
	// state packs the shadow of CR8 (stateLevel), which every CR8 write
	// of this package updates, with the record of the pinned section in
	// progress (stateSection): the CPU index + 1 stored when this CPU left
	// PASSIVE, 0 while it runs at PASSIVE. Packed, a level change costs
	// one store. Only this CPU writes it (ownWord).
	state ownWord
	ifOff atomic.Bool // shadow of RFLAGS.IF == 0 (HIGH)

	// DPC queue: a stack that any CPU pushes onto (DPC.Queue) and only
	// this CPU takes whole (drainDPCs); pending counts the DPCs on it.
	dpcs    atomic.Pointer[DPC]
	pending atomic.Int32

	// index is the CPU's index (0 is the BSP); apic its local APIC ID, its
	// row in the interrupt entry's tables (intr.go), read through apicRow.
	// Atomic because Init may map the IDs again while the timers of an
	// earlier mapping still run (the host tests do).
	index int
	apic  atomic.Uint32
	// undispatched counts vectors serviced before SetDispatcher.
	undispatched atomic.Uint64
	// spinHalts counts the calls of the board's brief halt between turns
	// of a long spin on a held lock (spinHalt); the board skips the HLT
	// itself when a vector is already pending.
	spinHalts atomic.Uint64
	// lat keeps the latest acceptance-to-dispatch latencies.
	lat latencyRing
}

var (
	cpus [MaxCPUs]perCPU

	// cpuOfAPIC maps a local APIC ID to its CPU's state (nil: unknown).
	// Loads use atomic.LoadPointer rather than atomic.Pointer's method,
	// which keeps this within the inlining budget.
	cpuOfAPIC [256]unsafe.Pointer
	ncpu      atomic.Int32

	initMu sync.Mutex
)

func init() {
	for i := range cpus {
		cpus[i].apic.Store(uint32(i))
		cpus[i].index = i
		atomic.StorePointer(&cpuOfAPIC[i], unsafe.Pointer(&cpus[i]))
	}
	ncpu.Store(int32(min(bootCPUs(), MaxCPUs)))
}

// Init registers the CPUs: apicIDs[i] is the local APIC ID of CPU index i,
// BSP first, as listed by the ACPI MADT for the processors TamaGo started.
// Until Init, APIC ID i is CPU i and NumCPU is 1 (the host fake: the number
// of Ps).
//
// Context: PASSIVE, IF=1, after amd64.CPU.InitSMP and before any CPU leaves
// PASSIVE (the per-CPU state is indexed by the mapping); may block and
// allocate.
// Returns an error for an empty list, more than MaxCPUs entries, an APIC ID
// above 255 or a duplicate.
func Init(apicIDs []uint32) error {
	AssertMayBlock("kernel.Init")
	if len(apicIDs) == 0 || len(apicIDs) > MaxCPUs {
		return errors.New("kernel: Init: " + strconv.Itoa(len(apicIDs)) + " CPUs, want 1.." + strconv.Itoa(MaxCPUs))
	}
	var seen [256]bool
	for _, id := range apicIDs {
		if id > 255 {
			return errors.New("kernel: Init: APIC ID " + strconv.FormatUint(uint64(id), 10) + " above 255 (x2APIC IDs are not supported)")
		}
		if seen[id] {
			return errors.New("kernel: Init: duplicate APIC ID " + strconv.FormatUint(uint64(id), 10))
		}
		seen[id] = true
	}

	if err := checkPinLayout(); err != nil {
		return err
	}

	initMu.Lock()
	defer initMu.Unlock()
	for i, id := range apicIDs {
		atomic.StorePointer(&cpuOfAPIC[id], unsafe.Pointer(&cpus[i]))
		cpus[i].apic.Store(id)
	}
	for id := range cpuOfAPIC {
		if !seen[id] {
			atomic.StorePointer(&cpuOfAPIC[id], nil)
		}
	}
	ncpu.Store(int32(len(apicIDs)))
	if err := checkProcs(len(apicIDs)); err != nil {
		return err
	}
	if err := OnEachCPU(setupCPUID); err != nil {
		return errors.New("kernel: Init: GS base set-up: " + err.Error() + " (the runtime started no M on them)")
	}
	publishCPUID()
	return nil
}

// CPU returns the index of the executing CPU (0 is the BSP), mapped from its
// local APIC ID through the table filled by Init. The answer is stable only
// while the caller is pinned, that is above PASSIVE.
//
// Context: any IRQL, any IF; does not block or allocate. Panics when the
// APIC ID was not registered by Init.
func CPU() int {
	return this().index
}

// this returns the executing CPU's state (see CPU).
//
// Context: as CPU.
func this() *perCPU {
	return cpuOf(apicID())
}

// cpuOf returns the state of the CPU whose local APIC ID is apic. It
// inlines (a call costs under TCG more than its body), hence the constant
// message.
//
// Context: any IRQL, any IF; does not block or allocate. Panics when the
// APIC ID was not registered by Init.
func cpuOf(apic uint8) *perCPU {
	c := (*perCPU)(atomic.LoadPointer(&cpuOfAPIC[apic]))
	if c == nil {
		panic("kernel: CPU: the executing CPU's local APIC ID was not registered by kernel.Init")
	}
	return c
}

// ownWord is a word that only its own CPU writes, pinned there, and that
// other CPUs only read (States). Its store is a plain MOV rather than an
// atomic store, which on amd64 is an XCHG with a full barrier: under TCG
// that XCHG costs a call into QEMU, more than the rest of Raise. Nothing
// needs the barrier: this CPU reads its own stores in program order (an
// interrupt entry too), x86 makes stores visible to the other CPUs in
// program order (SDM Vol 3A, "Memory Ordering in P6 and More
// Recent Processor Families"), and no other CPU decides anything from
// the word: a DPC for another CPU interrupts it instead (dpc.go). Its Store is
// in hw_tamago.go; the host fake's (hw_host.go) is atomic.
type ownWord struct{ v uint32 }

// Load returns the word.
//
// Context: any IRQL, any CPU; does not block or allocate.
func (w *ownWord) Load() uint32 { return atomic.LoadUint32(&w.v) }

// Fields of perCPU.state.
const (
	stateLevel        = 0xf
	stateSectionShift = 8
	stateSection      = 0xff << stateSectionShift
)

// level returns the CPU's CR8 shadow.
func (c *perCPU) level() IRQL {
	return IRQL(c.state.Load() & stateLevel)
}

// section returns the CPU index + 1 recorded when the CPU left PASSIVE, 0
// at PASSIVE.
func (c *perCPU) section() int32 {
	return int32(c.state.Load() >> stateSectionShift)
}

// setLevel records lv as the CPU's CR8 shadow, keeping the section.
//
// Context: pinned on c's CPU (only it writes its state).
func (c *perCPU) setLevel(lv IRQL) {
	c.state.Store(c.state.Load()&^stateLevel | uint32(lv))
}

// NumCPU returns the number of CPUs registered by Init.
//
// Context: any IRQL; does not block or allocate.
func NumCPU() int {
	return int(ncpu.Load())
}

// CPUState is the IRQL state of one CPU as States reports it.
type CPUState struct {
	CPU         int    // CPU index
	CR8         IRQL   // current level
	IF          bool   // RFLAGS.IF
	Pinned      bool   // a goroutine is pinned on it (level above PASSIVE)
	PendingDPCs int    // DPCs queued and not yet run
	SpinHalts   uint64 // brief halts entered between turns of long spins on held locks (SetSpinWait)
}

// States returns the state of every CPU from the per-CPU shadows that Raise
// and Lower keep; the entry of the calling CPU is read from CR8 and RFLAGS
// themselves.
//
// Context: PASSIVE; allocates the result.
func States() []CPUState {
	AssertLevel("kernel.States", PASSIVE, PASSIVE)
	out := make([]CPUState, NumCPU())
	for i := range out {
		c := &cpus[i]
		out[i] = CPUState{
			CPU:         i,
			CR8:         c.level(),
			IF:          !c.ifOff.Load(),
			Pinned:      c.section() != 0,
			PendingDPCs: int(c.pending.Load()),
			SpinHalts:   c.spinHalts.Load(),
		}
	}
	procPin()
	if me := CPU(); me < len(out) {
		cur := Current()
		out[me].CR8 = cur
		out[me].IF = InterruptsEnabled()
		out[me].Pinned = cur > PASSIVE
	}
	procUnpin()
	return out
}

// SpinHalts returns how many times CPU cpu entered the board's brief halt
// between turns of long spins on held locks (SetSpinWait; the board skips
// the HLT when a vector is pending).
//
// Context: any IRQL, any IF; does not block or allocate.
func SpinHalts(cpu int) uint64 {
	return cpus[cpu].spinHalts.Load()
}

// RunOnCPU runs fn at DISPATCH on CPU cpu: it pins the calling goroutine,
// and while it landed on another CPU unpins, yields and tries again (sleeping
// 1 ms every 1000 tries so that a busy CPU is not starved). The self-IPI
// tests use it to run on the BSP (CPU 0), and the host fake to carry a DPC
// interrupt to its CPU (hw_host.go).
//
// Context: PASSIVE, IF=1; may block. fn runs at DISPATCH, IF=1, pinned on
// cpu, and must return at DISPATCH. Queued DPCs of cpu run when fn returns.
// Panics when cpu is not below NumCPU.
func RunOnCPU(cpu int, fn func()) {
	AssertLevel("kernel.RunOnCPU", PASSIVE, PASSIVE)
	if cpu < 0 || cpu >= NumCPU() {
		Bugcheck("kernel: RunOnCPU: CPU " + strconv.Itoa(cpu) + " out of range 0.." + strconv.Itoa(NumCPU()-1))
	}
	for try := 1; ; try++ {
		old := Raise(DISPATCH)
		if CPU() == cpu {
			fn()
			checkReturnLevel("RunOnCPU function", DISPATCH)
			Lower(old)
			return
		}
		Lower(old)
		if try%1000 == 0 {
			time.Sleep(time.Millisecond)
		} else {
			runtime.Gosched()
		}
	}
}

// eachCPUTimeout bounds OnEachCPU: at boot it includes the runtime's start
// of an M on every CPU.
const eachCPUTimeout = 10 * time.Second

// OnEachCPU runs fn once on every CPU, at DISPATCH and pinned there, and
// returns when all have. One goroutine per CPU spins, without yielding,
// raising to DISPATCH and running fn when it finds itself on a CPU that
// has not run it yet: a spinning goroutine holds its CPU, so the others
// are taken up by the CPUs still idle, and every CPU gets one in a single
// pass (RunOnCPU, one CPU at a time, waits for the scheduler to carry its
// goroutine there by chance). Spinning goroutines also make the runtime
// start an M on every CPU: TamaGo starts an AP's M (amd64 CPU.Task) only
// when the scheduler wants one more, which it does only while every M it
// has is busy, and never drops one; without it RunOnCPU waited forever
// for a CPU without an M (8 CPUs hung at boot until session 24).
//
// Context: PASSIVE, IF=1; blocks, and holds every CPU until all have run
// fn. fn runs at DISPATCH, IF=1, pinned, and must return at DISPATCH;
// queued DPCs of its CPU run when it returns. Returns an error naming the
// CPUs that had not run fn within eachCPUTimeout ("CPUs 3 5 did not run it
// within 10s"), for the caller to say what fn was.
func OnEachCPU(fn func()) error {
	AssertLevel("kernel.OnEachCPU", PASSIVE, PASSIVE)
	n := NumCPU()
	want := ^uint64(0) >> (64 - n)
	var ran atomic.Uint64
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ran.Load() != want; i++ {
				old := Raise(DISPATCH)
				// Pinned at DISPATCH: no other goroutine runs on this CPU
				// between the test and the mark.
				if bit := uint64(1) << CPU(); ran.Load()&bit == 0 {
					fn()
					checkReturnLevel("OnEachCPU function", DISPATCH)
					ran.Or(bit)
				}
				Lower(old)
				if i%4096 == 4095 && time.Since(start) > eachCPUTimeout {
					return
				}
			}
		}()
	}
	wg.Wait()
	if missing := want &^ ran.Load(); missing != 0 {
		var list []byte
		for cpu := 0; cpu < n; cpu++ {
			if missing&(1<<cpu) != 0 {
				list = strconv.AppendInt(append(list, ' '), int64(cpu), 10)
			}
		}
		return errors.New("CPUs" + string(list) + " did not run it within " + eachCPUTimeout.String())
	}
	return nil
}
