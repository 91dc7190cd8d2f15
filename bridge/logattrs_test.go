package bridge

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// A logger made With attributes through lazyAttrs writes what the wrapped
// handler would have written itself.
func TestLazyAttrsWritesWhatTheHandlerWould(t *testing.T) {
	logs := func(l *slog.Logger) {
		m := l.With("message_id", "01abc").With("attempt", 2)
		m.Info("sent", "wamid", "wamid.x")
		m.Debug("hidden")
		m.WithGroup("send").With("to", "+49151").Warn("retry", "err", "timeout")
		l.Error("plain")
	}
	var want, got bytes.Buffer
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	logs(slog.New(slog.NewTextHandler(&want, opts)))
	logs(slog.New(newLazyAttrs(slog.NewTextHandler(&got, opts))))
	if got.String() != want.String() {
		t.Errorf("through lazyAttrs:\n%s\nwant:\n%s", got.String(), want.String())
	}
	if !strings.Contains(got.String(), `msg=sent message_id=01abc attempt=2 wamid=wamid.x`) {
		t.Errorf("output %q", got.String())
	}
}

func BenchmarkLoggerPerMessage(b *testing.B) {
	// The daemon's handler (text) and the outbox's attribute (a MessageID).
	base := slog.NewTextHandler(&bytes.Buffer{}, nil)
	id := MessageID("01k82c6eze0k2gtc4vy5n32nss")
	for _, tc := range []struct {
		name string
		l    *slog.Logger
	}{{"text", slog.New(base)}, {"lazy", slog.New(newLazyAttrs(base))}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_ = tc.l.With("message_id", id)
			}
		})
	}
}
