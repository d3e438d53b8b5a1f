//go:build tamago

package main

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/arch/x86/x86asm"

	"github.com/ataport/firmware/cmd/firmware/shell"
)

// funcAlign is the alignment of every function entry on amd64 (the Go
// linker's funcAlign), which lets the symbol index visit each function
// without an ELF symbol table (the image loaded in memory has none).
const funcAlign = 32

var (
	symbolsOnce sync.Once
	symbols     map[string]uintptr
)

// lookupSymbol returns the entry of the function called name, accepting the
// full name (github.com/ataport/firmware/kernel.Raise) or a unique suffix
// (kernel.Raise).
func lookupSymbol(name string) (uintptr, error) {
	symbolsOnce.Do(func() {
		symbols = make(map[string]uintptr)
		start, end := runtime.TextRegion()
		for pc := uintptr(start); pc < uintptr(end); pc += funcAlign {
			if f := runtime.FuncForPC(pc); f != nil && f.Entry() == pc {
				symbols[f.Name()] = pc
			}
		}
	})
	if pc, ok := symbols[name]; ok {
		return pc, nil
	}
	var found []string
	for n := range symbols {
		if strings.HasSuffix(n, "/"+name) || strings.HasSuffix(n, "."+name) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("no function %q in the firmware", name)
	case 1:
		return symbols[found[0]], nil
	}
	if len(found) > 4 {
		found = append(found[:4], "...")
	}
	return 0, fmt.Errorf("%q is ambiguous: %s", name, strings.Join(found, ", "))
}

// symbolName names the function holding addr: the outermost one where
// code was inlined (FuncForPC alone names the innermost).
func symbolName(addr uint64) (string, uint64) {
	f := runtime.FuncForPC(uintptr(addr))
	if f == nil {
		return "", 0
	}
	if outer := runtime.FuncForPC(f.Entry()); outer != nil {
		f = outer
	}
	return f.Name(), uint64(f.Entry())
}

func cmdDisasm(c *shell.Context, args []string) error {
	start, end := runtime.TextRegion()
	var pc uintptr
	if a, err := shell.ParseAddr("ADDR", args[0], 1<<48); err == nil {
		pc = uintptr(a)
	} else if pc, err = lookupSymbol(args[0]); err != nil {
		return err
	}
	if pc < uintptr(start) || pc >= uintptr(end) {
		return fmt.Errorf("%#x is outside the firmware's text %#x-%#x", pc, start, end)
	}
	n := uint64(20)
	if len(args) > 1 {
		var err error
		if n, err = shell.ParseCount("N", args[1], 1000); err != nil {
			return err
		}
	}
	for i := uint64(0); i < n && pc < uintptr(end); i++ {
		code := unsafe.Slice((*byte)(unsafe.Pointer(pc)), min(15, uintptr(end)-pc))
		inst, err := x86asm.Decode(code, 64)
		where := ""
		if name, entry := symbolName(uint64(pc)); name != "" {
			where = fmt.Sprintf("<%s+%#x>", name, uint64(pc)-entry)
		}
		if err != nil {
			fmt.Fprintf(c, "%#x %s  %02x  (bad)\n", pc, where, code[0])
			pc++
			continue
		}
		fmt.Fprintf(c, "%#x %s  %-24x %s\n", pc, where, code[:inst.Len], x86asm.GoSyntax(inst, uint64(pc), symbolName))
		pc += uintptr(inst.Len)
	}
	return nil
}
