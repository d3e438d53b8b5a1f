//go:build tamago

package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ataport/firmware/ata"
	"github.com/ataport/firmware/board/pc"
	"github.com/ataport/firmware/board/pci"
	"github.com/ataport/firmware/cmd/firmware/shell"
	"github.com/ataport/firmware/internal/pattern"
	"github.com/ataport/firmware/irq"
	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
	"github.com/ataport/firmware/miniport/ahci"
	"github.com/ataport/firmware/miniport/piix"
)

// Legacy ISA interrupts of the compatibility-mode IDE channels, and the
// DIRQL of each: one level per line, as the Windows HAL assigns them, the
// primary channel above the secondary as on the PC/AT's cascaded 8259s. An
// interrupt of the primary is accepted, and its ISR runs, while the
// secondary's ISR runs or waits; the secondary's waits for the primary's.
var (
	ideIRQ   = [2]uint8{14, 15}
	ideDIRQL = [2]kernel.IRQL{6, 5}
)

// ahciDIRQL is the level of an AHCI controller's interrupt, one MSI message
// for all its ports: above the IDE channels, as the HAL gives each
// interrupt its own level (docs/DESIGN.md).
const ahciDIRQL kernel.IRQL = 7

var (
	controllers []*ata.Controller
	// unsupported lists the storage controllers no miniport drives.
	unsupported []string
	// described names each controller and, per channel, where it is.
	described = map[*ata.Controller]describer{}

	lastMu      sync.Mutex
	lastPattern = map[string]pattern.Pattern{}
)

// startATA attaches a miniport to every storage controller it knows,
// found by PCI class code, and records the others.
func startATA() {
	next := 0
	for _, f := range pc.PCIFunctions() {
		if f.Class != 0x01 {
			continue
		}
		var c *ata.Controller
		var err error
		switch {
		case f.Subclass == 0x01:
			c, err = attachIDE(f, next)
		case f.Subclass == 0x06 && f.ProgIF == 0x01:
			c, err = attachAHCI(f, next)
		default:
			unsupported = append(unsupported, fmt.Sprintf("%02x:%02x.%d %04x:%04x %s: no miniport drives it yet",
				f.Bus, f.Dev, f.Fn, f.Vendor, f.Device, f.ClassName()))
			continue
		}
		if err != nil {
			fmt.Printf("ata: %02x:%02x.%d %04x:%04x: %v\n", f.Bus, f.Dev, f.Fn, f.Vendor, f.Device, err)
		}
		if c != nil {
			controllers = append(controllers, c)
			next += c.ChannelCount()
		}
	}
}

func attachIDE(f *pci.Function, first int) (*ata.Controller, error) {
	cfg := func(off uint8) uint32 { return pc.PCI.Read32(f.Bus, f.Dev, f.Fn, off) }
	sub := cfg(0x2c)
	p := piix.PCI{
		Bus: f.Bus, Device: f.Dev, Function: f.Fn,
		Vendor: f.Vendor, DeviceID: f.Device,
		SubVendor: uint16(sub), SubDevice: uint16(sub >> 16),
		Class:   uint32(f.Class)<<16 | uint32(f.Subclass)<<8 | uint32(f.ProgIF),
		BAR4:    cfg(0x20),
		Read32:  cfg,
		Write32: func(off uint8, v uint32) { pc.PCI.Write32(f.Bus, f.Dev, f.Fn, off, v) },
	}
	mp, err := piix.New(p)
	if err != nil {
		unsupported = append(unsupported, fmt.Sprintf("%02x:%02x.%d %04x:%04x %s: %v", f.Bus, f.Dev, f.Fn, f.Vendor, f.Device, f.ClassName(), err))
		return nil, nil
	}
	var lines []ata.Line
	for i, n := range ideIRQ {
		l, err := isaLine(n)
		if err != nil {
			return nil, err
		}
		lines = append(lines, ata.Line{Line: l, DIRQL: ideDIRQL[i]})
	}
	return ata.Attach(mp, ata.Config{
		Lines:        lines,
		FirstChannel: first,
		Log:          func(s string) { fmt.Println(s) },
	})
}

// ahciRequests is the number of request blocks of each AHCI channel, the
// callers it serves at once: as many as an HBA has command slots.
const ahciRequests = 32

