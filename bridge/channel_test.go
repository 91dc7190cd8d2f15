package bridge

import (
	"context"
	"errors"
	"testing"
	"time"
)

type peeker struct {
	due bool
	err error
}

func (p peeker) JobsDue(context.Context, string, time.Time) (bool, error) { return p.due, p.err }

// JobsDue says "claim" unless a store that can peek saw nothing due: a
// store without the peek, or a failed peek, is claimed from as before.
func TestJobsDueClaimsWhenUnsure(t *testing.T) {
	ctx, now := context.Background(), time.Now()
	for _, tc := range []struct {
		name  string
		store any
		want  bool
	}{
		{"no peek", struct{}{}, true},
		{"peek failed", peeker{err: errors.New("disk")}, true},
		{"due", peeker{due: true}, true},
		{"nothing due", peeker{}, false},
	} {
		if got := JobsDue(ctx, tc.store, "kind", now); got != tc.want {
			t.Errorf("%s: JobsDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}
