package qemu

import (
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmpTimeout bounds one QMP exchange, from the connection to the answer.
const qmpTimeout = 10 * time.Second

// QMP runs one command of the QEMU Machine Protocol on the machine, which
// Options.QMP must have given a socket: what a user does at QEMU's monitor,
// as changing a CD ("blockdev-change-medium") or ejecting it ("eject").
// args are the command's arguments (nil for none). A refused command or a
// broken exchange fails the test.
func (m *Machine) QMP(command string, args map[string]any) {
	m.t.Helper()
	if m.qmpPath == "" {
		m.t.Fatalf("QMP %s: the machine was started without Options.QMP", command)
	}
	if err := qmp(m.qmpPath, command, args); err != nil {
		m.t.Fatal(err)
	}
}

// qmpReply is one message from QEMU: a command's answer (return or error)
// or an asynchronous event, which the client skips.
type qmpReply struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string `json:"event"`
}

// qmp connects to the QMP socket at path, leaves capabilities negotiation
// mode (QMP spec, "Capabilities Negotiation") and runs command.
func qmp(path, command string, args map[string]any) error {
	c, err := net.DialTimeout("unix", path, qmpTimeout)
	if err != nil {
		return fmt.Errorf("QMP %s: %w", command, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(qmpTimeout))
	dec, enc := json.NewDecoder(c), json.NewEncoder(c)
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := dec.Decode(&greeting); err != nil || greeting.QMP == nil {
		return fmt.Errorf("QMP %s: no greeting from QEMU (%v)", command, err)
	}
	run := func(cmd string, args map[string]any) error {
		req := map[string]any{"execute": cmd}
		if args != nil {
			req["arguments"] = args
		}
		if err := enc.Encode(req); err != nil {
			return fmt.Errorf("QMP %s: %w", cmd, err)
		}
		for {
			var r qmpReply
			if err := dec.Decode(&r); err != nil {
				return fmt.Errorf("QMP %s: %w", cmd, err)
			}
			switch {
			case r.Event != "":
				continue
			case r.Error != nil:
				return fmt.Errorf("QMP %s: %s: %s", cmd, r.Error.Class, r.Error.Desc)
			case r.Return != nil:
				return nil
			}
			return fmt.Errorf("QMP %s: neither return nor error in the answer", cmd)
		}
	}
	if err := run("qmp_capabilities", nil); err != nil {
		return err
	}
	return run(command, args)
}
