// Package qemu boots the firmware in QEMU for integration tests: it builds
// the ELF and the boot image (or takes FIRMWARE_ELF and FIRMWARE_IMG),
// starts qemu-system-x86_64 with the
// serial console on a pipe, and lets a test type shell commands and wait
// for their output. Every wait is on output, never on a sleep; a wait that
// times out fails the test with the whole serial log attached.
package qemu

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Prompt is the firmware shell's prompt.
const Prompt = "ata> "

// Drive is a disk attached to the machine.
type Drive struct {
	// File is the image path; Format defaults to raw.
	File, Format string
	// Media is "disk" (default) or "cdrom".
	Media string
	// Bus and Unit place the drive on the IDE controller (index = 2*Bus+Unit).
	Bus, Unit int
	// Extra is appended to the -drive option (e.g. "cache=none").
	Extra string
}

// Options describe one machine.
type Options struct {
	Machine string // default "pc"
	CPU     string // default "max"
	Mem     string // default "2G"
	SMP     string // default "2,sockets=1,cores=2"
	Drives  []Drive
	// Args are extra QEMU arguments.
	Args []string
	// NoKernel boots from the first drive instead of -kernel.
	NoKernel bool
	// OVMFVars, when set, is a writable copy of OVMF's variable store
	// (CopyOVMFVars): the machine then boots UEFI firmware, OVMF from
	// Debian's ovmf package, instead of SeaBIOS.
	OVMFVars string
	// OVMFCode is the OVMF build to run with OVMFVars, OVMFCodeFile by
	// default.
	OVMFCode string
	// QMP, when set, is the path of a Unix socket for the QEMU Machine
	// Protocol (Machine.QMP).
	QMP string
	// Emulator, when set, is the QEMU to run instead of the system's
	// qemu-system-x86_64 (X2APICEmulator).
	Emulator *Emulator
}

// Emulator is a QEMU other than the system's: its binary, the environment
// it needs and the arguments that go first.
type Emulator struct {
	Binary string
	Env    []string
	Args   []string
}

// X2APICDirEnv names the variable `make test` sets to the directory where
// it unpacked a QEMU whose TCG emulates the x2APIC (QEMU 8.1 and later;
// Debian 12's QEMU 7.2 does not): Debian's packages from
// bookworm-backports, unpacked, not installed (Makefile, qemu-x2apic).
const X2APICDirEnv = "QEMU_X2APIC_DIR"

// X2APICEmulator returns the QEMU unpacked in $QEMU_X2APIC_DIR, and skips
// the test when the variable is not set. The system's modules are of
// another build, so its own are named (QEMU_MODULE_DIR), and no audio
// backend is probed (it would load one of the system's); its BIOS and
// option ROMs come from its own data directories.
func X2APICEmulator(t testing.TB) *Emulator {
	t.Helper()
	dir := os.Getenv(X2APICDirEnv)
	if dir == "" {
		t.Skipf("%s is not set: `make test` unpacks a QEMU with x2APIC emulation and sets it", X2APICDirEnv)
	}
	bin := filepath.Join(dir, "usr/bin/qemu-system-x86_64")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: %v", X2APICDirEnv, err)
	}
	return &Emulator{
		Binary: bin,
		Env:    []string{"QEMU_MODULE_DIR=" + filepath.Join(dir, "usr/lib/x86_64-linux-gnu/qemu")},
		Args: []string{"-L", filepath.Join(dir, "usr/share/seabios"), "-L", filepath.Join(dir, "usr/share/qemu"),
			"-audio", "none"},
	}
}

// OVMF's firmware volumes in Debian's ovmf package: the code, mapped
// read-only, and variable store templates (4 MiB builds). OVMFCodeFile
// works on pc and q35 without SMM, with OVMFVarsFile (no keys, Secure Boot
// off). The Secure Boot pair needs q35 with SMM and the flash in secure
// mode; its variables enroll Debian's "snakeoil" test certificate
// (SnakeoilCert, its key SnakeoilKey with the password "snakeoil") in PK,
// KEK and db, with Secure Boot on (/usr/share/doc/ovmf/README.Debian).
const (
	OVMFCodeFile           = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	OVMFVarsFile           = "/usr/share/OVMF/OVMF_VARS_4M.fd"
	OVMFSecureBootCodeFile = "/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd"
	OVMFSecureBootVarsFile = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"
	SnakeoilCert           = "/usr/share/ovmf/PkKek-1-snakeoil.pem"
	SnakeoilKey            = "/usr/share/ovmf/PkKek-1-snakeoil.key"
)

