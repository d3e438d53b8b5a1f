package ahci

// Error recovery of a port (AHCI 1.3.1 §6 "Error and Recovery"): the
// timer routine the ISR arms on a fatal error, the synchronized routine
// that stops the port, reads the NCQ error log or resets the link, and
// restarts it, and the port's HwReset.

import (
	"encoding/binary"
	"math/bits"

	"github.com/ataport/firmware/kernel"
	"github.com/ataport/firmware/miniport"
)

// recover is the timer routine the ISR arms on a fatal error: it runs
// recoverSync with the interrupt masked.
//
// Context: DISPATCH, IF=1, line unmasked, no lock held; does not block or
// allocate.
func (c *Channel) recover() {
	kernel.AssertLevel("ahci.recover", kernel.DISPATCH, kernel.DISPATCH)
	c.port.RequestSynchronizedRoutine(c.recoverSyncFn, nil)
}

// recoverSync recovers the port from the fatal error the ISR found
// (§6.2.2.1 "Non-queued error recovery", §6.2.2.2 "Native Command Queuing
// error recovery"):
//
//  1. the failing non-queued command is the one in PxCMD.CCS; PxTFD holds
//     its STATUS and ERROR, the D2H FIS at RFIS its task file (kept before
//     a COMRESET replaces it with the device's signature); PxCI and PxSACT
//     tell which commands finished before the error (read before step 2:
//     clearing ST clears both, §3.3.13, §3.3.14);
//  2. stop the command list and clear the errors (stop);
//  3. after a task file error of a queued command, with the device not
//     busy: set PxCMD.ST and read the NCQ Command Error log (readNCQLog),
//     which names the failing tag and its STATUS, ERROR and LBA, and
//     leaves the device ready for new commands (SATA 2.6 §13.6.3.3: it
//     accepts none until the log is read or it is reset);
//  4. COMRESET the device (§10.4.2) when it still shows BSY or DRQ, and
//     on a device that queues whenever the log was not read: after an
//     error of a queued command, the device takes no new command until
//     the log is read or it is reset, and its log could not be read (it
//     aborts READ LOG EXT, as QEMU 7.2 does: its IDE model has no READ
//     LOG EXT, hw/ide/core.c ide_cmd_table, so the command ends with ERR
//     and ABRT; or its page names no tag); after any error QEMU 7.2 keeps
//     the failed command's STATUS and ERROR in its IDE state and reports
//     them again in the D2H FIS it writes when it takes the next NCQ
//     command and in the SDB FIS of NCQ completions (hw/ide/ahci.c
//     process_ncq_command, ahci_write_fis_sdb), which would fail a good
//     command; only its ahci_reset_port clears that state;
//  5. set PxCMD.ST again (when step 3 has not);
//  6. complete the slots that finished before the error with success,
//     then the failing request with the error: for a non-queued command
//     (TFES: StatusDeviceError with STATUS, ERROR and the task file of the
//     D2H FIS, whose LBA names the failing sector; HBFS/HBDS:
//     StatusHostBusError; IFS or OFS: StatusDataLengthMismatch when the
//     data overflowed, StatusBusReset otherwise); for queued commands with
//     the log read, the tag it names with StatusDeviceError and the log's
//     STATUS, ERROR and LBA; without the log, every queued command not
//     finished with StatusBusReset, which the port tries again
//     non-queued, one command at a time, so that the failing one fails
//     alone with its LBA;
//  7. issue the others again, queued ones in PxSACT first: their command
//     headers are still in the command list (§6.2.2.1: "software may
//     reissue"; after an NCQ error the device aborted every outstanding
//     queued command, §6.2.2.2).
//
// It reports whether there was anything to recover (a HwReset in between
// may have done it).
//
// Context: synchronized routine: the channel's DIRQL, IF=1, line masked,
// channel interrupt lock held; does not block or allocate; stalls at most
// about 4.6 s (stop 0.5 s twice, the log 0.1 s, COMRESET 2 s, the
// device ready 1 s, at the limits the device would have to reach all
// together).
func (c *Channel) recoverSync(*miniport.Request) bool {
	c.assertSynchronized("ahci.recoverSync")
	is := c.fatal
	if is == 0 {
		return false
	}
	r, b := c.regs, c.base
	// 1.
	ccs := int(r.Read32(b+PxCMD) >> PxCMD_CCS & 0x1f)
	tfd := r.Read32(b + PxTFD)
	ci := r.Read32(b + PxCI)
	sact := r.Read32(b + PxSACT)
	var d2h [RFISLength]byte
	copy(d2h[:], c.rfis.Buf[RFIS:])
	// 2.
	c.stop()
	// 3.
	busy := r.Read32(b+PxTFD)&(miniport.BSY|miniport.DRQ) != 0
	guilty, logged := -1, false
	if c.queued != 0 && is&(1<<PxIS_TFES) != 0 && !busy && c.start(readyTimeout) == nil {
		guilty, logged = c.readNCQLog()
		if logged && c.queued&(ci|sact)&(1<<guilty) == 0 {
			logged = false // the log names a command that is not outstanding
		}
		if !logged {
			c.stop()
		}
	}
	// 4.
	if busy || c.dev.ncqDepth > 0 && !logged {
		c.comreset()
	}
	// 5.
	if !logged {
		c.start(readyTimeout)
	}
	c.fatal = 0
	// 6.
	outstanding := c.issued & ci
	c.completeDone(ci | sact)
	switch {
	case logged:
		req := c.slot[guilty]
		readD2H(c.log.Buf[logData:], &req.TaskFile)
		req.TaskFileReturned = true
		req.AtaStatus, req.AtaError = c.log.Buf[logData+NCQLOG_STATUS], c.log.Buf[logData+NCQLOG_ERROR]
		req.Status = miniport.StatusDeviceError
		req.HostStatus = uint8(is >> 24)
		c.finish(guilty, req)
	case c.queued != 0:
		for q := c.queued; q != 0; {
			s := bits.TrailingZeros32(q)
			q &^= 1 << s
			req := c.slot[s]
			req.AtaStatus, req.AtaError = uint8(tfd>>PxTFD_STS), uint8(tfd>>PxTFD_ERR)
			req.Status = miniport.StatusBusReset
			req.HostStatus = uint8(is >> 24)
			c.finish(s, req)
		}
	case outstanding != 0:
		guilty = bits.TrailingZeros32(outstanding)
		if outstanding&(1<<ccs) != 0 {
			guilty = ccs
		}
		req := c.slot[guilty]
		req.AtaStatus, req.AtaError = uint8(tfd>>PxTFD_STS), uint8(tfd>>PxTFD_ERR)
		switch {
		case is&(1<<PxIS_HBFS|1<<PxIS_HBDS) != 0:
			req.Status = miniport.StatusHostBusError
		case is&(1<<PxIS_TFES) != 0:
			req.Status = miniport.StatusDeviceError
		case is&(1<<PxIS_OFS) != 0:
			req.Status = miniport.StatusDataLengthMismatch
		default:
			req.Status = miniport.StatusBusReset
		}
		req.HostStatus = uint8(is >> 24) // PxIS 31:24: CPDS TFES HBFS HBDS IFS INFS - OFS
		if req.Status == miniport.StatusDeviceError && req.Function == miniport.FunctionATA {
			readD2H(d2h[:], &req.TaskFile)
			req.TaskFileReturned = true
		}
		c.finish(guilty, req)
	}
	// 7.
	if again := c.issued; again != 0 {
		for s := 0; s < 32; s++ {
			if again&(1<<s) != 0 {
				binary.LittleEndian.PutUint32(c.clb.Buf[s*cmdHeaderSize+4:], 0)
			}
		}
		if c.queued != 0 {
			r.Write32(b+PxSACT, c.queued)
		}
		r.Write32(b+PxCI, again)
	}
	return true
}

