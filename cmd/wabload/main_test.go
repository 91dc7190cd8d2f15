package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestEveryScenarioInTheUsageRuns: each scenario the usage lists is
// dispatched (asked for its flags with -h, it prints them), and anything
// else is refused with the usage.
func TestEveryScenarioInTheUsageRuns(t *testing.T) {
	_, list, _ := strings.Cut(usage, "scenarios:\n")
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		name := strings.Fields(line)[0]
		var out, errb bytes.Buffer
		run([]string{name, "-h"}, &out, &errb)
		if strings.Contains(errb.String(), "unknown scenario") || !strings.Contains(errb.String(), "Usage of wabload "+name) {
			t.Errorf("%s -h: %q", name, errb.String())
		}
		n++
	}
	if n != 10 {
		t.Errorf("%d scenarios in the usage, want 10", n)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"nope"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown scenario "nope"`) {
		t.Errorf("unknown scenario: exit %d, %q", code, errb.String())
	}
	if code := run(nil, &out, &errb); code != 2 {
		t.Errorf("no scenario: exit %d", code)
	}
	out.Reset()
	if code := run([]string{"help"}, &out, &errb); code != 0 || out.String() != usage {
		t.Errorf("help: exit %d, %q", code, out.String())
	}
}
