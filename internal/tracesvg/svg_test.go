package tracesvg

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

const sample = `{"traceEvents":[
{"ph":"M","ts":0,"pid":1,"tid":0,"name":"thread_name","args":{"name":"CPU 0"}},
{"ph":"M","ts":0,"pid":2,"tid":0,"name":"thread_name","args":{"name":"ata0"}},
{"ph":"C","ts":0,"pid":1,"tid":0,"name":"IRQL cpu0","args":{"IRQL":2}},
{"ph":"i","ts":10,"pid":1,"tid":0,"name":"vector 0x60 ata0","s":"t"},
{"ph":"C","ts":11,"pid":1,"tid":0,"name":"IRQL cpu0","args":{"IRQL":6}},
{"ph":"C","ts":20,"pid":1,"tid":0,"name":"IRQL cpu0","args":{"IRQL":0}},
{"ph":"b","ts":1,"pid":2,"tid":0,"name":"READ DMA","cat":"request","id":"ata0.1"},
{"ph":"X","ts":2,"dur":9,"pid":2,"tid":0,"name":"READ DMA"},
{"ph":"e","ts":25,"pid":2,"tid":0,"name":"READ DMA","cat":"request","id":"ata0.1"}
]}`

// The picture is well-formed XML with the CPU lane in the DISPATCH and
// DIRQL6 colours, a vector tick, the request in flight and its life.
func TestRender(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, []byte(sample)); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not XML: %v\n%s", err, buf.String())
		}
	}
	svg := buf.String()
	for _, want := range []string{">CPU 0<", ">ata0<", `fill="` + irqlColour(2) + `"`, `fill="` + irqlColour(6) + `"`, "<line ", `fill="#31a354"><title>READ DMA`, `fill="#756bb1"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("no %q in:\n%s", want, svg)
		}
	}
	if err := Render(io.Discard, []byte("{")); err == nil {
		t.Error("Render of broken JSON: no error")
	}
}
