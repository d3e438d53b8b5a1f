package ata

import (
	"errors"
	"testing"
	"time"

	"github.com/ataport/firmware/miniport"
)

func TestCompletionError(t *testing.T) {
	for _, tc := range []struct {
		irb  miniport.Request
		op   string
		kind error
		want string
	}{
		{miniport.Request{Status: miniport.StatusDeviceError, AtaStatus: 0x51, AtaError: 0x40}, "READ DMA EXT", ErrDevice,
			"ata0.0: READ DMA EXT lba 123456 count 8: device error (status 0x51 DRDY|DSC|ERR, error 0x40 UNC)"},
		{miniport.Request{Status: miniport.StatusDeviceError, AtaStatus: 0x41, AtaError: 0x44}, "WRITE SECTORS", ErrDevice,
			"ata0.0: WRITE SECTORS lba 123456 count 8: device error (status 0x41 DRDY|ERR, error 0x44 UNC|ABRT)"},
		{miniport.Request{Status: miniport.StatusBusy, AtaStatus: 0x80}, "READ DMA", ErrTimeout,
			"ata0.0: READ DMA lba 123456 count 8: timeout (BSY still set after 31s; status 0x80 BSY)"},
		{miniport.Request{Status: miniport.StatusTimeout, AtaStatus: 0xd0, HostStatus: 0x01}, "READ DMA", ErrTimeout,
			"ata0.0: READ DMA lba 123456 count 8: timeout (no completion within 10s; channel reset; status 0xd0 BSY|DRDY|DSC, host status 0x01)"},
		{miniport.Request{Status: miniport.StatusHostBusError, AtaStatus: 0x50, HostStatus: 0x06}, "READ DMA", ErrHostBus,
			"ata0.0: READ DMA lba 123456 count 8: host bus error (bus-master error, host status 0x06; status 0x50 DRDY|DSC)"},
		{miniport.Request{Status: miniport.StatusDataLengthMismatch, AtaStatus: 0x50, Transferred: 512, Data: make([]byte, 4096)}, "READ SECTORS", ErrProtocol,
			"ata0.0: READ SECTORS lba 123456 count 8: protocol error (moved 512 of 4096 bytes; status 0x50 DRDY|DSC)"},
		{miniport.Request{Status: miniport.StatusInvalidRequest}, "READ DMA", ErrInvalid,
			"ata0.0: READ DMA lba 123456 count 8: invalid request (the miniport refused the request)"},
		{miniport.Request{Function: miniport.FunctionATAPI, Status: miniport.StatusDeviceError, AtaStatus: 0x41, AtaError: 0x54}, "PACKET READ(10)", ErrDevice,
			"ata0.0: PACKET READ(10) lba 123456 count 8: device error (status 0x41 DRDY|ERR, error 0x54 sense key 0x5 ILLEGAL REQUEST|ABRT)"},
	} {
		err := completionError("ata0.0", &tc.irb, tc.op, 123456, 8, true, 10*time.Second, 31*time.Second)
		if err == nil || err.Error() != tc.want {
			t.Errorf("got  %v\nwant %s", err, tc.want)
		}
		if !errors.Is(err, tc.kind) {
			t.Errorf("%v is not %v", err, tc.kind)
		}
	}
	if err := completionError("ata0.0", &miniport.Request{Status: miniport.StatusSuccess}, "x", 0, 0, false, 0, 0); err != nil {
		t.Errorf("success: %v", err)
	}
	e := &Error{Device: "ata0.1", Command: "FLUSH CACHE EXT", Kind: ErrTimeout}
	if e.Error() != "ata0.1: FLUSH CACHE EXT: timeout" {
		t.Errorf("%q", e.Error())
	}
}
