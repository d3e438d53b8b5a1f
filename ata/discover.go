package ata

import (
	"errors"
	"fmt"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// Device signatures in LBA MID / LBA HIGH after a reset (ATA8-ACS, "Signature
// and persistence"; SATA 2.6 for the serial variants).
const (
	sigATAMid, sigATAHigh     = 0x00, 0x00
	sigATAPIMid, sigATAPIHigh = 0x14, 0xeb
	sigSATAMid, sigSATAHigh   = 0x3c, 0xc3
	sigSATAPIMid, sigSATAPIHi = 0x69, 0x96
)

// packetRetries is how often READ CAPACITY is tried: the first packet after
// a reset or a medium change fails with UNIT ATTENTION (MMC-5 4.x).
const packetRetries = 3

// classify tells the device type from a probe's registers, following
// libata ata_sff_dev_classify: the signature decides, and an ATA signature
// with STATUS 0 is no device (what a channel reads for an absent device 1,
// and what QEMU reads for any absent device).
func classify(tf miniport.Registers, status uint8) miniport.DeviceType {
	switch {
	case tf.LBAMid == sigATAPIMid && tf.LBAHigh == sigATAPIHigh,
		tf.LBAMid == sigSATAPIMid && tf.LBAHigh == sigSATAPIHi:
		return miniport.DeviceATAPI
	case tf.LBAMid == sigATAMid && tf.LBAHigh == sigATAHigh,
		tf.LBAMid == sigSATAMid && tf.LBAHigh == sigSATAHigh:
		if status == 0 {
			return miniport.DeviceNone
		}
		return miniport.DeviceATA
	}
	return miniport.DeviceNone
}

// log writes a message through Config.Log.
func (ch *Channel) log(format string, args ...any) {
	if ch.logf != nil {
		ch.logf(fmt.Sprintf(format, args...))
	}
}

// found is a device between its IDENTIFY and its Device.
type found struct {
	typ   miniport.DeviceType
	ident miniport.Identify
	raw   []byte
}

// discover finds the channel's devices (libata's ata_bus_probe, in the
// order ataport uses):
//
//  1. reset the channel (HwReset, line masked);
//  2. probe both targets' signatures, retrying while a device holds BSY;
//  3. IDENTIFY DEVICE or IDENTIFY PACKET DEVICE each present target;
//  4. have the controller select the transfer modes (TransferModeSelect);
//  5. SET FEATURES the PIO mode, then the DMA mode, of each device, and
//     tell the miniport about it (HwInitialize);
//  6. read an ATAPI device's capacity (READ CAPACITY (10)).
//
// A device that fails a step is left out, with a message.
//
// Context: PASSIVE, IF=1, the interrupt connected; blocks.
func (ch *Channel) discover() {
	kernel.AssertMayBlock("ata: discover")
	ch.devMu.Lock()
	defer ch.devMu.Unlock()
	// 1.
	if err := ch.resetLocked(); err != nil {
		ch.log("%s: %v", ch.name, err)
	}
	// 2. Both signatures first: the task file registers are written to
	// both devices, so the first command overwrites the other's.
	var types [2]miniport.DeviceType
	var seen [2]string
	for t := range types {
		typ, what, err := ch.probe(t)
		if err != nil {
			ch.log("%v", err)
		}
		types[t], seen[t] = typ, what
	}
	// 3.
	var devs [2]*found
	for t, typ := range types {
		if typ == miniport.DeviceNone {
			continue
		}
		f, err := ch.identify(t, typ, fmt.Sprintf("%s.%d", ch.name, t))
		if err != nil {
			ch.log("%v", err)
			continue
		}
		devs[t] = f
	}
	// 4.
	var sel miniport.TransferModeSelect
	for t, f := range devs {
		if f != nil {
			sel.Present[t] = true
			sel.ATAPI[t] = f.typ == miniport.DeviceATAPI
			sel.Supported[t] = f.ident.Modes
			sel.IORDY[t] = f.ident.IORDY
		}
	}
	if sel.Present[0] || sel.Present[1] {
		ch.ctl.ctx.record(RoutineTransferModeSelect, false, false, -1)
		if err := ch.ctl.mp.TransferModeSelect(ch.index, &sel); err != nil {
			ch.log("%s: TransferModeSelect: %v; staying in PIO0", ch.name, err)
			sel.Selected = [2]miniport.TransferModes{miniport.PIO0, miniport.PIO0}
		}
	}
	if devs[0] == nil && devs[1] == nil {
		ch.log("%s: no devices (target 0: %s; target 1: %s)", ch.name, seen[0], seen[1])
	}
	for t, f := range devs {
		if f == nil {
			continue
		}
		d := &Device{
			ch: ch, target: t, typ: f.typ, ident: f.ident,
			name:       fmt.Sprintf("%s.%d", ch.name, t),
			id:         fmt.Sprintf("%d:%d", ch.number, t),
			sectorSize: f.ident.SectorSize,
		}
		d.sectors.Store(f.ident.Sectors)
		copy(d.raw[:], f.raw)
		// 5.
		d.modes = ch.setModes(d, sel.Selected[t])
		params := miniport.DeviceParameters{Target: t, Type: d.typ, Modes: d.modes, Identify: &d.ident, Name: d.name,
			Multiple: int(d.multiple.Load())}
		ch.record(RoutineInitialize, -1)
		if err := ch.mp.Initialize(&params); err != nil {
			ch.log("%s: HwInitialize: %v", d.name, err)
			continue
		}
		// 6.
		if d.typ == miniport.DeviceATAPI {
			d.sectorSize = 2048
			if err := ch.readCapacity(d); err != nil {
				if errors.Is(err, ErrNoMedium) {
					ch.log("%s: no medium", d.name)
				} else {
					ch.log("%v; capacity unknown", err)
				}
			}
		}
		if d.modes.DMA() != 0 && ch.info.DMA {
			d.dma.Store(true)
			d.ncq.Store(d.NCQCapable())
		}
		ch.devices[t] = d
		ch.log("%s: %s %q serial %q firmware %q, %d sectors of %d bytes, modes %s, %s",
			d.name, d.typ, d.ident.Model, d.ident.Serial, d.ident.Firmware, d.sectors.Load(), d.sectorSize,
			d.modes, d.Mode())
	}
}

// resetLocked resets the channel through the queue (FunctionReset), so that
// no request is in flight meanwhile.
//
// Context: PASSIVE, ch.devMu held; blocks.
func (ch *Channel) resetLocked() error {
	r := ch.ownRequest()
	r.reset(miniport.FunctionReset, 0, ch.timeout)
	ch.execInternal(r)
	if r.irb.Status != miniport.StatusSuccess {
		return errors.New("channel reset: HwReset failed")
	}
	return nil
}

// probe reads target t's signature (MiniportProbe) and classifies it; it
// also says what it saw, for the message of a channel found empty.
//
// Context: PASSIVE, ch.devMu held; blocks.
func (ch *Channel) probe(t int) (typ miniport.DeviceType, seen string, err error) {
	r := ch.ownRequest()
	r.reset(miniport.FunctionMiniport, t, ch.timeout)
	r.irb.Miniport = miniport.MiniportProbe
	ch.execInternal(r)
	tf := &r.irb.TaskFile.Current
	switch r.irb.Status {
	case miniport.StatusSuccess:
		typ = classify(*tf, r.irb.AtaStatus)
		return typ, fmt.Sprintf("%v, status %#02x, signature %02x%02x", typ, r.irb.AtaStatus, tf.LBAHigh, tf.LBAMid), nil
	case miniport.StatusSelectionTimeout:
		return miniport.DeviceNone, fmt.Sprintf("bus floating (status %#02x)", r.irb.AtaStatus), nil
	}
	err = completionError(fmt.Sprintf("%s.%d", ch.name, t), &r.irb, "probe", 0, 0, false, ch.timeout, ch.busyTimeout)
	return miniport.DeviceNone, err.Error(), err
}

// identify reads and parses the IDENTIFY data of target t.
//
// Context: PASSIVE, ch.devMu held; blocks.
func (ch *Channel) identify(t int, typ miniport.DeviceType, name string) (*found, error) {
	r := ch.ownRequest()
	r.reset(miniport.FunctionATA, t, ch.timeout)
	cmd := miniport.IDENTIFY_DEVICE
	flags := miniport.FlagDataIn | miniport.FlagDRDYRequired
	if typ == miniport.DeviceATAPI {
		cmd, flags = miniport.IDENTIFY_PACKET_DEVICE, miniport.FlagDataIn
	}
	r.irb.TaskFile.Current.Command = uint8(cmd)
	r.setData(miniport.IdentifyLength, flags)
	ch.execInternal(r)
	if err := completionError(name, &r.irb, cmd.String(), 0, 0, false, ch.timeout, ch.busyTimeout); err != nil {
		return nil, err
	}
	ident, err := miniport.ParseIdentify(r.irb.Data)
	if err != nil {
		return nil, &Error{Device: name, Command: cmd.String(), Kind: ErrProtocol, Detail: err.Error()}
	}
	if ident.Type != typ {
		return nil, &Error{Device: name, Command: cmd.String(), Kind: ErrProtocol,
			Detail: "signature said " + typ.String() + ", IDENTIFY word 0 says " + ident.Type.String()}
	}
	return &found{typ: typ, ident: ident, raw: append([]byte(nil), r.irb.Data...)}, nil
}

// setModes sends SET FEATURES (ATA8-ACS, "Set transfer mode") for the
// PIO mode and then the DMA mode of modes, and returns the modes the device
// accepted: a refused DMA mode is dropped, a refused PIO mode leaves the
// device in its default PIO mode.
//
// Context: PASSIVE, ch.devMu held; blocks.
func (ch *Channel) setModes(d *Device, modes miniport.TransferModes) miniport.TransferModes {
	for _, m := range [...]miniport.TransferModes{modes.PIO(), modes.DMA()} {
		v, ok := m.SetFeaturesValue()
		if !ok {
			continue
		}
		if err := ch.setFeatures(d, v); err != nil {
			ch.log("%v; %s not set", err, m)
			if m&miniport.DMAModes != 0 {
				modes &^= miniport.DMAModes
			}
		}
	}
	ch.setMultiple(d)
	return modes
}

// setFeatures sends SET FEATURES, subcommand set transfer mode, with COUNT v.
//
// Context: PASSIVE, ch.devMu held; blocks.
func (ch *Channel) setFeatures(d *Device, v uint8) error {
	r := ch.ownRequest()
	r.reset(miniport.FunctionATA, d.target, ch.timeout)
	r.irb.TaskFile.Current = miniport.Registers{
		Features: miniport.SETFEATURES_XFER, Count: v, Command: uint8(miniport.SET_FEATURES),
	}
	if d.typ == miniport.DeviceATA {
		r.irb.Flags = miniport.FlagDRDYRequired
	}
	ch.execInternal(r)
	return completionError(d.name, &r.irb, "SET FEATURES", 0, 0, false, ch.timeout, ch.busyTimeout)
}

// readCapacity sets an ATAPI device's size from its medium's capacity,
// with the port's own request block.
//
// Context: PASSIVE, ch.devMu held; blocks.
func (ch *Channel) readCapacity(d *Device) error {
	sectors, block, err := ch.capacity(d, ch.ownRequest(), true)
	if err != nil {
		return err
	}
	d.sectors.Store(sectors)
	d.sectorSize = block
	return nil
}

// reinitLocked re-identifies and re-programs each device after a channel
// reset (recovery.go):
//
//  1. IDENTIFY (PACKET) DEVICE again, checked against what discovery found
//     (reidentify); a device that does not answer, or answers as another
//     device, is left alone;
//  2. SET FEATURES its PIO and DMA modes again; a device that now refuses
//     its DMA mode moves its data by PIO;
//  3. HwInitialize again;
//  4. for an ATAPI device, TEST UNIT READY until the UNIT ATTENTION the
//     reset raised is consumed.
//
// Context: PASSIVE, ch.devMu held; blocks.
func (ch *Channel) reinitLocked() {
	for _, d := range ch.devices {
		if d == nil {
			continue
		}
		// 1.
		if !ch.reidentify(d) {
			continue
		}
		// 2.
		if set := ch.setModes(d, d.modes); set.DMA() == 0 && d.dma.Swap(false) {
			ch.log("%s: DMA mode refused after the reset; PIO from now on", d.name)
		}
		// 3.
		params := miniport.DeviceParameters{Target: d.target, Type: d.typ, Modes: d.modes, Identify: &d.ident, Name: d.name,
			Multiple: int(d.multiple.Load())}
		ch.record(RoutineInitialize, -1)
		if err := ch.mp.Initialize(&params); err != nil {
			ch.log("%s: HwInitialize after the reset: %v", d.name, err)
		}
		// 4.
		if d.typ == miniport.DeviceATAPI {
			ch.testUnitReady(d)
		}
	}
}

// Reset resets the channel (HwReset with the line masked, between two
// requests), then re-identifies and re-programs the devices.
//
// Context: PASSIVE, IF=1; blocks.
func (ch *Channel) Reset() error {
	kernel.AssertMayBlock("ata: Channel.Reset")
	ch.devMu.Lock()
	defer ch.devMu.Unlock()
	if err := ch.resetLocked(); err != nil {
		return fmt.Errorf("%s: %w", ch.name, err)
	}
	ch.reinitLocked()
	return nil
}
