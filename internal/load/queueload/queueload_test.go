package queueload

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/store"
)

// TestSendRate measures synthetic send times: the steady rate leaves out
// the first and last tenth of the sends, and the busiest second is found
// wherever it falls.
func TestSendRate(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	// 80 /s for 10 s (a send every 12.5 ms), handed over out of order.
	var at []time.Time
	for i := 799; i >= 0; i-- {
		at = append(at, t0.Add(time.Duration(i)*12500*time.Microsecond))
	}
	rate, busiest, ok := sendRate(at)
	if !ok || math.Abs(rate-80) > 1e-9 || busiest != 80 {
		t.Errorf("80 /s: rate %v, busiest %d, %v; want 80, 80", rate, busiest, ok)
	}
	// A slow start and a burst at the end lie outside the middle 80 %;
	// the burst is still the busiest second.
	at = at[:0]
	for i := range 10 {
		at = append(at, t0.Add(time.Duration(i)*500*time.Millisecond)) // 2 /s for 5 s
	}
	for i := range 80 {
		at = append(at, t0.Add(5*time.Second+time.Duration(i)*10*time.Millisecond)) // 100 /s for 0.8 s
	}
	for i := range 10 {
		at = append(at, t0.Add(5800*time.Millisecond+time.Duration(i)*time.Millisecond)) // 10 at once
	}
	rate, busiest, ok = sendRate(at)
	if !ok || math.Abs(rate-100) > 1e-9 || busiest != 90 {
		t.Errorf("steady 100 /s between a slow start and a burst: rate %v, busiest %d; want 100, 90", rate, busiest)
	}
	for _, few := range [][]time.Time{nil, {t0}, {t0, t0.Add(time.Second)}, {t0, t0, t0, t0}} {
		if _, _, ok := sendRate(few); ok {
			t.Errorf("%d sends (%v) gave a rate", len(few), few)
		}
	}
}

// TestSeedQueuesDistinctTemplateSends: "wabload seed" writes queued
// template messages, one per customer, that the outbox claims as sends.
func TestSeedQueuesDistinctTemplateSends(t *testing.T) {
	db := filepath.Join(t.TempDir(), "wabridge.db")
	var out, errb bytes.Buffer
	if code := SeedMain([]string{"-db", db, "-n", "250", "-batch", "100", "-template", "order_update"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "queued 250 messages in ") {
		t.Errorf("output %q", out.String())
	}
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, store.SQLiteConfig{Path: db})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jobs, err := st.ClaimSends(ctx, time.Now().Add(time.Minute), 1000, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	customers := map[string]bool{}
	for _, j := range jobs {
		m := j.Message
		if m.Status != bridge.StatusQueued || m.Kind != bridge.KindTemplate || m.Content.Template == nil ||
			m.Content.Template.Name != "order_update" || m.Business != "+15550100001" || customers[m.Customer.Phone] {
			t.Fatalf("seeded %+v", m)
		}
		customers[m.Customer.Phone] = true
	}
	if len(jobs) != 250 {
		t.Errorf("%d sends queued, want 250", len(jobs))
	}
	if code := SeedMain([]string{"-n", "x"}, &out, &errb); code != 2 {
		t.Errorf("exit %d for a bad flag, want 2", code)
	}
}
