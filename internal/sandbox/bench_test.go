//go:build unix

package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSendWithStatuses measures the sandbox under load: many
// concurrent template sends over real HTTP (keep-alive), each followed by
// its sent, delivered and read status webhooks, posted to a receiver in the
// same process (standing in for the daemon, which shares the cores). One
// iteration is one send; the benchmark waits for every status to arrive and
// reports answered sends/s, end-to-end sends/s (until the last status
// arrived), statuses/s and webhook POSTs per send. Run with -cpu 2 and
// -benchtime 30000x for figures comparable to the 2-core target.
func BenchmarkSendWithStatuses(b *testing.B) {
	for _, batch := range []int{1, 50} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchSend(b, batch) })
	}
}

func benchSend(b *testing.B, batch int) {
	var posts, statuses atomic.Int64
	marker := []byte(`"recipient_id"`)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		posts.Add(1)
		statuses.Add(int64(bytes.Count(body, marker)))
	}))
	defer rc.Close()

	cfg := testConfig()
	cfg.WebhookURL = rc.URL
	cfg.StatusDelay = 5 * time.Millisecond
	cfg.StatusBatch = batch
	s, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}}
	target := s.URL() + "/v24.0/" + testPNID + "/messages"
	var seq atomic.Int64

	b.ReportAllocs()
	b.SetParallelism(32)
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			n := seq.Add(1)
			buf = fmt.Appendf(buf[:0], `{"messaging_product":"whatsapp","to":"+49151%08d","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`, n)
			req, _ := http.NewRequest(http.MethodPost, target, bytes.NewReader(buf))
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("send: HTTP %d", resp.StatusCode)
				return
			}
		}
	})
	sendTime := time.Since(start)
	want := 3 * seq.Load()
	deadline := time.Now().Add(60 * time.Second)
	for statuses.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	total := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if got := statuses.Load(); got != want {
		b.Fatalf("got %d statuses, want %d", got, want)
	}
	n := float64(seq.Load())
	b.ReportMetric(n/sendTime.Seconds(), "sends/s")  // answered sends
	b.ReportMetric(n/total.Seconds(), "e2e-sends/s") // sends with all their statuses delivered
	b.ReportMetric(float64(want)/total.Seconds(), "statuses/s")
	b.ReportMetric(float64(posts.Load())/n, "posts/send")
	// CPU of the whole process (sandbox, senders and receiver) per send:
	// robust against other load on the machine, unlike the rates.
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/send")
}

// cpuTime is the user+system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStatusWebhookBody: the body of one status webhook as the
// simulator writes it for every status it delivers.
func BenchmarkStatusWebhookBody(b *testing.B) {
	s := &Server{cfg: Config{WABAID: "102290129340398"}}
	num := &Number{BusinessNumber: "+15550100001", PhoneNumberID: "106540352242922"}
	st := statusPayload{ID: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI", Status: "sent", Timestamp: "1763800000", RecipientID: "16505551234",
		Pricing: &pricing{PricingModel: "PMP", Type: "free_customer_service", Category: "service"}, BizOpaque: "01JB2Z8Q3M"}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.webhookBody(num, changeValue{Statuses: []statusPayload{st}})
	}
}
