package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

func TestFilesCommitOpenAndReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := OpenSQLite(ctx, SQLiteConfig{Path: filepath.Join(dir, "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	files, err := s.Files(filepath.Join(dir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("wabridge "), 100_000)
	w, err := files.Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	f, err := w.Commit(ctx, bridge.File{MIMEType: "application/PDF; charset=x", Filename: "invoice.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if f.Size != int64(len(data)) || f.SHA256 != hex.EncodeToString(sum[:]) || f.MIMEType != "application/pdf" || f.Filename != "invoice.pdf" {
		t.Errorf("record %+v", f)
	}
	w.Abort() // after Commit: no effect
	s.Close()

	s, err = OpenSQLite(ctx, SQLiteConfig{Path: filepath.Join(dir, "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	files, _ = s.Files(filepath.Join(dir, "media"))
	r, rec, err := files.Open(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, data) || rec.SHA256 != f.SHA256 {
		t.Error("content changed across reopen")
	}
	if _, _, err := files.Open(ctx, "fnope"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}

func TestFilesAbortLeavesNothing(t *testing.T) {
	s := open(t)
	dir := t.TempDir()
	files, err := s.Files(dir)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := files.Create(context.Background())
	w.Write([]byte("half an upload"))
	w.Abort()
	entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(entries) != 0 {
		t.Errorf("aborted upload left %d temporary files", len(entries))
	}
	// A temporary file left by a crash is removed at the next start.
	os.WriteFile(filepath.Join(dir, "tmp", "upload-crash"), []byte("x"), 0o600)
	if _, err := s.Files(dir); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(entries) != 0 {
		t.Error("crash leftovers kept")
	}
}

func TestPurgeFilesKeepsQueuedMedia(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	files, _ := s.Files(t.TempDir())
	put := func() *bridge.File {
		w, _ := files.Create(ctx)
		w.Write([]byte("img"))
		f, err := w.Commit(ctx, bridge.File{MIMEType: "image/png"})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	queued, done := put(), put()
	now := time.Now()
	m := &bridge.Message{ID: bridge.NewID(now), Direction: bridge.Outbound, Business: "+15550100001",
		Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindImage,
		Content: bridge.Content{Media: &bridge.Media{FileID: queued.ID}}, Channel: bridge.ChannelWhatsApp,
		Status: bridge.StatusQueued, CreatedAt: now, UpdatedAt: now}
	if _, _, err := s.CreateOutbound(ctx, m); err != nil {
		t.Fatal(err)
	}
	n, err := files.PurgeFiles(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purged %d (%v), want 1", n, err)
	}
	if _, _, err := files.Open(ctx, queued.ID); err != nil {
		t.Errorf("file of a queued message purged: %v", err)
	}
	if _, _, err := files.Open(ctx, done.ID); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("old unused file kept: %v", err)
	}
}

// A media message's fetch job is committed with the message.
func TestInboundMediaCreatesFetchJob(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	in := &bridge.Message{Business: "+15550100001", Customer: bridge.Customer{Phone: "+4915112345678"},
		Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{ID: "1234", MIMEType: "image/jpeg"}},
		WAMID: "wamid.img", Channel: bridge.ChannelWhatsApp}
	if _, err := s.Ingest(ctx, []bridge.Event{{Inbound: in}, {Inbound: in}}); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.ClaimJobs(ctx, bridge.JobMediaFetch, time.Now(), 10, time.Minute)
	if err != nil || len(jobs) != 1 || jobs[0].Ref != string(in.ID) || jobs[0].Attempts != 1 {
		t.Fatalf("jobs %+v, %v", jobs, err)
	}
	m, err := s.UpdateMedia(ctx, in.ID, func(md *bridge.Media) { md.FileID = "fabc" }, bridge.JobMediaFetch)
	if err != nil || m.Content.Media.FileID != "fabc" || m.Content.Media.ID != "1234" {
		t.Fatalf("update: %+v %v", m, err)
	}
	if n, _ := s.JobDepth(ctx, bridge.JobMediaFetch); n != 0 {
		t.Errorf("job left: %d", n)
	}
}