// CopyOVMFVars copies the OVMF variable store template (OVMFVarsFile or
// OVMFSecureBootVarsFile) into dir, so that each machine starts with fresh
// variables (no boot entries) and none writes to the installed file.
func CopyOVMFVars(dir, template string) (string, error) {
	b, err := os.ReadFile(template)
	if err != nil {
		return "", fmt.Errorf("OVMF (Debian package ovmf): %w", err)
	}
	path := filepath.Join(dir, "OVMF_VARS.fd")
	return path, os.WriteFile(path, b, 0o644)
}

// Machine is a running QEMU.
type Machine struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser

	qmpPath string

	mu     sync.Mutex
	cond   *sync.Cond
	out    bytes.Buffer
	mark   int
	exited bool
	err    error

	// Started is when QEMU was started.
	Started time.Time
}

// artifact is a file of build/ the tests need: the one its environment
// variable names, or the one `make target` writes, made once per test
// binary.
type artifact struct {
	env, target, file string

	once sync.Once
	path string
	err  error
}

var (
	firmwareELF = &artifact{env: "FIRMWARE_ELF", target: "firmware", file: "firmware.elf"}
	firmwareIMG = &artifact{env: "FIRMWARE_IMG", target: "image", file: "firmware.img"}
)

// get returns the artifact's path, building it the first time unless its
// environment variable names one; a failed build fails every test that
// asks.
func (a *artifact) get(t testing.TB) string {
	t.Helper()
	a.once.Do(func() {
		if p := os.Getenv(a.env); p != "" {
			a.path = p
			return
		}
		out, err := exec.Command("make", "-C", Root(), a.target).CombinedOutput()
		if err != nil {
			a.err = fmt.Errorf("make %s: %v\n%s", a.target, err, out)
			return
		}
		a.path = filepath.Join(Root(), "build", a.file)
	})
	if a.err != nil {
		t.Fatal(a.err)
	}
	return a.path
}

// Root returns the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Firmware returns the firmware ELF, building it with make unless
// FIRMWARE_ELF names one.
func Firmware(t testing.TB) string {
	t.Helper()
	return firmwareELF.get(t)
}

// Image returns the boot disk image (boot/README.md), building it with
// make unless FIRMWARE_IMG names one.
func Image(t testing.TB) string {
	t.Helper()
	return firmwareIMG.get(t)
}

// Command returns the qemu-system-x86_64 arguments for opts.
func Command(elf string, opts Options) []string {
	def := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	args := []string{
		"-accel", "tcg",
		"-cpu", def(opts.CPU, "max"),
		"-machine", def(opts.Machine, "pc"),
		"-m", def(opts.Mem, "2G"),
		"-smp", def(opts.SMP, "2,sockets=1,cores=2"),
		"-display", "none", "-monitor", "none", "-serial", "stdio",
		"-no-reboot",
	}
	if !opts.NoKernel {
		args = append(args, "-kernel", elf)
	}
	if opts.OVMFVars != "" {
		// No NIC: OVMF would load its network boot drivers and offer
		// PXE and HTTP boot entries, which only cost time here.
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+def(opts.OVMFCode, OVMFCodeFile),
			"-drive", "if=pflash,format=raw,unit=1,file="+opts.OVMFVars,
			"-net", "none")
	}
	for _, d := range opts.Drives {
		spec := "file=" + d.File + ",format=" + def(d.Format, "raw") +
			",if=ide,media=" + def(d.Media, "disk") +
			fmt.Sprintf(",index=%d", 2*d.Bus+d.Unit)
		if d.Extra != "" {
			spec += "," + d.Extra
		}
		args = append(args, "-drive", spec)
	}
	if opts.QMP != "" {
		args = append(args, "-qmp", "unix:"+opts.QMP+",server=on,wait=off")
	}
	return append(args, opts.Args...)
}

// Boot starts QEMU and waits for the shell prompt.
func Boot(t testing.TB, opts Options) *Machine {
	t.Helper()
	m := Start(t, opts)
	m.Expect(regexp.QuoteMeta(Prompt), 60*time.Second)
	return m
}

