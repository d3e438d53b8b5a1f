package ata

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ataport/firmware/miniport"
)

// Kinds of failure (libata's AC_ERR_* classes). Every error the block API
// returns is an *Error wrapping exactly one of them, so callers test with
// errors.Is.
var (
	ErrDevice   = errors.New("device error")   // the device reported ERR or DF
	ErrTimeout  = errors.New("timeout")        // no completion, a device stuck in BSY, or nothing answering
	ErrHostBus  = errors.New("host bus error") // the controller reported a bus-master error, or a reset aborted the request
	ErrProtocol = errors.New("protocol error") // the device moved more or less data than the command asked
	ErrInvalid  = errors.New("invalid request")
	ErrReadOnly = errors.New("read-only")
	ErrRange    = errors.New("out of range")
	ErrNoMedium = errors.New("no medium") // an ATAPI device's sense: NOT READY, MEDIUM NOT PRESENT
)

// Error is a failed request, in one line naming the device, the command
// and its LBA range, and the failing sector when the device names one:
//
//	ata0.0: READ DMA EXT lba 123456 count 8: device error (status 0x51 DRDY|DSC|ERR, error 0x40 UNC; failing lba 123459)
type Error struct {
	Device  string // "ata0.0"
	Command string // "READ DMA EXT", "PACKET READ(10)", or the operation refused: "write"
	LBA     uint64
	Count   int  // sectors; with LBA, printed when HasLBA
	HasLBA  bool // the command addresses sectors
	Kind    error
	Detail  string // the registers, or the reason

	// The request's completion, for callers that look deeper.
	Status    miniport.Status
	AtaStatus uint8
	AtaError  uint8

	// FailedLBA is the first failing sector the device reported in its
	// error outputs, when HasFailedLBA: only for a device error within
	// the command's range.
	FailedLBA    uint64
	HasFailedLBA bool

	// Retries is how often the block API tried the command again before
	// giving up with this error.
	Retries int

	// Packet is set for a PACKET command: AtaError's bits 7:4 are then
	// its sense key, and Sense, when HasSense, what REQUEST SENSE read
	// after it (sense.go).
	Packet   bool
	Sense    Sense
	HasSense bool
}

// Error returns the one-line message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Device)
	b.WriteString(": ")
	b.WriteString(e.Command)
	if e.HasLBA {
		b.WriteString(" lba ")
		b.WriteString(strconv.FormatUint(e.LBA, 10))
		b.WriteString(" count ")
		b.WriteString(strconv.Itoa(e.Count))
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the kind, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }

func hex8(v uint8) string {
	return "0x" + strconv.FormatUint(uint64(v)|0x100, 16)[1:]
}

// registers describes STATUS and ERROR: "status 0x51 DRDY|DSC|ERR, error
// 0x40 UNC"; ERROR only when STATUS shows ERR, decoded as a sense key for
// a PACKET command.
func registers(st, er uint8, packet bool) string {
	s := "status " + hex8(st) + " " + miniport.StatusString(st)
	if st&miniport.ERR != 0 {
		s += ", error " + hex8(er) + " "
		if packet {
			s += miniport.PacketErrorString(er)
		} else {
			s += miniport.ErrorString(er)
		}
	}
	return s
}

// completionError turns a completed request into nil or an *Error
// (STYLE.md 5: the status becomes a Go error only at the block API). op
// names the command, what the LBA range it addressed; timeout and busy are
// the limits the port applied.
func completionError(dev string, irb *miniport.Request, op string, lba uint64, count int, hasLBA bool,
	timeout, busy time.Duration) error {
	if irb.Status == miniport.StatusSuccess {
		return nil
	}
	e := &Error{
		Device: dev, Command: op, LBA: lba, Count: count, HasLBA: hasLBA,
		Status: irb.Status, AtaStatus: irb.AtaStatus, AtaError: irb.AtaError,
	}
	packet := irb.Function == miniport.FunctionATAPI
	e.Packet = packet
	regs := registers(irb.AtaStatus, irb.AtaError, packet)
	switch irb.Status {
	case miniport.StatusDeviceError:
		e.Kind, e.Detail = ErrDevice, regs
		if at, ok := irb.ErrorLBA(); ok && hasLBA && at >= lba && at-lba < uint64(count) {
			e.FailedLBA, e.HasFailedLBA = at, true
			e.Detail += "; failing lba " + strconv.FormatUint(at, 10)
		}
	case miniport.StatusTimeout:
		e.Kind = ErrTimeout
		e.Detail = "no completion within " + timeout.String() + "; channel reset; " + regs
		if irb.HostStatus != 0 {
			e.Detail += ", host status " + hex8(irb.HostStatus)
		}
	case miniport.StatusBusy:
		e.Kind, e.Detail = ErrTimeout, "BSY still set after "+busy.String()+"; "+regs
	case miniport.StatusSelectionTimeout:
		e.Kind, e.Detail = ErrTimeout, "no device answers; "+regs
	case miniport.StatusDataLengthMismatch:
		e.Kind = ErrProtocol
		if irb.Flags&miniport.FlagDMA != 0 {
			// The bus master does not count what it moved; its status
			// tells which side stopped first.
			e.Detail = "DMA of " + strconv.Itoa(len(irb.Data)) + " bytes ended with the device and the PRD table out of step, host status " +
				hex8(irb.HostStatus) + "; " + regs
		} else {
			e.Detail = "moved " + strconv.Itoa(irb.Transferred) + " of " + strconv.Itoa(len(irb.Data)) + " bytes; " + regs
		}
		if irb.AtaStatus&miniport.DRQ != 0 {
			e.Detail += "; DRQ still set: the device has more data than asked for"
		}
	case miniport.StatusHostBusError:
		e.Kind, e.Detail = ErrHostBus, "bus-master error, host status "+hex8(irb.HostStatus)+"; "+regs
	case miniport.StatusBusReset:
		e.Kind, e.Detail = ErrHostBus, "aborted by a channel reset"
	case miniport.StatusInvalidRequest:
		e.Kind, e.Detail = ErrInvalid, "the miniport refused the request"
	default:
		e.Kind, e.Detail = ErrProtocol, "request ended in state "+irb.Status.String()
	}
	return e
}
