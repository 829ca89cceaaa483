package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStepBar: the verb's lines go above the bar, which is redrawn after
// each and ends its line after the last step.
func TestStepBar(t *testing.T) {
	var buf bytes.Buffer
	b := &stepBar{w: &buf, start: time.Now()}
	b.step("prepare home", 1, 2, false)
	fmt.Fprintln(b, "Start datanode datanode1")
	b.step("prepare home", 1, 2, true)
	b.step("start datanode", 2, 2, false)
	b.step("start datanode", 2, 2, true)
	out := buf.String()
	for _, want := range []string{
		"\r\033[K[------------------------] 0/2 prepare home",
		"\r\033[KStart datanode datanode1\n[------------------------] 0/2 prepare home",
		"[############------------] 1/2 prepare home",
		"[########################] 2/2 start datanode",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in %q", want, out)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("the bar's line is not ended after the last step: %q", out)
	}
}
