package sfftest

import (
	"errors"
	"time"
	"unsafe"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// Memory is fake physical memory for DMA: buffers from the Go heap given
// addresses from a counter, which the bus master of a Bus can reach.
type Memory struct {
	mu      spinLock
	next    uint64
	regions []miniport.DMABuffer
}

// NewMemory returns an allocator handing out addresses from base up.
func NewMemory(base uint64) *Memory {
	return &Memory{next: base}
}

// Reserve returns size bytes at an address aligned to align.
func (m *Memory) Reserve(size, align int) (miniport.DMABuffer, error) {
	if size <= 0 || align <= 0 || align&(align-1) != 0 {
		return miniport.DMABuffer{}, errors.New("sfftest: Reserve of a bad size or alignment")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a := (m.next + uint64(align) - 1) &^ (uint64(align) - 1)
	m.next = a + uint64(size)
	b := miniport.DMABuffer{Addr: a, Buf: make([]byte, size)}
	m.regions = append(m.regions, b)
	return b, nil
}

// Slice returns the n bytes at physical address addr, if they lie within
// one reserved buffer.
func (m *Memory) Slice(addr uint64, n int) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.regions {
		if addr >= r.Addr && addr+uint64(n) <= r.Addr+uint64(len(r.Buf)) {
			off := addr - r.Addr
			return r.Buf[off : off+uint64(n)], true
		}
	}
	return nil, false
}

// Phys returns the physical address of b[0], if b lies within one reserved
// buffer.
func (m *Memory) Phys(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	p := uintptr(unsafe.Pointer(&b[0]))
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.regions {
		base := uintptr(unsafe.Pointer(&r.Buf[0]))
		if p >= base && p+uintptr(len(b)) <= base+uintptr(len(r.Buf)) {
			return r.Addr + uint64(p-base), true
		}
	}
	return 0, false
}

// Map makes b, memory the test allocated itself (a caller's buffer),
// reachable by the bus master, as identity-mapped RAM is on the firmware,
// and returns its address: b's own when it lies within a region already,
// else a new region's, at the offset within its 4 KiB page that b has, so
// that the address keeps b's alignment.
func (m *Memory) Map(b []byte) (uint64, bool) {
	if a, ok := m.Phys(b); ok || len(b) == 0 {
		return a, ok
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a := (m.next+0xfff)&^0xfff + uint64(uintptr(unsafe.Pointer(&b[0]))&0xfff)
	m.next = a + uint64(len(b))
	m.regions = append(m.regions, miniport.DMABuffer{Addr: a, Buf: b})
	return a, true
}

// Port is a fake miniport.Port for driving a miniport channel directly:
// synchronized routines run at once under Lock, completions and timer and
// worker requests are recorded for the test to inspect or fire.
type Port struct {
	Bus  *Bus
	Mem  *Memory
	Lock kernel.InterruptLock

	mu        spinLock
	completed []*miniport.Request
	timer     miniport.TimerRoutine
	syncs     int
}

// NewPort returns a port for bus with an interrupt lock at DIRQL 5.
func NewPort(bus *Bus, mem *Memory) *Port {
	p := &Port{Bus: bus, Mem: mem}
	p.Lock.Name = "sfftest channel"
	p.Lock.Level = 5
	return p
}

// Run calls fn at the channel's DIRQL holding its interrupt lock, as the
// port calls StartIo and the ISR.
func (p *Port) Run(fn func()) {
	old := p.Lock.Acquire()
	fn()
	p.Lock.Release(old)
}

// Completed returns the requests completed so far, in order.
func (p *Port) Completed() []*miniport.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*miniport.Request(nil), p.completed...)
}

// Syncs returns how many synchronized routines ran.
func (p *Port) Syncs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.syncs
}

// FireTimer runs the routine last given to RequestTimer at DISPATCH and
// reports whether there was one.
func (p *Port) FireTimer() bool {
	p.mu.Lock()
	fn := p.timer
	p.timer = nil
	p.mu.Unlock()
	if fn == nil {
		return false
	}
	old := kernel.Raise(kernel.DISPATCH)
	fn()
	kernel.Lower(old)
	return true
}

// Name implements miniport.Port.
func (p *Port) Name() string { return "ata0" }

// InterruptLockHeld implements miniport.Port.
func (p *Port) InterruptLockHeld() bool { return p.Lock.HeldByThisCPU() }

// Complete implements miniport.Port.
func (p *Port) Complete(req *miniport.Request) {
	if !p.Lock.HeldByThisCPU() {
		panic("sfftest: Complete without the interrupt lock")
	}
	p.mu.Lock()
	p.completed = append(p.completed, req)
	p.mu.Unlock()
}

// RequestSynchronizedRoutine implements miniport.Port.
func (p *Port) RequestSynchronizedRoutine(fn miniport.SynchronizedRoutine, req *miniport.Request) bool {
	kernel.AssertLevel("sfftest RequestSynchronizedRoutine", kernel.PASSIVE, kernel.DISPATCH)
	p.mu.Lock()
	p.syncs++
	p.mu.Unlock()
	old := p.Lock.Acquire()
	ok := fn(req)
	p.Lock.Release(old)
	return ok
}

// RequestTimer implements miniport.Port.
func (p *Port) RequestTimer(fn miniport.TimerRoutine, _ time.Duration) {
	p.mu.Lock()
	p.timer = fn
	p.mu.Unlock()
}

// RequestWorkerRoutine implements miniport.Port; the fake runs none.
func (p *Port) RequestWorkerRoutine(miniport.WorkerRoutine) bool { return false }

// Stall implements miniport.Port; the fake device needs no time.
func (p *Port) Stall(time.Duration) {}

// IO implements miniport.Port.
func (p *Port) IO() miniport.PortIO { return p.Bus }

// AllocateCommonBuffer implements miniport.Port.
func (p *Port) AllocateCommonBuffer(size, align int) (miniport.DMABuffer, error) {
	return p.Mem.Reserve(size, align)
}

// ScatterGather implements miniport.Port: one segment, when req.Data lies
// in fake DMA memory.
func (p *Port) ScatterGather(req *miniport.Request) []miniport.Segment {
	a, ok := p.Mem.Phys(req.Data)
	if !ok {
		return nil
	}
	return []miniport.Segment{{Addr: a, Length: len(req.Data)}}
}
