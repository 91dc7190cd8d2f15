package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// The store benchmarks run against a real file with the production
// settings (WAL, synchronous=FULL): every commit waits for an fsync, so the
// numbers depend on the disk under the test's temporary directory.

func openBench(b *testing.B) *SQLite {
	b.Helper()
	s, err := OpenSQLite(context.Background(), SQLiteConfig{Path: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchOutbound(now time.Time, i int) *bridge.Message {
	return &bridge.Message{ID: bridge.NewID(now), Direction: bridge.Outbound, Business: "+15550100001",
		Customer: bridge.Customer{Phone: fmt.Sprintf("+49151%08d", i)}, Kind: bridge.KindText,
		Content: bridge.Content{Text: "Your order #42 ships on Tuesday."}, Channel: bridge.ChannelWhatsApp,
		Status: bridge.StatusQueued, Origin: "api", CreatedAt: now, UpdatedAt: now,
		History: []bridge.HistoryEntry{{Status: bridge.StatusQueued, At: now}}}
}

// benchStatusRaw is the status object as the adapter keeps it (compact):
// Meta's documented delivered status (adapters/whatsapp/testdata/webhooks/
// status-delivered.golden) with this message's ids.
func benchStatusRaw(wamid, callback string) json.RawMessage {
	return json.RawMessage(`{"id":"` + wamid + `","status":"delivered","timestamp":"1750030073",` +
		`"recipient_id":"16505551234","biz_opaque_callback_data":"` + callback + `",` +
		`"conversation":{"id":"CONVERSATION_ID","origin":{"type":"utility"}},` +
		`"pricing":{"billable":true,"pricing_model":"PMP","type":"regular","category":"utility"}}`)
}

// sentMessages stores n outbound messages that were accepted by the
// provider (wamid recorded, status queued, no job), in a few large
// transactions outside the timer, and returns the status events that
// deliver them.
func sentMessages(b *testing.B, s *SQLite, n int) []*bridge.StatusUpdate {
	b.Helper()
	now := time.Now()
	events := make([]*bridge.StatusUpdate, n)
	for start := 0; start < n; start += 5000 {
		end := min(start+5000, n)
		err := s.commit.write(context.Background(), func(tx *wtx) error {
			for i := start; i < end; i++ {
				m := benchOutbound(now, i)
				m.WAMID = fmt.Sprintf("wamid.bench.%d", i)
				if err := insertMessage(tx, m); err != nil { // with its first history entry
					return err
				}
				events[i] = &bridge.StatusUpdate{WAMID: m.WAMID, Status: bridge.StatusDelivered, RawStatus: "delivered",
					Timestamp: now, Business: m.Business, Recipient: m.Customer, CallbackData: string(m.ID),
					PricingCategory: "utility", Raw: benchStatusRaw(m.WAMID, string(m.ID))}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return events
}

// benchMark is where a benchmark's timed part began: the store's
// counters and the process's CPU time.
type benchMark struct {
	stats Stats
	cpu   time.Duration
}

func markBench(s *SQLite) benchMark { return benchMark{stats: s.Stats(), cpu: processCPU()} }

// report reports the operations per commit since m and the process's CPU
// time (user and system, all its threads) per operation. A commit waits
// for its fsync, so ns/op is the disk's as much as the code's; cpu-µs/op
// is what the code costs the machine's cores.
func (m benchMark) report(b *testing.B, s *SQLite) {
	after := s.Stats()
	commits, ops := after.Commits-m.stats.Commits, after.Operations-m.stats.Operations
	if commits > 0 {
		b.ReportMetric(float64(ops)/float64(commits), "ops/commit")
	}
	if cpu := processCPU() - m.cpu; m.cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

// BenchmarkIngestStatusSerial: one status webhook at a time, each its own
// commit (one fsync per event): the latency floor of a webhook's 200.
func BenchmarkIngestStatusSerial(b *testing.B) {
	s := openBench(b)
	events := sentMessages(b, s, b.N)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	mark := markBench(s)
	for i := range b.N {
		out, err := s.Ingest(ctx, []bridge.Event{{Status: events[i]}})
		if err != nil || out.Statuses != 1 || len(out.Changed) != 1 {
			b.Fatalf("ingest: %+v %v", out.IngestResult, err)
		}
	}
	b.StopTimer()
	mark.report(b, s)
}

// BenchmarkIngestStatusParallel: many concurrent webhooks. Group commit
// puts the waiting ones into one transaction, so ops/commit rises above 1
// and throughput with it.
func BenchmarkIngestStatusParallel(b *testing.B) {
	s := openBench(b)
	events := sentMessages(b, s, b.N)
	ingestParallel(b, s, func(i int64) *bridge.StatusUpdate { return events[i] })
}

// BenchmarkIngestUnknownStatusParallel: as IngestStatusParallel, but no
// event's message is known (what the webhook load test sends; in
// production a status that overtakes its send's answer): each is stored
// to be applied later.
func BenchmarkIngestUnknownStatusParallel(b *testing.B) {
	s := openBench(b)
	now := time.Now()
	ingestParallel(b, s, func(i int64) *bridge.StatusUpdate {
		wamid := fmt.Sprintf("wamid.unknown.%d", i)
		return &bridge.StatusUpdate{WAMID: wamid, Status: bridge.StatusDelivered, RawStatus: "delivered",
			Timestamp: now, Business: "+15550100001", Recipient: bridge.Customer{Phone: "+4915100000001"},
			PricingCategory: "utility", Raw: benchStatusRaw(wamid, "")}
	})
}

// ingestParallel ingests event(0) … event(b.N-1), one webhook each, from
// 32 goroutines per GOMAXPROCS (webhooks in flight), and reports the
// operations per commit.
func ingestParallel(b *testing.B, s *SQLite, event func(i int64) *bridge.StatusUpdate) {
	ctx := context.Background()
	parallelOps(b, s, func(i int64) error {
		out, err := s.Ingest(ctx, []bridge.Event{{Status: event(i)}})
		if err == nil && out.Statuses != 1 {
			err = fmt.Errorf("ingest: %+v", out.IngestResult)
		}
		return err
	})
}

// parallelOps runs op(0) … op(b.N-1) from 32 goroutines per GOMAXPROCS
// (clients waiting on the writer), timed, and reports the operations per
// commit and the CPU per operation; the first error fails the benchmark.
func parallelOps(b *testing.B, s *SQLite, op func(i int64) error) {
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	mark := markBench(s)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(next.Add(1) - 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	mark.report(b, s)
}

// BenchmarkCreateOutbound: one REST/SMPP/SMTP submit at a time (message,
// history entry and send job in one commit).
func BenchmarkCreateOutbound(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	msgs := make([]*bridge.Message, b.N)
	now := time.Now()
	for i := range msgs {
		msgs[i] = benchOutbound(now, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	mark := markBench(s)
	for _, m := range msgs {
		if _, created, err := s.CreateOutbound(ctx, m); err != nil || !created {
			b.Fatalf("create: %v %v", created, err)
		}
	}
	b.StopTimer()
	mark.report(b, s)
}

// BenchmarkCreateOutboundParallel: concurrent submits sharing commits.
func BenchmarkCreateOutboundParallel(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	msgs := make([]*bridge.Message, b.N)
	now := time.Now()
	for i := range msgs {
		msgs[i] = benchOutbound(now, i)
		msgs[i].IdempotencyKey = fmt.Sprintf("key-%d", i)
	}
	parallelOps(b, s, func(i int64) error {
		if _, created, err := s.CreateOutbound(ctx, msgs[i]); err != nil || !created {
			return fmt.Errorf("create: %v %v", created, err)
		}
		return nil
	})
}

// queuedMessages stores b.N queued outbound messages with their send jobs
// (outside the timer, in batches) and returns them.
func queuedMessages(b *testing.B, s *SQLite, now time.Time) []*bridge.Message {
	b.Helper()
	msgs := make([]*bridge.Message, b.N)
	for i := range msgs {
		msgs[i] = benchOutbound(now, i)
	}
	for start := 0; start < len(msgs); start += 5000 {
		if err := s.CreateOutboundBatch(context.Background(), msgs[start:min(start+5000, len(msgs))]); err != nil {
			b.Fatal(err)
		}
	}
	return msgs
}

// BenchmarkClaimSends: the outbox claiming due sends 64 at a time (what
// its senders ask for), each with its message; ns/op is per claimed send.
// Each claim's sends are answered before the next claim.
func BenchmarkClaimSends(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	now := time.Now()
	queuedMessages(b, s, now)
	b.ReportAllocs()
	b.ResetTimer()
	for claimed := 0; claimed < b.N; {
		jobs, err := s.ClaimSends(ctx, now.Add(time.Second), 64, time.Minute)
		if err != nil || len(jobs) == 0 {
			b.Fatalf("claim after %d: %d jobs, %v", claimed, len(jobs), err)
		}
		claimed += len(jobs)
		// The sends are answered (their jobs end) before the next claim,
		// as in the daemon; only the claims are timed.
		b.StopTimer()
		for _, j := range jobs {
			if _, err := s.Accepted(ctx, j.Message.ID, "wamid."+string(j.Message.ID), now); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
}

// BenchmarkSendAttemptParallel: the outbox's two writes per send from 64
// senders — the attempt (with its send record) before the provider call
// and the acceptance (wamid) after it; ns/op is per send.
func BenchmarkSendAttemptParallel(b *testing.B) {
	s := openBench(b)
	ctx := context.Background()
	now := time.Now()
	msgs := queuedMessages(b, s, now)
	rec := &bridge.SendRecord{How: bridge.SentTemplateMatched, Template: "order_update", Language: "en_US",
		Category: "UTILITY", Params: []string{"42", "Tuesday"}}
	parallelOps(b, s, func(i int64) error {
		m := msgs[i]
		if err := s.StartAttempt(ctx, m.ID, now, rec, time.Time{}); err != nil {
			return fmt.Errorf("attempt: %w", err)
		}
		if _, err := s.Accepted(ctx, m.ID, "wamid."+string(m.ID), now); err != nil {
			return fmt.Errorf("accepted: %w", err)
		}
		return nil
	})
}
