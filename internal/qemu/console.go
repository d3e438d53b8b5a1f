package qemu

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Console reads the firmware's serial console for the host tools (make
// bench, make trace), which run QEMU themselves rather than under a test.
type Console struct {
	R        *bufio.Reader
	Deadline time.Time
	// Echo, when set, gets every byte read.
	Echo io.Writer
}

// Until returns what the firmware printed up to and including s, or what
// it printed before the deadline passed or QEMU's output ended.
func (c *Console) Until(s string) (string, error) {
	var b strings.Builder
	for !strings.HasSuffix(b.String(), s) {
		if time.Now().After(c.Deadline) {
			return b.String(), errors.New("timed out waiting for the firmware")
		}
		ch, err := c.R.ReadByte()
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
