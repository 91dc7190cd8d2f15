package templates

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzMatch: Match never panics, fails only with ErrNoMatch or
// ErrAmbiguous, and every match renders back to the text (modulo white-space
// runs), with values WhatsApp accepts. For small inputs the fuzzed template
// alone is also checked against the exhaustive oracle.
func FuzzMatch(f *testing.F) {
	seeds := [][2]string{
		{"Your order {{1}} has shipped and arrives on {{2}}.", "Your order 12345 has shipped and arrives on Monday."},
		{"{{1}} is your verification code. For your security, do not share this code.", "483920 is your verification code. For your security, do not share this code."},
		{"*{{1}}* is your verification code.", "123456 is your verification code."},
		{"Good news! Your parcel arrives today between {{1}} and {{2}}.", "Good news! Your parcel arrives today between 10 and 11 and 12."},
		{"Your new monthly price is $ {{1}}.{{2}} (incl. VAT)*.", "Your new monthly price is $ 12.99 (incl. VAT)*."},
		{"Code: {{1}}{{2}}{{3}}", "Code: abcd"},
		{"Hello {{1}} {{2}}", "Hello  Anna\nMaria   Schmidt"},
		{"Dear {{1}}, {{2}}. Thanks, {{1}}.", "Dear Ms Meier, x. Thanks, Ms  Meier."},
		{"Q: (1+1)*2 = {{1}}? [a-z]+ \\d $ | {{ ^", "Q: (1+1)*2 = 4? [a-z]+ \\d $ | {{ ^"},
		{"Hallo {{first_name}} 👋", "Hallo Jörg 👋"},
		{"{{1}}", "   "},
		{"a{{1}}a{{1}}a", "aaaaaaa"},
		{"", "\xff\xfe"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], strings.Contains(s[0], "first_name"))
	}
	base := build(f, catalogue...)
	f.Fuzz(func(t *testing.T, body, text string, named bool) {
		format := Positional
		if named {
			format = Named
		}
		raw, _ := json.Marshal([]map[string]string{{"type": "BODY", "text": body}})
		fuzzed, perr := Parse("1", "fuzzed", "en_US", StatusApproved, Utility, format, raw)
		ts := base
		if perr == nil {
			ts = append(ts[:len(ts):len(ts)], fuzzed)
		}
		r, err := NewMatcher(ts).Match(text, []string{"en_US", "de_DE"})
		if err != nil {
			if !errors.Is(err, ErrNoMatch) && !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("Match: unexpected error %v", err)
			}
		} else {
			checkResult(t, r, text)
		}
		if perr != nil || len(text) > 40 || strings.Count(fuzzed.Body, "{{") > 4 {
			return
		}
		// The fuzzed template alone, against exhaustive search.
		want, _, wantPlain := oracle(fuzzed, text)
		r, err = NewMatcher([]*Template{fuzzed}).Match(text, nil)
		if !validInput(text) {
			want = 0
		}
		switch {
		case want == 0 && !errors.Is(err, ErrNoMatch):
			t.Fatalf("body %q text %q: oracle finds no fit, Match = %+v, %v", body, text, r, err)
		case want > 1 && !errors.Is(err, ErrAmbiguous):
			t.Fatalf("body %q text %q: oracle finds %d fits, Match = %+v, %v", body, text, want, r, err)
		case want == 1 && (err != nil || r.Plain != wantPlain):
			t.Fatalf("body %q text %q: oracle finds one fit (plain %v), Match = %+v, %v", body, text, wantPlain, r, err)
		}
	})
}

// validInput reports whether Match looks at text at all.
func validInput(text string) bool {
	_, err := NewMatcher(nil).Match(text, nil)
	return !strings.Contains(err.Error(), "UTF-8") && !strings.Contains(err.Error(), "longer than") && !strings.Contains(err.Error(), "empty")
}

// checkResult checks a match: it renders back to the text, its values are
// ones WhatsApp accepts, and it can be sent.
func checkResult(t *testing.T, r Result, text string) {
	t.Helper()
	checkRenders(t, r, text)
	values := r.Params
	for _, v := range r.Named {
		values = append(values, v)
	}
	for _, v := range values {
		if err := checkParamValue(v); err != nil {
			t.Fatalf("value %q %v", v, err)
		}
		if strings.TrimFunc(v, isSpace) != v {
			t.Fatalf("value %q has surrounding white space", v)
		}
	}
	if _, err := r.Template.Send(r.Values()); err != nil {
		t.Fatalf("Send(result): %v", err)
	}
}
