package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	out := "ataport firmware 4a5029d on QEMU pc (i440FX + PIIX3), 2 CPUs, TSC 2595 MHz\r\n" +
		"firmware entry to shell in 151ms; type help\r\n" +
		"ata> irql bench\r\n" +
		"Raise+Lower PASSIVE->DISPATCH        median  1150 cycles  min   980\r\n" +
		"cli+sti (no IRQL change)             median    80 cycles  min    70\r\n" +
		"bench: seq-read DMA size 1048576: pass 1/3 2714.2 MB/s 2588.4 IOPS\r\n" +
		"result: seq-read DMA size 1048576: MB/s 2714.2 [2500.1 2800.3] IOPS 2588.4 [2384.5 2670.1] p50 350.2us p99 600.1us max 1203.4us ints/req 1.00 by-vector 100.0% sync/req 0.000 dirql/req 45.1us allocs/req 0.00 passes 3 reqs 7764\r\n" +
		"ata> irq latency\r\n" +
		"latency: ata0 vector 0x60, accepted to ISR: p50 2314 cycles 0.9us p99 7618 cycles 2.9us max 9000 cycles 3.5us samples 573\r\n" +
		"ata> \r\n"
	env := Env{Commit: "abc", QEMU: "QEMU emulator version 7.2.22", HostCPU: "AMD EPYC", Machine: "pc"}
	if c := builtFrom(out); c != "4a5029d" {
		t.Errorf("builtFrom = %q, want the banner's 4a5029d", c)
	}
	if c := builtFrom("firmware entry to shell in 151ms; type help\r\n"); c != "unknown" {
		t.Errorf("builtFrom without a banner = %q, want unknown", c)
	}
	recs := parse(out, env)
	if len(recs) != 5 {
		t.Fatalf("%d records: %+v", len(recs), recs)
	}
	if r := recs[0]; r.Kind != "boot" || r.EntryToShellMs != 151 {
		t.Errorf("boot %+v", r)
	}
	if r := recs[1]; r.Kind != "irql-bench" || r.Op != "Raise+Lower PASSIVE->DISPATCH" || r.MedianCycles != 1150 || r.MinCycles != 980 {
		t.Errorf("irql %+v", r)
	}
	if r := recs[2]; r.Op != "cli+sti (no IRQL change)" || r.MedianCycles != 80 {
		t.Errorf("irql %+v", r)
	}
	b := recs[3].Bench
	if recs[3].Kind != "ata-bench" || b == nil || b.Test != "seq-read" || b.Mode != "DMA" || b.Size != 1<<20 ||
		b.MBps.Median != 2714.2 || b.IOPS.Min != 2384.5 || b.P99us != 600.1 || b.DIRQLusReq != 45.1 || b.Reqs != 7764 {
		t.Errorf("bench %+v", b)
	}
	if r := recs[4]; r.Kind != "irq-latency" || r.Latency == nil || r.Latency.Name != "ata0 vector 0x60, accepted to ISR" ||
		r.Latency.P99Cycles != 7618 || r.Latency.P50us != 0.9 || r.Latency.Samples != 573 {
		t.Errorf("latency %+v", r.Latency)
	}
	js, err := lines(recs)
	if err != nil {
		t.Fatal(err)
	}
	l := strings.Split(strings.TrimSpace(js), "\n")
	if len(l) != 5 {
		t.Fatalf("%d JSON lines", len(l))
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(l[3]), &back); err != nil {
		t.Fatal(err)
	}
	if back["kind"] != "ata-bench" || back["commit"] != "abc" || back["host_cpu"] != "AMD EPYC" ||
		back["bench"].(map[string]any)["mbps"].(map[string]any)["median"] != 2714.2 {
		t.Errorf("JSON %s", l[3])
	}
	if strings.Contains(l[0], "median_cycles") || !strings.Contains(l[0], `"entry_to_shell_ms":151`) {
		t.Errorf("boot JSON %s", l[0])
	}
}
