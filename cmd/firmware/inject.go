//go:build tamago

package main

import (
	"fmt"
	"strings"

	"github.com/ataport/firmware/ata"
	"github.com/ataport/firmware/cmd/firmware/shell"
)

// addFaultCommands registers the fault injection and stress commands:
// `ata inject` (this file) and `ata stress` (stress.go).
func addFaultCommands(sh *shell.Shell) {
	for _, c := range []shell.Cmd{
		{Name: "ata inject", Args: "CHANNEL drop N|delay DURATION|buildio DURATION|off",
			Help:    "fault injection: drop a channel's next N interrupts, service each DURATION late, make each BuildIo DURATION longer (at most 10ms), or stop",
			MinArgs: 2, MaxArgs: 3, Handler: cmdInject},
		{Name: "ata stress", Args: "DEV... [-time D | -ops N] [-workers W] [-seed S] [-think T] [-lba A -count C]",
			Help:    "random reads, writes and verifies by W workers on stripes of the devices, each idle up to T (at most 1s) between them (needs ata rw on; a CD is read and verified only)",
			MinArgs: 1, MaxArgs: -1, Handler: cmdStress},
	} {
		sh.Add(c)
	}
}

// channel returns the channel named "0" or "ata0".
func channel(name string) (*ata.Channel, error) {
	var names []string
	for _, c := range controllers {
		for _, ch := range c.Channels() {
			if ch.Name() == name || fmt.Sprint(ch.Number()) == name {
				return ch, nil
			}
			names = append(names, ch.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no channel %q: no ATA channel came up", name)
	}
	return nil, fmt.Errorf("no channel %q (channels: %s)", name, strings.Join(names, " "))
}

func cmdInject(c *shell.Context, args []string) error {
	ch, err := channel(args[0])
	if err != nil {
		return err
	}
	switch {
	case args[1] == "drop" && len(args) == 3:
		n, err := shell.ParseUint("N", args[2], 1<<32)
		if err != nil {
			return err
		}
		ch.InjectDrop(n)
	case args[1] == "delay" && len(args) == 3:
		d, err := shell.ParseDuration("DURATION", args[2])
		if err != nil {
			return err
		}
		ch.InjectDelay(d)
	case args[1] == "buildio" && len(args) == 3:
		d, err := shell.ParseDuration("DURATION", args[2])
		if err != nil {
			return err
		}
		if d > ata.MaxBuildIoStall {
			return fmt.Errorf("DURATION: %v is more than %v", d, ata.MaxBuildIoStall)
		}
		ch.InjectBuildIoStall(d)
	case args[1] == "off" && len(args) == 2:
		ch.InjectOff()
	default:
		return shell.ErrUsage
	}
	fmt.Fprintf(c, "%s: %s\n", ch.Name(), injection(ch))
	return nil
}

// injection describes a channel's fault injection and what it did, as
// `ata inject` and `ata stats` print it: "inject drop 3 delay 0s (dropped
// 2, delayed 0)", "inject drop 0 delay 0s buildio 2ms (dropped 0, delayed
// 0)", or "inject off (dropped 5, delayed 0)".
func injection(ch *ata.Channel) string {
	inj, s := ch.Injection(), ch.Stats()
	set := "off"
	if inj != (ata.Injection{}) {
		set = fmt.Sprintf("drop %d delay %v", inj.Drop, inj.Delay)
		if inj.BuildIoStall != 0 {
			set += fmt.Sprintf(" buildio %v", inj.BuildIoStall)
		}
	}
	return fmt.Sprintf("inject %s (dropped %d, delayed %d)", set, s.Dropped, s.Delayed)
}
