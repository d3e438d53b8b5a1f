//go:build !tamago

package main

// A minimal NBD server (the protocol of github.com/NetworkBlockDevice/nbd,
// doc/proto.md: fixed newstyle handshake, NBD_OPT_GO, simple replies) that
// serves a disk image from memory to QEMU's NBD client and holds chosen
// reads until the test releases them. It stands in for blkdebug's `break`
// where QEMU must reset the device holding the request: QEMU 7.2's AHCI
// port reset (ahci_reset_port) cancels the device's requests with
// blk_aio_cancel, which waits for them in the vCPU thread holding the big
// lock, so a request held by blkdebug, which only the monitor resumes,
// hangs QEMU, monitor included. A read held here is released by the test
// itself once QEMU has printed that it resets the port.

import (
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// NBD protocol constants (doc/proto.md).
const (
	nbdMagic         = 0x4e42444d41474943 // "NBDMAGIC"
	nbdOptMagic      = 0x49484156454f5054 // "IHAVEOPT"
	nbdRepMagic      = 0x3e889045565a9
	nbdRequestMagic  = 0x25609513
	nbdReplyMagic    = 0x67446698
	nbdFlagFixed     = 1 << 0 // NBD_FLAG_FIXED_NEWSTYLE
	nbdFlagNoZeroes  = 1 << 1 // NBD_FLAG_NO_ZEROES
	nbdOptExportName = 1
	nbdOptAbort      = 2
	nbdOptGo         = 7
	nbdRepAck        = 1
	nbdRepInfo       = 3
	nbdRepErrUnsup   = 1<<31 + 1
	nbdInfoExport    = 0
	nbdFlagHasFlags  = 1 << 0
	nbdFlagSendFlush = 1 << 2
	nbdCmdRead       = 0
	nbdCmdWrite      = 1
	nbdCmdDisc       = 2
	nbdCmdFlush      = 3
	nbdErrInvalid    = 22 // EINVAL
)

// nbdServer serves disk on a unix socket to one client at a time.
type nbdServer struct {
	t    *testing.T
	path string
	mu   sync.Mutex
	disk []byte
	hold int           // reads still to hold
	held chan struct{} // a read is held (one send per held read)
	rel  chan struct{} // releases one held read
}

// startNBD serves disk (which the server owns from now on) at a socket in
// a fresh directory and returns the server; its Path goes to QEMU as
// nbd+unix:///?socket=PATH.
func startNBD(t *testing.T, disk []byte) *nbdServer {
	s := &nbdServer{t: t, path: filepath.Join(t.TempDir(), "nbd.sock"), disk: disk,
		held: make(chan struct{}, 16), rel: make(chan struct{}, 16)}
	l, err := net.Listen("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

// holdReads has the next n reads held until release.
func (s *nbdServer) holdReads(n int) {
	s.mu.Lock()
	s.hold += n
	s.mu.Unlock()
}

// release lets one held read (the oldest) complete.
func (s *nbdServer) release() { s.rel <- struct{}{} }

// serve runs the handshake and then the transmission phase on c; replies
// may go out of order (each carries its request's handle), so a held read
// holds nothing else.
func (s *nbdServer) serve(c net.Conn) {
	defer c.Close()
	be := binary.BigEndian
	var wmu sync.Mutex
	write := func(b []byte) bool {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := c.Write(b)
		return err == nil
	}
	hs := make([]byte, 18)
	be.PutUint64(hs, nbdMagic)
	be.PutUint64(hs[8:], nbdOptMagic)
	be.PutUint16(hs[16:], nbdFlagFixed|nbdFlagNoZeroes)
	if !write(hs) {
		return
	}
	var clientFlags [4]byte
	if _, err := io.ReadFull(c, clientFlags[:]); err != nil {
		return
	}
	optReply := func(opt, typ uint32, data []byte) bool {
		b := make([]byte, 20+len(data))
		be.PutUint64(b, nbdRepMagic)
		be.PutUint32(b[8:], opt)
		be.PutUint32(b[12:], typ)
		be.PutUint32(b[16:], uint32(len(data)))
		copy(b[20:], data)
		return write(b)
	}
	for {
		var h [16]byte
		if _, err := io.ReadFull(c, h[:]); err != nil || be.Uint64(h[:]) != nbdOptMagic {
			return
		}
		opt, n := be.Uint32(h[8:]), be.Uint32(h[12:])
		if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
			return
		}
		if opt == nbdOptAbort || opt == nbdOptExportName {
			return
		}
		if opt != nbdOptGo {
			if !optReply(opt, nbdRepErrUnsup, nil) {
				return
			}
			continue
		}
		info := make([]byte, 12)
		be.PutUint16(info, nbdInfoExport)
		be.PutUint64(info[2:], uint64(len(s.disk)))
		be.PutUint16(info[10:], nbdFlagHasFlags|nbdFlagSendFlush)
		if !optReply(opt, nbdRepInfo, info) || !optReply(opt, nbdRepAck, nil) {
			return
		}
		break
	}
	reply := func(handle []byte, errno uint32, data []byte) bool {
		b := make([]byte, 16+len(data))
		be.PutUint32(b, nbdReplyMagic)
		be.PutUint32(b[4:], errno)
		copy(b[8:16], handle)
		copy(b[16:], data)
		return write(b)
	}
	for {
		var r [28]byte
		if _, err := io.ReadFull(c, r[:]); err != nil || be.Uint32(r[:]) != nbdRequestMagic {
			return
		}
		typ, handle, off, n := be.Uint16(r[6:]), append([]byte(nil), r[8:16]...), be.Uint64(r[16:]), uint64(be.Uint32(r[24:]))
		inRange := off+n <= uint64(len(s.disk))
		switch typ {
		case nbdCmdRead:
			s.mu.Lock()
			hold := s.hold > 0
			if hold {
				s.hold--
			}
			s.mu.Unlock()
			go func() {
				if hold {
					s.held <- struct{}{}
					<-s.rel
				}
				if !inRange {
					reply(handle, nbdErrInvalid, nil)
					return
				}
				s.mu.Lock()
				data := append([]byte(nil), s.disk[off:off+n]...)
				s.mu.Unlock()
				reply(handle, 0, data)
			}()
		case nbdCmdWrite:
			data := make([]byte, n)
			if _, err := io.ReadFull(c, data); err != nil {
				return
			}
			if !inRange {
				reply(handle, nbdErrInvalid, nil)
				continue
			}
			s.mu.Lock()
			copy(s.disk[off:], data)
			s.mu.Unlock()
			reply(handle, 0, nil)
		case nbdCmdFlush:
			reply(handle, 0, nil)
		case nbdCmdDisc:
			return
		default:
			reply(handle, nbdErrInvalid, nil)
		}
	}
}
