package httpd

import (
	"testing"
	"time"
)

// TestSharedDeadline: every context handed out has at least d left, the
// webhooks of one second share one, and a later one gets a fresh one.
func TestSharedDeadline(t *testing.T) {
	s := sharedDeadline{d: time.Minute}
	start := time.Now()
	a, b := s.context(), s.context()
	if a != b {
		t.Error("two webhooks in the same second got different contexts")
	}
	if dl, ok := a.Deadline(); !ok || dl.Before(start.Add(time.Minute)) || dl.After(time.Now().Add(time.Minute+time.Second)) {
		t.Errorf("deadline %v, want between d and d+1s from now", dl)
	}
	s.cur.Load().until = time.Now().Add(-time.Millisecond) // the second is over
	c := s.context()
	if c == a {
		t.Fatal("a context handed out past its second")
	}
	if dl, _ := c.Deadline(); dl.Before(time.Now().Add(time.Minute - time.Second)) {
		t.Errorf("the fresh context's deadline %v is too close", dl)
	}
	if a.Err() != nil || c.Err() != nil {
		t.Error("a context was cancelled before its deadline")
	}
}
