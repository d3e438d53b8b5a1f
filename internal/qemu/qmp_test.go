package qemu

import (
	"bufio"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestQMP runs the client against a fake QEMU: it negotiates, skips an
// event ahead of the answer, and reports a refused command with QEMU's
// words.
func TestQMP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "qmp.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 8)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(`{"QMP": {"version": {}, "capabilities": []}}` + "\r\n"))
			s := bufio.NewScanner(c)
			for s.Scan() {
				var req struct {
					Execute   string         `json:"execute"`
					Arguments map[string]any `json:"arguments"`
				}
				json.Unmarshal(s.Bytes(), &req)
				got <- req.Execute + " " + strings.TrimSpace(s.Text())
				switch req.Execute {
				case "qmp_capabilities":
					c.Write([]byte(`{"return": {}}` + "\r\n"))
				case "eject":
					c.Write([]byte(`{"event": "DEVICE_TRAY_MOVED", "data": {}}` + "\r\n" + `{"return": {}}` + "\r\n"))
				default:
					c.Write([]byte(`{"error": {"class": "CommandNotFound", "desc": "The command ` + req.Execute + ` has not been found"}}` + "\r\n"))
				}
			}
			c.Close()
		}
	}()
	if err := qmp(path, "eject", map[string]any{"id": "cd", "force": true}); err != nil {
		t.Errorf("eject: %v", err)
	}
	if c, e := <-got, <-got; !strings.HasPrefix(c, "qmp_capabilities ") || e != `eject {"arguments":{"force":true,"id":"cd"},"execute":"eject"}` {
		t.Errorf("sent %q then %q", c, e)
	}
	err = qmp(path, "frobnicate", nil)
	if want := "QMP frobnicate: CommandNotFound: The command frobnicate has not been found"; err == nil || err.Error() != want {
		t.Errorf("refused command: %v, want %q", err, want)
	}
	if err := qmp(filepath.Join(t.TempDir(), "none.sock"), "eject", nil); err == nil || !strings.HasPrefix(err.Error(), "QMP eject: ") {
		t.Errorf("no socket: %v", err)
	}
}