// describer describes a controller the firmware drives: its name and
// address, and where each channel is.
type describer interface {
	String() string
	miniport.ChannelDescriber
}

// attachAHCI attaches the AHCI miniport to function f: memory decode and
// bus mastering on, ABAR from BAR5, and its one interrupt by MSI, shared
// by its ports (ata.SharedInterrupt), masked by GHC.IE since QEMU's ICH9
// MSI capability has no per-vector mask.
func attachAHCI(f *pci.Function, first int) (*ata.Controller, error) {
	bar, ok := f.BAR(5)
	if !ok || bar.IO || bar.Addr == 0 || bar.Addr >= 1<<32 {
		unsupported = append(unsupported, fmt.Sprintf("%02x:%02x.%d %04x:%04x %s: no ABAR (BAR5) below 4 GiB",
			f.Bus, f.Dev, f.Fn, f.Vendor, f.Device, f.ClassName()))
		return nil, nil
	}
	f.Write16(pc.PCI, pci.COMMAND, f.Read16(pc.PCI, pci.COMMAND)|1<<pci.CMD_MEMORY_SPACE|1<<pci.CMD_BUS_MASTER)
	mp, err := ahci.New(ahci.PCI{
		Bus: f.Bus, Device: f.Dev, Function: f.Fn,
		Vendor: f.Vendor, DeviceID: f.Device,
		Class: uint32(f.Class)<<16 | uint32(f.Subclass)<<8 | uint32(f.ProgIF),
		ABAR:  bar.Addr,
		Regs:  ahci.MMIO(bar.Addr),
	})
	if err != nil {
		return nil, err
	}
	shared := ata.NewSharedInterrupt(func(isr irq.ISR) (ata.Interrupt, error) {
		mask := irq.MaskHook{
			Set:    func(masked bool) bool { return !mp.SetInterrupt(!masked) },
			Masked: func() bool { return !mp.InterruptEnabled() },
		}
		// Named by its PCI address, so that two controllers tell apart in `irq`.
		name := fmt.Sprintf("ahci %02x:%02x.%x", f.Bus, f.Dev, f.Fn)
		i, msg, err := irq.ConnectMSI(name, ahciDIRQL, isr, mask)
		if err != nil {
			return nil, err
		}
		if _, err := f.EnableMSI(pc.PCI, msg.Address, msg.Data); err != nil {
			return nil, err
		}
		return i, nil
	})
	lines := make([]ata.Line, 32)
	for i := range lines {
		lines[i].DIRQL = ahciDIRQL
	}
	c, err := ata.Attach(mp, ata.Config{
		Lines:        lines,
		FirstChannel: first,
		Connect:      shared.Connect,
		Requests:     ahciRequests,
		Log:          func(s string) { fmt.Println(s) },
	})
	if c != nil {
		described[c] = mp
		fmt.Println("ata: " + mp.String())
	}
	return c, err
}

func addATACommands(sh *shell.Shell) {
	for _, c := range []shell.Cmd{
		{Name: "ata", Help: "devices: model, capacity, modes, read/write state; controllers not driven", Handler: cmdATA},
		{Name: "ata identify", Args: "DEV", Help: "decoded IDENTIFY data and its 512 bytes", MinArgs: 1, MaxArgs: 1, Handler: cmdIdentify},
		{Name: "ata read", Args: "DEV LBA [COUNT]", Help: "hex dump of COUNT (1) sectors", MinArgs: 2, MaxArgs: 3, Handler: cmdRead},
		{Name: "ata sum", Args: "DEV [LBA COUNT]", Help: "SHA-256 of a range, the whole device by default", MinArgs: 1, MaxArgs: 3, Handler: cmdSum},
		{Name: "ata write", Args: "DEV LBA COUNT PATTERN", Help: "write 0xNN, lba or random:SEED to COUNT sectors (needs ata rw on)", MinArgs: 4, MaxArgs: 4, Handler: cmdWrite},
		{Name: "ata verify", Args: "DEV LBA COUNT", Help: "read back and compare with the last pattern written", MinArgs: 3, MaxArgs: 3, Handler: cmdVerify},
		{Name: "ata flush", Args: "DEV", Help: "FLUSH CACHE: written data is on the medium when it returns", MinArgs: 1, MaxArgs: 1, Handler: cmdFlush},
		{Name: "ata rw", Args: "on|off DEV", Help: "allow or refuse writes to DEV (refused at boot)", MinArgs: 2, MaxArgs: 2, Handler: cmdRW},
		{Name: "ata mode", Args: "DEV pio|dma", Help: "transfer mode of DEV", MinArgs: 2, MaxArgs: 2, Handler: cmdMode},
		{Name: "ata ncq", Args: "on|off DEV", Help: "native command queuing of DEV's DMA reads and writes (on where supported)", MinArgs: 2, MaxArgs: 2, Handler: cmdNCQ},
		{Name: "ata stats", Help: "per channel: requests, interrupts, lost edges, DPCs, timeouts, resets, errors, retries, recoveries, fault injection", Handler: cmdStats},
		{Name: "ata contexts", Help: "per routine: CR8, IF, line masked, lock held, as recorded at each call", Handler: cmdContexts},
	} {
		sh.Add(c)
	}
}