// Start starts QEMU without waiting for anything.
func Start(t testing.TB, opts Options) *Machine {
	t.Helper()
	elf := Firmware(t)
	m := &Machine{t: t, qmpPath: opts.QMP}
	m.cond = sync.NewCond(&m.mu)
	if e := opts.Emulator; e != nil {
		m.cmd = exec.Command(e.Binary, append(append([]string(nil), e.Args...), Command(elf, opts)...)...)
		m.cmd.Env = append(os.Environ(), e.Env...)
	} else {
		m.cmd = exec.Command("qemu-system-x86_64", Command(elf, opts)...)
	}
	stdin, err := m.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	m.stdin = stdin
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	m.cmd.Stderr = &lockedWriter{m: m}
	m.Started = time.Now()
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("qemu: %v", err)
	}
	go func() {
		io.Copy(&lockedWriter{m: m}, stdout)
		err := m.cmd.Wait()
		m.mu.Lock()
		m.exited, m.err = true, err
		m.cond.Broadcast()
		m.mu.Unlock()
	}()
	t.Cleanup(func() {
		m.Kill()
		if t.Failed() {
			t.Logf("serial log:\n%s", m.Log())
		}
	})
	return m
}

type lockedWriter struct{ m *Machine }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	w.m.out.Write(p)
	w.m.cond.Broadcast()
	return len(p), nil
}

// Log returns everything QEMU printed so far.
func (m *Machine) Log() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.String()
}

// Expect waits until the output after the last match contains re and
// returns the text from the last match up to and including this one.
func (m *Machine) Expect(re string, timeout time.Duration) string {
	m.t.Helper()
	out, err := m.ExpectErr(re, timeout)
	if err != nil {
		m.t.Fatalf("%v\nserial log:\n%s", err, m.Log())
	}
	return out
}

// ExpectErr is Expect returning an error instead of failing the test.
func (m *Machine) ExpectErr(re string, timeout time.Duration) (string, error) {
	rx := regexp.MustCompile(re)
	var loc []int
	m.mu.Lock()
	defer m.mu.Unlock()
	m.await(timeout, func() bool {
		loc = rx.FindIndex(m.out.Bytes()[m.mark:])
		return loc != nil || m.exited
	})
	switch {
	case loc != nil:
		out := string(m.out.Bytes()[m.mark : m.mark+loc[1]])
		m.mark += loc[1]
		return out, nil
	case m.exited:
		return "", fmt.Errorf("waiting for %q: QEMU exited (%v)", re, m.err)
	}
	return "", fmt.Errorf("waiting for %q: timeout after %v", re, timeout)
}

// await waits until done reports true, or until timeout has passed, and
// reports whether done did. The caller holds m.mu, which done runs under;
// every write of output, QEMU's exit and a timer at the deadline wake it.
func (m *Machine) await(timeout time.Duration, done func() bool) bool {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	defer timer.Stop()
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		m.cond.Wait()
	}
	return true
}

// Send types s on the serial line.
func (m *Machine) Send(s string) {
	m.t.Helper()
	if _, err := io.WriteString(m.stdin, s); err != nil {
		m.t.Fatalf("serial write: %v", err)
	}
}

// Run types a command, waits for the next prompt and returns what the
// command printed (without the echoed command line and the prompt).
func (m *Machine) Run(cmd string, timeout time.Duration) string {
	m.t.Helper()
	m.Send(cmd + "\r")
	out := m.Expect(regexp.QuoteMeta(Prompt), timeout)
	out = strings.TrimSuffix(out, Prompt)
	out = strings.ReplaceAll(out, "\r\n", "\n")
	if i := strings.Index(out, "\n"); i >= 0 && strings.Contains(out[:i], cmd) {
		out = out[i+1:]
	}
	return out
}

// Wait waits for QEMU to exit and returns its exit code.
func (m *Machine) Wait(timeout time.Duration) int {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.await(timeout, func() bool { return m.exited }) {
		m.t.Fatalf("QEMU still running after %v\nserial log:\n%s", timeout, m.out.String())
	}
	if m.err == nil {
		return 0
	}
	if ee, ok := m.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	m.t.Fatalf("qemu: %v", m.err)
	return -1
}

// Halt powers the machine off from the shell (ACPI S5) and waits for QEMU
// to exit, which also flushes its images; an exit status other than 0 or
// no exit within timeout fails the test.
func (m *Machine) Halt(timeout time.Duration) {
	m.t.Helper()
	m.Send("halt\r")
	if code := m.Wait(timeout); code != 0 {
		m.t.Fatalf("QEMU exit status %d after halt, want 0\nserial log:\n%s", code, m.Log())
	}
}

// Kill stops QEMU at once (SIGKILL), as a power cut would.
func (m *Machine) Kill() {
	if m.cmd.Process != nil {
		m.cmd.Process.Kill()
	}
	m.mu.Lock()
	for !m.exited {
		m.cond.Wait()
	}
	m.mu.Unlock()
}
