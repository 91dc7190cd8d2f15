package store

import (
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// opCounts counts committed write operations per store method, named after
// the method whose closure the operation runs (ClaimSends → claim_sends).
// It is what shows which operations a workload spends the single writer on.
type opCounts struct {
	byCode sync.Map // code pointer of a txFunc → *opCount
}

type opCount struct {
	name string
	n    atomic.Int64
}

// of returns the counter of fn's method (fn's code pointer is the same for
// every closure a method creates: one map lookup per operation).
func (o *opCounts) of(fn txFunc) *opCount {
	pc := reflect.ValueOf(fn).Pointer()
	if c, ok := o.byCode.Load(pc); ok {
		return c.(*opCount)
	}
	c, _ := o.byCode.LoadOrStore(pc, &opCount{name: opName(pc)})
	return c.(*opCount)
}

// snapshot returns the counts by name.
func (o *opCounts) snapshot() map[string]int64 {
	out := map[string]int64{}
	o.byCode.Range(func(_, v any) bool {
		c := v.(*opCount)
		out[c.name] += c.n.Load()
		return true
	})
	return out
}

// opName turns the function at pc, "…/store.(*SQLite).ClaimSends.func1",
// into "claim_sends": the innermost named function around the closure (an
// inlined method's closure is named "…store.Caller.(*SQLite).Method.func2").
func opName(pc uintptr) string {
	f := runtime.FuncForPC(pc)
	if f == nil {
		return "unknown"
	}
	name := f.Name()
	parts := strings.Split(name[strings.LastIndexByte(name, '/')+1:], ".")
	method := ""
	for i := len(parts) - 1; i > 0; i-- { // parts[0] is the package
		p := parts[i]
		if p == "" || strings.HasPrefix(p, "(") || strings.HasPrefix(p, "func") || unicode.IsDigit(rune(p[0])) {
			continue
		}
		method = p
		break
	}
	if method == "" {
		return "unknown"
	}
	var b strings.Builder
	for i, r := range method {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