func device(name string) (*ata.Device, error) {
	for _, c := range controllers {
		if d, ok := c.Device(name); ok {
			return d, nil
		}
	}
	var names []string
	for _, c := range controllers {
		for _, d := range c.Devices() {
			names = append(names, d.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no device %q: no ATA device was found", name)
	}
	return nil, fmt.Errorf("no device %q (devices: %s)", name, strings.Join(names, " "))
}

// deviceSpan parses the arguments DEV LBA COUNT that read, sum, write and
// verify share: the device, then LBA and COUNT (at most maxCount) against
// its capacity.
func deviceSpan(devArg, lbaArg, countArg string, maxCount uint64) (*ata.Device, uint64, uint64, error) {
	d, err := device(devArg)
	if err != nil {
		return nil, 0, 0, err
	}
	lba, count, err := span(d, lbaArg, countArg, maxCount)
	return d, lba, count, err
}

// capacity returns d's capacity in sectors; an ATAPI device's is read from
// its medium first (ata.Device.Revalidate), so that a disc inserted,
// swapped or taken out since the last command is seen.
func capacity(d *ata.Device) (uint64, error) {
	if err := d.Revalidate(); err != nil {
		return 0, err
	}
	return d.Sectors(), nil
}

// span parses LBA and COUNT against the device's capacity.
func span(d *ata.Device, lbaArg, countArg string, maxCount uint64) (lba, count uint64, err error) {
	sectors, err := capacity(d)
	if err != nil {
		return 0, 0, err
	}
	if lba, err = shell.ParseUint("LBA", lbaArg, 1<<48-1); err != nil {
		return
	}
	if count, err = shell.ParseCount("COUNT", countArg, maxCount); err != nil {
		return
	}
	if lba >= sectors || count > sectors-lba {
		return 0, 0, fmt.Errorf("%s: LBA %d COUNT %d is past the end of the device (%d sectors)", d, lba, count, sectors)
	}
	return lba, count, nil
}

// flagSpan checks the -lba and -count flags of bench and stress against
// d's capacity and returns the count: without -count (hasCount false) the
// sectors from lba to the end of the device, at most maxCount.
func flagSpan(d *ata.Device, lba, count uint64, hasCount bool, maxCount uint64) (uint64, error) {
	sectors, err := capacity(d)
	if err != nil {
		return 0, err
	}
	switch {
	case lba >= sectors:
		return 0, fmt.Errorf("%s: -lba %d is past the end of the device (%d sectors)", d.Name(), lba, sectors)
	case !hasCount:
		return min(sectors-lba, maxCount), nil
	case count > sectors-lba:
		return 0, fmt.Errorf("%s: -lba %d -count %d is past the end of the device (%d sectors)", d.Name(), lba, count, sectors)
	}
	return count, nil
}

// writable returns the error of write, bench and stress for a device that
// refuses writes: an ATAPI device always, an ATA disk until `ata rw on`,
// which the message names.
func writable(d *ata.Device) error {
	if d.Type() != miniport.DeviceATA {
		return fmt.Errorf("%s is %v: read-only here", d.Name(), d.Type())
	}
	if !d.Writable() {
		return fmt.Errorf("%s is read-only: writes are refused until `ata rw on %s`", d.Name(), d.Name())
	}
	return nil
}

func cmdATA(c *shell.Context, _ []string) error {
	n := 0
	for _, ctl := range controllers {
		for _, d := range ctl.Devices() {
			media := ""
			if err := d.Revalidate(); errors.Is(err, ata.ErrNoMedium) {
				media = " no medium"
			} else if err != nil {
				media = fmt.Sprintf(" (%v)", err)
			}
			id := d.Identify()
			rw := "read-only"
			if d.Writable() {
				rw = "writable"
			}
			if d.NCQCapable() {
				rw += fmt.Sprintf(" ncq %s (depth %d)", onOff(d.NCQ()), id.NCQDepth)
			}
			fmt.Fprintf(c, "%s %-5v %q sectors %d (%d bytes, %d-byte sectors) modes %v mode %v %s%s\n",
				d.Name(), d.Type(), id.Model, d.Sectors(), d.Size(), d.SectorSize(), d.Modes(), d.Mode(), rw, media)
			n++
		}
	}
	if n == 0 {
		fmt.Fprintln(c, "no ATA devices")
	}
	for _, ctl := range controllers {
		d, ok := described[ctl]
		if !ok {
			continue
		}
		fmt.Fprintln(c, d.String())
		for _, ch := range ctl.Channels() {
			fmt.Fprintf(c, "  %s: %s\n", ch.Name(), d.DescribeChannel(ch.Index()))
		}
	}
	for _, u := range unsupported {
		fmt.Fprintln(c, u)
	}
	return nil
}

func cmdIdentify(c *shell.Context, args []string) error {
	d, err := device(args[0])
	if err != nil {
		return err
	}
	id := d.Identify()
	fmt.Fprintf(c, "model %q serial %q firmware %q\n", id.Model, id.Serial, id.Firmware)
	if id.Type == miniport.DeviceATAPI {
		// IDENTIFY PACKET DEVICE names no capacity: the medium has it.
		fmt.Fprintf(c, "type %v, %d-byte command packets; capacity from READ CAPACITY: %d sectors of %d bytes\n",
			id.Type, id.PacketSize, d.Sectors(), d.SectorSize())
	} else {
		fmt.Fprintf(c, "type %v, LBA %v, LBA48 %v, sectors %d (28-bit %d, 48-bit %d), %d-byte sectors\n",
			id.Type, id.LBA, id.LBA48, id.Sectors, id.Sectors28, id.Sectors48, id.SectorSize)
	}
	fmt.Fprintf(c, "modes %v, DMA %v, IORDY %v, multiple %d, write cache %v (enabled %v), flush %v/%v, checksum %v\n",
		id.Modes, id.DMA, id.IORDY, id.MultipleMax, id.WriteCache, id.WriteCacheEnabled, id.FlushCache, id.FlushCacheExt, id.Checksummed)
	return shell.HexDump(c, 0, d.IdentifyData())
}

func cmdRead(c *shell.Context, args []string) error {
	countArg := "1"
	if len(args) > 2 {
		countArg = args[2]
	}
	d, lba, count, err := deviceSpan(args[0], args[1], countArg, 64)
	if err != nil {
		return err
	}
	ss := uint64(d.SectorSize())
	buf := make([]byte, count*ss)
	if _, err := d.ReadAt(buf, int64(lba*ss)); err != nil {
		return err
	}
	return shell.HexDump(c, lba*ss, buf)
}

// chunk is how much sum, write and verify move per call: large enough that
// the port splits it into the biggest commands it issues.
const chunk = 1 << 20

// chunks calls f with a buffer of chunk bytes for each run of at most that
// many bytes of the count sectors from lba, in order: the loop sum, write
// and verify share. It stops at f's first error, or with
// shell.ErrInterrupted at Ctrl-C.
func chunks(c *shell.Context, d *ata.Device, lba, count uint64, f func(buf []byte, lba, n uint64) error) error {
	ss := uint64(d.SectorSize())
	buf := make([]byte, chunk)
	for done := uint64(0); done < count; {
		if c.Interrupted() {
			return shell.ErrInterrupted
		}
		n := min(chunk/ss, count-done)
		if err := f(buf[:n*ss], lba+done, n); err != nil {
			return err
		}
		done += n
	}
	return nil
}

// computeBytes is how much data the shell's commands hash, fill or compare
// between two safe points for interrupts (kernel.ServicePoint). TamaGo
// preempts no goroutine, so the ISR of a vector this CPU accepted while
// such a loop runs at PASSIVE waits for its next safe point: 4 KiB keep
// that wait to a few microseconds under TCG, where an ISR waited 65 us at
// the median for a stress worker to fill or check its 32 KiB.
const computeBytes = 4096

// inSteps calls f on the consecutive sector ranges [i, j) of n sectors of
// ss bytes, at most computeBytes (or one sector) each, with a yield point
// after each: a safe point for interrupts, and every kernel.YieldEvery a
// pass of the scheduler, where this CPU's kernel timers run (on one CPU a
// hash of 10 MB held them 33-68 ms without it).
//
// Context: PASSIVE; f may block.
func inSteps(n, ss int, f func(i, j int)) {
	var y kernel.Yielder
	step := max(1, computeBytes/ss)
	for i := 0; i < n; i += step {
		f(i, min(n, i+step))
		y.Point()
	}
}

func cmdSum(c *shell.Context, args []string) error {
	d, err := device(args[0])
	if err != nil {
		return err
	}
	if len(args) == 2 {
		return shell.ErrUsage
	}
	var lba, count uint64
	if len(args) == 3 {
		lba, count, err = span(d, args[1], args[2], 1<<48)
	} else {
		count, err = capacity(d)
	}
	if err != nil {
		return err
	}
	ss := uint64(d.SectorSize())
	h := sha256.New()
	total := count * ss
	start, lastReport := time.Now(), time.Now()
	err = chunks(c, d, lba, count, func(buf []byte, at, _ uint64) error {
		if _, err := d.ReadAt(buf, int64(at*ss)); err != nil {
			return err
		}
		inSteps(len(buf)/int(ss), int(ss), func(i, j int) { h.Write(buf[i*int(ss) : j*int(ss)]) })
		if done := (at-lba)*ss + uint64(len(buf)); time.Since(lastReport) > 2*time.Second && done < total {
			fmt.Fprintf(c, "sum: %d of %d MiB\n", done>>20, total>>20)
			lastReport = time.Now()
		}
		return nil
	})
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(c, "%x  %s lba %d count %d (%d bytes, %v, %.1f MB/s)\n", h.Sum(nil), d.Name(), lba, count, total, el.Round(time.Millisecond), float64(total)/el.Seconds()/1e6)
	return nil
}

func cmdWrite(c *shell.Context, args []string) error {
	d, lba, count, err := deviceSpan(args[0], args[1], args[2], 1<<32)
	if err != nil {
		return err
	}
	p, err := pattern.Parse(args[3])
	if err != nil {
		return err
	}
	if err := writable(d); err != nil {
		return err
	}
	ss := uint64(d.SectorSize())
	err = chunks(c, d, lba, count, func(buf []byte, at, n uint64) error {
		inSteps(int(n), int(ss), func(i, j int) { p.Fill(buf[i*int(ss):j*int(ss)], at+uint64(i), int(ss)) })
		_, err := d.WriteAt(buf, int64(at*ss))
		return err
	})
	if err != nil {
		return err
	}
	lastMu.Lock()
	lastPattern[d.Name()] = p
	lastMu.Unlock()
	fmt.Fprintf(c, "%s: wrote %d sectors at LBA %d with %v\n", d.Name(), count, lba, p)
	return nil
}

func cmdVerify(c *shell.Context, args []string) error {
	d, lba, count, err := deviceSpan(args[0], args[1], args[2], 1<<32)
	if err != nil {
		return err
	}
	lastMu.Lock()
	p, ok := lastPattern[d.Name()]
	lastMu.Unlock()
	if !ok {
		return fmt.Errorf("%s: nothing written since boot, no pattern to verify against", d.Name())
	}
	ss := uint64(d.SectorSize())
	want := make([]byte, chunk)
	bad, first := uint64(0), uint64(0)
	err = chunks(c, d, lba, count, func(got []byte, at, n uint64) error {
		if _, err := d.ReadAt(got, int64(at*ss)); err != nil {
			return err
		}
		inSteps(int(n), int(ss), func(i, j int) {
			p.Fill(want[i*int(ss):j*int(ss)], at+uint64(i), int(ss))
			for k := uint64(i); k < uint64(j); k++ {
				if !bytes.Equal(got[k*ss:(k+1)*ss], want[k*ss:(k+1)*ss]) {
					if bad == 0 {
						first = at + k
					}
					bad++
				}
			}
		})
		return nil
	})
	if err != nil {
		return err
	}
	if bad != 0 {
		return fmt.Errorf("%s: %d of %d sectors differ from %v, the first at LBA %d", d.Name(), bad, count, p, first)
	}
	fmt.Fprintf(c, "%s: %d sectors at LBA %d match %v\n", d.Name(), count, lba, p)
	return nil
}

func cmdFlush(c *shell.Context, args []string) error {
	d, err := device(args[0])
	if err != nil {
		return err
	}
	if err := d.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c, "%s: flushed\n", d.Name())
	return nil
}

// switchArg parses the on|off argument of `ata rw` and `ata ncq`.
func switchArg(arg string) (on bool, err error) {
	switch arg {
	case "on":
		return true, nil
	case "off":
		return false, nil
	}
	return false, shell.ErrUsage
}

// switchDevice runs `ata rw|ncq on|off DEV`: set switches DEV, and the
// line printed names DEV with what show reports of it afterwards.
func switchDevice(c *shell.Context, args []string, set func(*ata.Device, bool) error, show func(*ata.Device) string) error {
	on, err := switchArg(args[0])
	if err != nil {
		return err
	}
	d, err := device(args[1])
	if err != nil {
		return err
	}
	if err := set(d, on); err != nil {
		return err
	}
	fmt.Fprintf(c, "%s: %s\n", d.Name(), show(d))
	return nil
}

func cmdRW(c *shell.Context, args []string) error {
	return switchDevice(c, args, (*ata.Device).SetWritable, func(d *ata.Device) string { return fmt.Sprintf("writable %v", d.Writable()) })
}

func cmdMode(c *shell.Context, args []string) error {
	d, err := device(args[0])
	if err != nil {
		return err
	}
	var m ata.Mode
	switch args[1] {
	case "pio":
		m = ata.ModePIO
	case "dma":
		m = ata.ModeDMA
	default:
		return shell.ErrUsage
	}
	if err := d.SetMode(m); err != nil {
		return err
	}
	fmt.Fprintf(c, "%s: mode %v\n", d.Name(), d.Mode())
	return nil
}

func cmdStats(c *shell.Context, _ []string) error {
	for _, ctl := range controllers {
		for _, ch := range ctl.Channels() {
			s := ch.Stats()
			fmt.Fprintf(c, "%s: requests %d interrupts %d by-vector %d not-mine %d lost-edges %d lost-interrupts %d dpcs %d timeouts %d resets %d errors %d busy-retries %d synchronized %d retries %d recoveries %d depth %d max-outstanding %d%s %s\n",
				ch.Name(), s.Requests, s.Interrupts, s.ByVector, s.NotMine, s.LostEdges, s.LostInterrupts, s.DPCs, s.Timeouts, s.Resets, s.Errors, s.BusyRetries, s.Synchronized,
				s.Retries, s.Recoveries, s.Depth, s.MaxOutstanding, queueStats(ch), injection(ch))
		}
	}
	return nil
}

// queueStats returns what the miniport saw of the channel's queue, for a
// miniport that keeps such figures (AHCI: the most slots issued, the most
// NCQ commands in PxSACT as its ISR read it).
func queueStats(ch *ata.Channel) string {
	q, ok := ch.Miniport().(interface{ QueueStats() (issued, active int) })
	if !ok {
		return ""
	}
	issued, active := q.QueueStats()
	return fmt.Sprintf(" max-issued %d max-sactive %d", issued, active)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func cmdNCQ(c *shell.Context, args []string) error {
	return switchDevice(c, args, (*ata.Device).SetNCQ, func(d *ata.Device) string { return "ncq " + onOff(d.NCQ()) })
}

func cmdContexts(c *shell.Context, _ []string) error {
	fmt.Fprintf(c, "%-8s %-22s %8s %6s %6s %-5s %-6s %-5s %8s %8s\n", "channel", "routine", "count", "minCR8", "maxCR8", "IF", "masked", "lock", "overlap", "samecpu")
	for _, ctl := range controllers {
		for _, ch := range ctl.Channels() {
			for _, r := range ch.Contexts() {
				fmt.Fprintf(c, "%-8s %-22v %8d %6d %6d %-5v %-6v %-5v %8d %8d\n", ch.Name(), r.Routine, r.Count, r.MinCR8, r.MaxCR8, r.IF, r.Masked, r.LockHeld, r.Overlap, r.SameCPU)
			}
		}
	}
	return nil
}