// stop stops the command list and clears the port's errors (§6.2.2.1
// steps 1-3): clear PxCMD.ST, wait for PxCMD.CR to clear, then clear
// PxSERR, PxIS and the port's bit in IS.
//
// Context: the channel's DIRQL with the interrupt masked and its lock
// held; does not block or allocate; stalls at most stopTimeout.
func (c *Channel) stop() {
	r, b := c.regs, c.base
	r.Write32(b+PxCMD, r.Read32(b+PxCMD)&^(1<<PxCMD_ST))
	waitFor(c.stall, stopTimeout, func() bool { return r.Read32(b+PxCMD)&(1<<PxCMD_CR) == 0 })
	r.Write32(b+PxSERR, 0xffffffff)
	r.Write32(b+PxIS, 0xffffffff)
	r.Write32(IS, 1<<c.p)
}

// readNCQLog reads the NCQ Command Error log (log address 10h, SATA 2.6
// §13.6.3.3) with READ LOG EXT, on a started port with nothing issued,
// and returns the tag it names. It reports false when the device aborts
// the command, does not finish it within logTimeout, moves fewer than 512
// bytes, or returns a page that names no tag (ncqLogTag).
//
//  1. write the command table in the channel's log buffer: the Register
//     H2D FIS of READ LOG EXT (LBA Low 10h, COUNT 1, page 0), one PRD
//     entry for the page;
//  2. put it in a slot no request holds, or, with all 32 held, in slot 0
//     with that slot's header saved: the recovery has stopped the command
//     list, so no slot is in use by the HBA, and the header comes back
//     before step 7 of recoverSync issues the slot again;
//  3. set the slot in PxCI and poll, the interrupt being masked: done when
//     the slot leaves PxCI, failed on a fatal PxIS bit (the HBA keeps the
//     slot in PxCI after TFES, §5.3.13.1 "ERR:FatalTaskfile");
//  4. clear PxIS and IS, which the command set with the interrupt masked,
//     so that the pending-interrupt check after the masked section finds
//     nothing of it.
//
// Context: the channel's DIRQL with the interrupt masked and its lock
// held; does not block or allocate; stalls at most logTimeout.
func (c *Channel) readNCQLog() (int, bool) {
	r, b := c.regs, c.base
	le := binary.LittleEndian
	// 1.
	var tf miniport.TaskFile
	tf.Current = miniport.Registers{Command: uint8(miniport.READ_LOG_EXT), Count: 1, LBALow: LOG_NCQ_COMMAND_ERROR}
	ct := c.log.Buf
	buildH2D(ct[CFIS:], &tf)
	page := ct[logData : logData+logPageSize]
	clear(page)
	if _, err := fillPRD(ct[PRDT:logData], []miniport.Segment{{Addr: c.log.Addr + logData, Length: logPageSize}}, c.s64a); err != nil {
		return 0, false
	}
	// 2.
	s := 0
	if free := c.mask &^ c.issued; free != 0 {
		s = bits.TrailingZeros32(free)
	}
	h := c.clb.Buf[s*cmdHeaderSize : (s+1)*cmdHeaderSize]
	var saved [cmdHeaderSize]byte
	copy(saved[:], h)
	le.PutUint32(h[0:], fisH2DLength/4<<HDR_CFL|1<<HDR_PRDTL)
	le.PutUint32(h[4:], 0)
	le.PutUint32(h[8:], uint32(c.log.Addr))
	le.PutUint32(h[12:], uint32(c.log.Addr>>32))
	clear(h[16:])
	// 3.
	r.Write32(b+PxCI, 1<<s)
	done := waitFor(c.stall, logTimeout, func() bool {
		return r.Read32(b+PxCI)&(1<<s) == 0 || r.Read32(b+PxIS)&(pxisFatal|1<<PxIS_OFS) != 0
	})
	ok := done && r.Read32(b+PxIS)&(pxisFatal|1<<PxIS_OFS) == 0 && r.Read32(b+PxCI)&(1<<s) == 0 &&
		le.Uint32(h[4:]) == logPageSize
	copy(h, saved[:])
	// 4.
	r.Write32(b+PxIS, 0xffffffff)
	r.Write32(IS, 1<<c.p)
	if !ok {
		return 0, false
	}
	return ncqLogTag(page)
}

