package bridge

import (
	"context"
	"log/slog"
)

// lazyAttrs is a slog.Handler whose WithAttrs only remembers the attributes
// and puts them in front of a record's own when one is handled. A logger
// made per message (With "message_id") then costs a few small allocations
// instead of the wrapped handler's formatting of its attributes, which the
// text and JSON handlers do at With whether anything is logged or not.
type lazyAttrs struct {
	h     slog.Handler
	attrs []slog.Attr
}

func newLazyAttrs(h slog.Handler) slog.Handler {
	if _, ok := h.(*lazyAttrs); ok {
		return h
	}
	return &lazyAttrs{h: h}
}

func (l *lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l *lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	if len(l.attrs) == 0 {
		return l.h.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(l.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(a)
		return true
	})
	return l.h.Handle(ctx, out)
}

func (l *lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return l
	}
	all := make([]slog.Attr, 0, len(l.attrs)+len(attrs))
	return &lazyAttrs{h: l.h, attrs: append(append(all, l.attrs...), attrs...)}
}

// WithGroup hands the remembered attributes to the wrapped handler first:
// they belong outside the group.
func (l *lazyAttrs) WithGroup(name string) slog.Handler {
	if name == "" {
		return l
	}
	h := l.h
	if len(l.attrs) > 0 {
		h = h.WithAttrs(l.attrs)
	}
	return &lazyAttrs{h: h.WithGroup(name)}
}
