package qemu

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Console is the firmware's serial console for the host tools (make
// bench, make trace), which run QEMU themselves rather than under a test.
type Console struct {
	// Started is when QEMU was started.
	Started  time.Time
	Deadline time.Time
	// Echo, when set, gets every byte read.
	Echo io.Writer

	cmd *exec.Cmd
	in  io.Writer
	r   *bufio.Reader
}

// Launch starts qemu-system-x86_64 with args, the firmware's console on
// its standard input and output (echoed to os.Stderr) and QEMU's own
// messages on os.Stderr. Reads fail once deadline has passed.
func Launch(args []string, deadline time.Time) (*Console, error) {
	cmd := exec.Command("qemu-system-x86_64", args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	c := &Console{Started: time.Now(), Deadline: deadline, Echo: os.Stderr, cmd: cmd, in: in, r: bufio.NewReader(out)}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// Until returns what the firmware printed up to and including s, or what
// it printed before the deadline passed or QEMU's output ended.
func (c *Console) Until(s string) (string, error) {
	var b strings.Builder
	for !strings.HasSuffix(b.String(), s) {
		if time.Now().After(c.Deadline) {
			return b.String(), errors.New("timed out waiting for the firmware")
		}
		ch, err := c.r.ReadByte()
		if err != nil {
			return b.String(), fmt.Errorf("QEMU: %w", err)
		}
		b.WriteByte(ch)
		if c.Echo != nil {
			c.Echo.Write([]byte{ch})
		}
	}
	return b.String(), nil
}

// Run types the shell command cmd and returns what it printed up to the
// next prompt; an error names cmd and carries the first line of the
// firmware's "error: " when it printed one.
func (c *Console) Run(cmd string) (string, error) {
	if _, err := io.WriteString(c.in, cmd+"\r"); err != nil {
		return "", err
	}
	out, err := c.Until(Prompt)
	if err != nil {
		return out, fmt.Errorf("%s: %w", cmd, err)
	}
	if i := strings.Index(out, "error: "); i >= 0 {
		return out, fmt.Errorf("%s: %s", cmd, strings.TrimSpace(strings.SplitN(out[i:], "\n", 2)[0]))
	}
	return out, nil
}

// Halt powers the machine off from the shell and waits for QEMU to exit.
func (c *Console) Halt() {
	io.WriteString(c.in, "halt\r")
	c.cmd.Wait()
}

// Kill ends QEMU if it still runs.
func (c *Console) Kill() { c.cmd.Process.Kill() }
