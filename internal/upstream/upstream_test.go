package upstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"5":                             5 * time.Second,
		"0":                             0,
		"-3":                            0,
		"soon":                          0,
		"Fri, 02 Jan 2026 03:04:35 GMT": 30 * time.Second,
		"Fri, 02 Jan 2026 03:00:00 GMT": 0,
	}
	for v, want := range cases {
		if got := RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestRedactedKeepsTheCause(t *testing.T) {
	err := Redacted(fmt.Errorf("Post https://u:tok3n@x/: %w", context.DeadlineExceeded), "tok3n")
	if strings.Contains(err.Error(), "tok3n") || !strings.Contains(err.Error(), "[redacted]") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Redacted = %q (cause kept: %v)", err, errors.Is(err, context.DeadlineExceeded))
	}
	if Redact("abc", "") != "abc" {
		t.Error("an empty secret changed the text")
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTrackedWriterKeepsTheFirstError(t *testing.T) {
	w := &TrackedWriter{W: failing{}}
	w.Write([]byte("a"))
	w.Write([]byte("b"))
	if w.Err == nil || w.Err.Error() != "disk full" {
		t.Errorf("Err = %v", w.Err)
	}
}
