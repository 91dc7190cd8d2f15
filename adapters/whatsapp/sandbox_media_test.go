package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/sandbox"
)

// TestMediaAgainstSandbox: upload, send by media id, then download by id
// through the repository's Cloud API simulator over real HTTP; the
// simulator's "file_size as a string" variant; and a download URL that
// redirects off the allowed hosts.
func TestMediaAgainstSandbox(t *testing.T) {
	const (
		token = "sandbox-token"
		waba  = "100000000000001"
		phone = "+4915112345678"
	)
	numbers := []Number{{PhoneNumberID: "200000000000001", BusinessNumber: "+15550100001"}}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer hook.Close()

	start := func(t *testing.T, mutate func(*sandbox.Config)) (*sandbox.Server, *Client) {
		t.Helper()
		cfg := sandbox.Config{
			WebhookURL: hook.URL, AppSecret: "s", AccessToken: token, WABAID: waba,
			Numbers:     []sandbox.Number{{PhoneNumberID: numbers[0].PhoneNumberID, BusinessNumber: numbers[0].BusinessNumber}},
			StatusDelay: 10 * time.Millisecond,
		}
		if mutate != nil {
			mutate(&cfg)
		}
		sb, err := sandbox.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := sb.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sb.Close(context.Background()) })
		c, err := NewClient(Config{GraphURL: sb.URL(), WABAID: waba, AccessToken: token, Numbers: numbers, Timeout: 5 * time.Second}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sb, c
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("%PDF-1.7 sandbox "), 4096)
	sum := sha256.Sum256(data)
	file := &bridge.File{ID: "f-1", MIMEType: "application/pdf", Size: int64(len(data)), Filename: "invoice.pdf"}

	for _, asString := range []bool{false, true} {
		_, c := start(t, func(cfg *sandbox.Config) { cfg.MediaFileSizeAsString = asString })
		id, err := c.Upload(ctx, "+15550100001", file, bytes.NewReader(data))
		if err != nil {
			t.Fatalf("Upload: %v", err)
		}
		m := &bridge.Message{ID: "msg-doc", Business: "+15550100001", Customer: bridge.Customer{Phone: phone}, Kind: bridge.KindDocument,
			Content: bridge.Content{Media: &bridge.Media{ID: id, Caption: "Your invoice", Filename: "invoice.pdf"}}}
		if _, err := c.Send(ctx, m); err != nil {
			t.Fatalf("Send document: %v", err)
		}
		var buf bytes.Buffer
		info, err := c.Download(ctx, "+15550100001", id, &buf, 1<<20)
		if err != nil {
			t.Fatalf("Download (file_size as string %v): %v", asString, err)
		}
		if !bytes.Equal(buf.Bytes(), data) || info.SHA256 != hex.EncodeToString(sum[:]) || info.Size != int64(len(data)) || info.MIMEType != "application/pdf" {
			t.Errorf("downloaded %d bytes, info %+v", buf.Len(), info)
		}
		if _, err := c.Download(ctx, "+15550100001", id, io.Discard, 100); bridge.AsSendError(err).Reason != bridge.ReasonMediaUnavailable {
			t.Errorf("over the limit: %v", err)
		}
		if _, err := c.Download(ctx, "+15550100001", "1234567890123456", io.Discard, 1<<20); bridge.AsSendError(err).Action != bridge.ActionPermanent {
			t.Errorf("unknown media id: %v", err)
		}
	}

	// The simulator's download URL redirects to a host the client does not allow.
	_, c := start(t, func(cfg *sandbox.Config) { cfg.MediaRedirectTo = "http://169.254.169.254/latest/meta-data/" })
	id, err := c.Upload(ctx, "+15550100001", file, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	_, err = c.Download(ctx, "+15550100001", id, io.Discard, 1<<20)
	if se := bridge.AsSendError(err); err == nil || se.Action != bridge.ActionPermanent || se.Reason != bridge.ReasonMediaUnavailable {
		t.Errorf("redirect off the allowed hosts: %v", err)
	}
}
