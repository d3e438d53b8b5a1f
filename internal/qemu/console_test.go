package qemu

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestConsoleRun(t *testing.T) {
	var typed strings.Builder
	c := &Console{
		Deadline: time.Now().Add(time.Minute),
		in:       &typed,
		r:        bufio.NewReader(strings.NewReader("info\r\ncpus 2\r\nata> ata read 9:0 0\r\nerror: ata read: no device 9:0\r\nata> ")),
	}
	out, err := c.Run("info")
	if err != nil || out != "info\r\ncpus 2\r\nata> " {
		t.Errorf("Run(info) = %q, %v", out, err)
	}
	_, err = c.Run("ata read 9:0 0")
	if want := "ata read 9:0 0: error: ata read: no device 9:0"; err == nil || err.Error() != want {
		t.Errorf("Run(ata read 9:0 0) error = %v, want %q", err, want)
	}
	if typed.String() != "info\rata read 9:0 0\r" {
		t.Errorf("typed %q", typed.String())
	}
	if _, err := c.Run("halt"); err == nil || !strings.Contains(err.Error(), "halt: QEMU: EOF") {
		t.Errorf("Run after the output ended: error %v, want halt: QEMU: EOF", err)
	}
}

func TestConsoleDeadline(t *testing.T) {
	c := &Console{Deadline: time.Now().Add(-time.Second), in: &strings.Builder{}, r: bufio.NewReader(strings.NewReader("ata> "))}
	if _, err := c.Until(Prompt); err == nil || err.Error() != "timed out waiting for the firmware" {
		t.Errorf("Until past the deadline: error %v", err)
	}
}
