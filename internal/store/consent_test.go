package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// Consent is answered from memory for customers without a row; the rows
// written by SetConsent, and those already in the file when it opens (a
// restart, a row written by an older version), are read from the database.
func TestConsentFoundAfterWriteAndAfterRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	s, err := OpenSQLite(ctx, SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	if _, err := s.Consent(ctx, "+4915100000001"); !errors.Is(err, bridge.ErrNotFound) {
		t.Fatalf("Consent of an unknown customer: %v, want ErrNotFound", err)
	}
	if ok, err := s.SetConsent(ctx, bridge.Consent{Customer: "+4915100000001", OptedOut: true, At: at, Source: "keyword", Keyword: "STOP"}); !ok || err != nil {
		t.Fatalf("SetConsent = %v, %v", ok, err)
	}
	if c, err := s.Consent(ctx, "+4915100000001"); err != nil || !c.OptedOut {
		t.Fatalf("Consent after STOP = %+v, %v", c, err)
	}
	// A row the set never saw (written by another version of wabridge).
	if err := s.commit.write(ctx, func(tx *wtx) error {
		_, err := tx.Exec(`INSERT INTO consent (customer, opted_out, at, source, keyword, ref) VALUES (?, 1, ?, 'api', '', '')`,
			"+4915100000002", ms(at))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenSQLite(ctx, SQLiteConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, customer := range []string{"+4915100000001", "+4915100000002"} {
		if c, err := s.Consent(ctx, customer); err != nil || !c.OptedOut {
			t.Errorf("Consent(%s) after restart = %+v, %v; want opted out", customer, c, err)
		}
	}
	if _, err := s.Consent(ctx, "+4915100000003"); !errors.Is(err, bridge.ErrNotFound) {
		t.Errorf("Consent of an unknown customer after restart: %v, want ErrNotFound", err)
	}
}