// comreset resets the link and the device (§10.4.2 "Port Reset"): with
// PxCMD.ST clear, PxSCTL.DET = 1 for at least 1 ms, then 0; wait for the
// link to settle (settle: PxSSTS.DET = 3 at once, no device after 100 ms),
// clear PxSERR, and restore PxIE (QEMU 7.2 clears it on a COMRESET, which
// the specification does not ask for).
//
// Context: the channel's DIRQL with the interrupt masked and the lock
// held, or PASSIVE; does not block or allocate; stalls at most about 2 s.
func (c *Channel) comreset() {
	r, b := c.regs, c.base
	sctl := r.Read32(b+PxSCTL)&^(0xf<<PxSCTL_DET|0xf<<PxSCTL_IPM) | sctlIPMNone<<PxSCTL_IPM
	r.Write32(b+PxSCTL, sctl|sctlDETComreset<<PxSCTL_DET)
	c.stall(comresetHold)
	r.Write32(b+PxSCTL, sctl)
	c.ctl.settle(1 << c.p)
	c.linkUp()
	r.Write32(b+PxSERR, 0xffffffff)
	r.Write32(b+PxIE, c.ie)
}

// Reset resets the port and its device and forgets every issued slot
// (IdeHwReset); the port completes the requests that were in flight. Steps
// (libahci ahci_do_hardreset):
//
//  1. record PxTFD's STATUS and ERROR into the requests in flight;
//  2. stop the command list (PxCMD.ST, wait for CR);
//  3. COMRESET;
//  4. clear PxIS and the port's bit in IS;
//  5. start the command list again once the device is ready.
//
// It reports false when the port would not stop or the device stays
// busy.
//
// Context: the channel's DIRQL, IF=1, line masked, channel interrupt lock
// held; does not block or allocate; stalls at most about 3.5 s (stop
// 0.5 s, COMRESET 2 s, the device ready 1 s).
func (c *Channel) Reset() bool {
	c.assertSynchronized("ahci.Reset")
	r, b := c.regs, c.base
	// 1.
	tfd := r.Read32(b + PxTFD)
	for s := 0; s < 32; s++ {
		if req := c.slot[s]; req != nil {
			req.AtaStatus, req.AtaError = uint8(tfd>>PxTFD_STS), uint8(tfd>>PxTFD_ERR)
			req.Transferred = int(binary.LittleEndian.Uint32(c.clb.Buf[s*cmdHeaderSize+4:]))
			c.slot[s] = nil
		}
	}
	c.issued, c.queued, c.fatal = 0, 0, 0
	// 2.
	r.Write32(b+PxCMD, r.Read32(b+PxCMD)&^(1<<PxCMD_ST))
	stopped := waitFor(c.stall, stopTimeout, func() bool { return r.Read32(b+PxCMD)&(1<<PxCMD_CR) == 0 })
	// 3.
	c.comreset()
	// 4.
	r.Write32(b+PxIS, 0xffffffff)
	r.Write32(IS, 1<<c.p)
	// 5.
	return c.start(readyTimeout) == nil && stopped
}
