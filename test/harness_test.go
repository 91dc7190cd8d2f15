// Package test holds wabridge's end-to-end tests: the whole daemon (in
// process, or as the built binary) against the WhatsApp sandbox, driven
// over real HTTP by curl-like clients.
package test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/wabridge/wabridge/internal/app"
	"github.com/wabridge/wabridge/internal/config"
)

const (
	apiToken  = "e2e-token"
	business  = config.SandboxBusinessNumber
	appSecret = config.SandboxAppSecret
)

// daemon is an in-process wabridge with its embedded sandbox.
type daemon struct {
	t       *testing.T
	app     *app.App
	cfg     *config.Config
	base    string // http://127.0.0.1:PORT
	sandbox string // http://127.0.0.1:PORT
}

// testConfig returns defaults on loopback :0 ports with fast timings.
func testConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(t.TempDir(), "wabridge.db")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Sandbox.Listen = "127.0.0.1:0"
	cfg.IMAP.Listen = "127.0.0.1:0"
	cfg.Outbox.PairInterval = 0 // tests send bursts to one customer; pacing has its own tests
	cfg.API.Tokens = []config.Secret{apiToken}
	cfg.Sandbox.StatusDelay = config.Duration(20 * time.Millisecond)
	cfg.Sandbox.WebhookRetryInitial = config.Duration(100 * time.Millisecond)
	cfg.Sandbox.WebhookRetryMax = config.Duration(500 * time.Millisecond)
	cfg.Outbox.PollInterval = config.Duration(20 * time.Millisecond)
	cfg.Outbox.BackoffInitial = config.Duration(50 * time.Millisecond)
	return cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func startDaemon(t *testing.T, cfg *config.Config) *daemon {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, err := app.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, app: a, cfg: cfg, base: "http://" + a.HTTPAddr(), sandbox: a.SandboxURL()}
	t.Cleanup(func() { d.stop() })
	return d
}

func (d *daemon) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.app.Stop(ctx); err != nil {
		d.t.Errorf("stop: %v", err)
	}
}

// do sends a request and decodes a JSON answer into out (if non-nil).
func do(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

type apiMessage struct {
	ID      string `json:"id"`
	To      string `json:"to"`
	From    string `json:"from"`
	Channel string `json:"channel"`
	Status  string `json:"status"`
	WAMID   string `json:"wamid"`
	Error   *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"error"`
	History []struct {
		Status string    `json:"status"`
		At     time.Time `json:"at"`
	} `json:"history"`
	Send *struct {
		How         string            `json:"how"`
		Template    string            `json:"template"`
		Language    string            `json:"language"`
		Category    string            `json:"category"`
		Params      []string          `json:"params"`
		NamedParams map[string]string `json:"named_params"`
		Why         string            `json:"why"`
	} `json:"send"`
}

type apiError struct {
	Error struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func (d *daemon) send(body any) string {
	d.t.Helper()
	var out struct{ ID string }
	if code := do(d.t, "POST", d.base+"/api/v1/messages", apiToken, body, &out); code != http.StatusAccepted {
		d.t.Fatalf("send: HTTP %d", code)
	}
	return out.ID
}

func (d *daemon) message(id string) apiMessage {
	d.t.Helper()
	var m apiMessage
	if code := do(d.t, "GET", d.base+"/api/v1/messages/"+id, apiToken, nil, &m); code != 200 {
		d.t.Fatalf("get message %s: HTTP %d", id, code)
	}
	return m
}

// waitStatus polls until the message reaches status (no timing assertion:
// the deadline only bounds a hang).
func (d *daemon) waitStatus(id, status string) apiMessage {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := d.message(id)
		if m.Status == status {
			return m
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("message %s: status %s, want %s (%+v)", id, m.Status, status, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inject makes a customer write to the business through the sandbox.
func (d *daemon) inject(from, text string) string {
	d.t.Helper()
	var out struct{ WAMID string }
	body := map[string]string{"from": from, "text": text, "name": "Test Customer"}
	if code := do(d.t, "POST", d.sandbox+"/sandbox/v1/inbound", "", body, &out); code != 200 {
		d.t.Fatalf("inject: HTTP %d", code)
	}
	// Wait until the daemon has stored it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var m apiMessage
		if do(d.t, "GET", d.base+"/api/v1/messages/"+out.WAMID, apiToken, nil, &m) == 200 {
			return out.WAMID
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("inbound %s never stored", out.WAMID)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type sandboxMessage struct {
	WAMID        string `json:"wamid"`
	To           string `json:"to"`
	Type         string `json:"type"`
	Text         string `json:"text"`
	CallbackData string `json:"callback_data"`
	Status       string `json:"status"`
	ErrorCode    int    `json:"error_code"`
	Template     *struct {
		Name     string   `json:"name"`
		Language string   `json:"language"`
		Params   []string `json:"params"`
	} `json:"template"`
	Request json.RawMessage `json:"request"`
}

func sandboxMessages(t *testing.T, base, query string) []sandboxMessage {
	t.Helper()
	var out struct{ Messages []sandboxMessage }
	if code := do(t, "GET", base+"/sandbox/v1/messages"+query, "", nil, &out); code != 200 {
		t.Fatalf("sandbox messages: HTTP %d", code)
	}
	return out.Messages
}

func sign(body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// inboundWebhook is a Meta "messages" webhook with one text message.
func inboundWebhook(phoneNumberID, from, wamid, text string) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"%s","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100001","phone_number_id":"%s"},"contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"%s"}],"messages":[{"from":"%s","id":"%s","timestamp":"%d","text":{"body":"%s"},"type":"text"}]},"field":"messages"}]}]}`,
		config.SandboxWABAID, phoneNumberID, from, from, wamid, time.Now().Unix(), text))
}

func postWebhook(t *testing.T, url string, body []byte, signature string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
