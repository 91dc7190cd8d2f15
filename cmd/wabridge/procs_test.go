package main

import (
	"runtime"
	"testing"
)

func TestExtraProc(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	if got := extraProc(func(k string) string { return map[string]string{"GOMAXPROCS": "1"}[k] }); got != before || runtime.GOMAXPROCS(0) != before {
		t.Errorf("with GOMAXPROCS set: %d processors (runtime %d), want %d left alone", got, runtime.GOMAXPROCS(0), before)
	}
	if got := extraProc(func(string) string { return "" }); got != before+1 || runtime.GOMAXPROCS(0) != before+1 {
		t.Errorf("without GOMAXPROCS: %d processors (runtime %d), want %d", got, runtime.GOMAXPROCS(0), before+1)
	}
}
