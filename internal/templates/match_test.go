package templates

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// tdef describes a template for tests; empty fields take defaults
// (POSITIONAL, UTILITY, APPROVED).
type tdef struct {
	name, lang, body         string
	format, category, status string
	headerText               string
	buttons                  string // raw JSON of a BUTTONS component's buttons, or ""
}

func (d tdef) parse(t testing.TB) *Template {
	t.Helper()
	comps := []map[string]any{{"type": "BODY", "text": d.body}}
	if d.headerText != "" {
		comps = append([]map[string]any{{"type": "HEADER", "format": "TEXT", "text": d.headerText}}, comps...)
	}
	raw, _ := json.Marshal(comps)
	if d.buttons != "" {
		raw = json.RawMessage(strings.TrimSuffix(string(raw), "]") + `,{"type":"BUTTONS","buttons":` + d.buttons + `}]`)
	}
	status, category := d.status, d.category
	if status == "" {
		status = StatusApproved
	}
	if category == "" {
		category = Utility
	}
	tpl, err := Parse("id-"+d.name, d.name, d.lang, status, category, d.format, raw)
	if err != nil {
		t.Fatalf("Parse(%s): %v", d.name, err)
	}
	return tpl
}

func build(t testing.TB, defs ...tdef) []*Template {
	t.Helper()
	var out []*Template
	for _, d := range defs {
		out = append(out, d.parse(t))
	}
	return out
}

// catalogue is a realistic mixed catalogue shared by the match table.
var catalogue = []tdef{
	{name: "order_shipped", lang: "en_US", body: "Your order {{1}} has shipped! Track it at https://shop.example/t/{{2}} (delivery in 2-3 days)."},
	{name: "order_shipped", lang: "de_DE", body: "Ihre Bestellung {{1}} wurde versandt! Sendungsverfolgung: https://shop.example/t/{{2}} (Lieferung in 2-3 Tagen)."},
	{name: "appointment_reminder", lang: "en_US", body: "Reminder: your appointment with Dr. {{1}} is on {{2}} at {{3}}.\nReply C to cancel."},
	{name: "otp_code", lang: "en_US", category: Authentication, body: "{{1}} is your verification code. For your security, do not share this code."},
	{name: "verification_code", lang: "en_US", category: Authentication, body: "*{{1}}* is your verification code. This code expires in 10 minutes.",
		buttons: `[{"type":"URL","text":"Copy code","url":"https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}","example":["https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp123456"]}]`},
	{name: "delivery_window", lang: "en_US", body: "Good news! Your parcel arrives today between {{1}} and {{2}}."},
	{name: "price_update", lang: "en_US", body: "Your new monthly price is $ {{1}}.{{2}} (incl. VAT)*."},
	{name: "welcome_named", lang: "de_DE", format: Named, body: "Hallo {{first_name}} 👋, willkommen bei {{shop}}! Schön, dass du da bist 😊"},
	{name: "quiz", lang: "en_US", body: "Q: (1+1)*2 = {{1}}? [a-z]+ \\d $ | {not a var} {{ ^ end."},
	{name: "auto_reply", lang: "en_US", body: "Thanks for your message. We will reply soon."},
	{name: "card_code", lang: "en_US", body: "Your gift card code: {{1}}{{2}} (valid 1 year)."},
	{name: "full_name", lang: "en_US", body: "Hello {{1}} {{2}}, welcome back to Example Bank."},
	{name: "balance", lang: "en_US", body: "Dear {{1}}, your balance is {{2}}. Thank you for banking with us, {{1}}."},
	{name: "status_ping", lang: "en_US", body: "Status: {{1}} ✅"},
	{name: "status_ping", lang: "de_DE", body: "Status: {{1}} ✅"},
	{name: "pickup_ready", lang: "en_US", body: "Your {{1}} is ready for pickup at {{2}}."},
	{name: "order_pickup_ready", lang: "en_US", body: "Your order {{1}} is ready for pickup at {{2}}."},
	{name: "code_tight", lang: "en_US", body: "Code:{{1}} (one-time)"},
	// Not taking part: not approved, or needing a value the text cannot give.
	{name: "paused_promo", lang: "en_US", status: "PAUSED", body: "Big sale! {{1}} off everything."},
	{name: "header_param", lang: "en_US", headerText: "Hi {{1}}", body: "Big sale! {{1}} off everything."},
	{name: "coupon", lang: "en_US", body: "Your coupon for {{1}} is below.", buttons: `[{"type":"COPY_CODE","example":"SAVE10"}]`},
}

func TestMatch(t *testing.T) {
	m := NewMatcher(build(t, catalogue...))
	if got, want := m.Len(), len(catalogue)-3; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	const (
		ok = iota
		none
		ambiguous
	)
	cases := []struct {
		name      string
		text      string
		languages []string
		outcome   int
		key       string // name/language on success
		params    []string
		named     map[string]string
		plain     bool
		ambKeys   []string // on ambiguity, when checked
	}{
		{name: "order shipped", text: "Your order 12345 has shipped! Track it at https://shop.example/t/ZX81-2231 (delivery in 2-3 days).",
			key: "order_shipped/en_US", params: []string{"12345", "ZX81-2231"}},
		{name: "order shipped german", text: "Ihre Bestellung A-77 wurde versandt! Sendungsverfolgung: https://shop.example/t/ZX81 (Lieferung in 2-3 Tagen).",
			languages: []string{"en_US"}, key: "order_shipped/de_DE", params: []string{"A-77", "ZX81"}},
		{name: "appointment date and time", text: "Reminder: your appointment with Dr. Müller is on 12.03.2026 at 14:30.\nReply C to cancel.",
			key: "appointment_reminder/en_US", params: []string{"Müller", "12.03.2026", "14:30"}},
		{name: "appointment value keeps its inner spaces", text: "Reminder: your appointment with Dr. Anna  Lena Müller is on Tue, 3 March at 2:30 pm. Reply C to cancel.",
			key: "appointment_reminder/en_US", params: []string{"Anna  Lena Müller", "Tue, 3 March", "2:30 pm"}},
		{name: "otp", text: "483920 is your verification code. For your security, do not share this code.",
			key: "otp_code/en_US", params: []string{"483920"}},
		{name: "otp surrounded by white space", text: "\n  483920 is your verification code.  For your security, do not share this code.\r\n",
			key: "otp_code/en_US", params: []string{"483920"}},
		{name: "otp as Meta lists it, with stars", text: "*123456* is your verification code. This code expires in 10 minutes.",
			key: "verification_code/en_US", params: []string{"123456"}},
		{name: "otp as Meta lists it, legacy text without stars", text: "123456 is your verification code. This code expires in 10 minutes.",
			key: "verification_code/en_US", params: []string{"123456"}, plain: true},
		{name: "otp half-starred", text: "*123456 is your verification code. This code expires in 10 minutes.", outcome: none},
		{name: "delivery window", text: "Good news! Your parcel arrives today between 10:00 and 12:00.",
			key: "delivery_window/en_US", params: []string{"10:00", "12:00"}},
		{name: "delivery window with 'and' in a value", text: "Good news! Your parcel arrives today between 10 and 11 and 12.", outcome: ambiguous,
			ambKeys: []string{"delivery_window/en_US"}},
		{name: "price", text: "Your new monthly price is $ 12.99 (incl. VAT)*.", key: "price_update/en_US", params: []string{"12", "99"}},
		{name: "price ambiguous dot", text: "Your new monthly price is $ 1.234.56 (incl. VAT)*.", outcome: ambiguous},
		{name: "price missing literal star", text: "Your new monthly price is $ 12.99 (incl. VAT).", outcome: none},
		{name: "named with emoji and umlauts", text: "Hallo Jörg 👋, willkommen bei Bäckerei Süß! Schön, dass du da bist 😊",
			key: "welcome_named/de_DE", named: map[string]string{"first_name": "Jörg", "shop": "Bäckerei Süß"}},
		{name: "regex characters are literal", text: "Q: (1+1)*2 = 4? [a-z]+ \\d $ | {not a var} {{ ^ end.", key: "quiz/en_US", params: []string{"4"}},
		{name: "regex characters are not patterns", text: "Q: 11112 = 4? a+ d $ | {not a var} {{ ^ end.", outcome: none},
		{name: "static text", text: "Thanks for your message. We will reply soon.", key: "auto_reply/en_US"},
		{name: "static text with other white space", text: "  Thanks  for your\nmessage.\t We will reply soon. ", key: "auto_reply/en_US"},
		{name: "static text with extra word", text: "Thanks for your message. We will reply soon!", outcome: none},
		{name: "white space runs match runs", text: "Your order  12345   has\nshipped!\r\nTrack it at https://shop.example/t/ZX81 (delivery in 2-3\u00a0days).",
			key: "order_shipped/en_US", params: []string{"12345", "ZX81"}},
		{name: "white space is not optional", text: "Your order 12345 hasshipped! Track it at https://shop.example/t/ZX81 (delivery in 2-3 days).", outcome: none},
		{name: "parameter containing a newline", text: "Good news! Your parcel arrives today between 10\n00 and 12:00.", outcome: none},
		{name: "parameter containing a tab", text: "Good news! Your parcel arrives today between 10\t00 and 12:00.", outcome: none},
		{name: "parameter with five spaces", text: "Good news! Your parcel arrives today between 10     00 and 12:00.", outcome: none},
		{name: "adjacent parameters, one split", text: "Your gift card code: AB (valid 1 year).", key: "card_code/en_US", params: []string{"A", "B"}},
		{name: "adjacent parameters, several splits", text: "Your gift card code: ABCD-1234 (valid 1 year).", outcome: ambiguous,
			ambKeys: []string{"card_code/en_US"}},
		{name: "two words in two parameters", text: "Hello Anna Schmidt, welcome back to Example Bank.", key: "full_name/en_US", params: []string{"Anna", "Schmidt"}},
		{name: "three words in two parameters", text: "Hello Anna Maria Schmidt, welcome back to Example Bank.", outcome: ambiguous},
		{name: "repeated placeholder, same value", text: "Dear Ms Meier, your balance is EUR 10.00. Thank you for banking with us, Ms  Meier.",
			key: "balance/en_US", params: []string{"Ms Meier", "EUR 10.00"}},
		{name: "repeated placeholder, other value", text: "Dear Ms Meier, your balance is EUR 10.00. Thank you for banking with us, Mr Meier.", outcome: none},
		{name: "same template, preferred language", text: "Status: shipped ✅", languages: []string{"fr_FR", "de_DE", "en_US"},
			key: "status_ping/de_DE", params: []string{"shipped"}},
		{name: "same template, other preference", text: "Status: shipped ✅", languages: []string{"en_US"},
			key: "status_ping/en_US", params: []string{"shipped"}},
		{name: "same template, no preferred language", text: "Status: shipped ✅", languages: []string{"fr_FR"}, outcome: ambiguous,
			ambKeys: []string{"status_ping/de_DE", "status_ping/en_US"}},
		{name: "same template, no languages", text: "Status: shipped ✅", outcome: ambiguous},
		{name: "two templates of the same shape", text: "Your order 5521 is ready for pickup at Main Street 5.", outcome: ambiguous,
			ambKeys: []string{"order_pickup_ready/en_US", "pickup_ready/en_US"}},
		{name: "one of two shapes", text: "Your bike is ready for pickup at Main Street 5.", key: "pickup_ready/en_US", params: []string{"bike", "Main Street 5"}},
		{name: "parameter may not start with white space", text: "Code: 5 (one-time)", outcome: none},
		{name: "tight parameter", text: "Code:5 (one-time)", key: "code_tight/en_US", params: []string{"5"}},
		{name: "paused template does not match", text: "Big sale! 20% off everything.", outcome: none},
		{name: "coupon template needs a button value", text: "Your coupon for shoes is below.", outcome: none},
		{name: "empty text", text: "", outcome: none},
		{name: "white space only", text: " \n\t ", outcome: none},
		{name: "invalid UTF-8", text: "Status: \xff ✅", outcome: none},
		{name: "too long", text: strings.Repeat("a", MaxTextLen+1), outcome: none},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := m.Match(c.text, c.languages)
			switch c.outcome {
			case none:
				if !errors.Is(err, ErrNoMatch) {
					t.Fatalf("Match = %+v, %v; want ErrNoMatch", r, err)
				}
				return
			case ambiguous:
				var ae *AmbiguousError
				if !errors.Is(err, ErrAmbiguous) || !errors.As(err, &ae) {
					t.Fatalf("Match = %+v, %v; want ErrAmbiguous", r, err)
				}
				if c.ambKeys != nil && !slices.Equal(ae.Templates, c.ambKeys) {
					t.Fatalf("ambiguous templates %v, want %v (%v)", ae.Templates, c.ambKeys, err)
				}
				for _, k := range ae.Templates {
					if !strings.Contains(err.Error(), k) {
						t.Errorf("error %q does not list %s", err, k)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Match: %v", err)
			}
			if got := r.Template.Key(); got != c.key {
				t.Fatalf("template %s, want %s", got, c.key)
			}
			if !slices.Equal(r.Params, c.params) || !reflect.DeepEqual(r.Named, c.named) || r.Plain != c.plain {
				t.Fatalf("params %q named %v plain %v; want %q %v %v", r.Params, r.Named, r.Plain, c.params, c.named, c.plain)
			}
			// The result can be sent as it is.
			if _, err := r.Template.Send(r.Values()); err != nil {
				t.Errorf("Send(result): %v", err)
			}
			checkRenders(t, r, c.text)
		})
	}
}

// checkRenders asserts that rendering the result reproduces text modulo
// white-space runs (and, for Plain results, the wrapping markers).
func checkRenders(t testing.TB, r Result, text string) {
	t.Helper()
	tpl := r.Template
	if r.Plain {
		cp := *tpl
		cp.Body, _ = plainBody(tpl.Body)
		tpl = &cp
	}
	got, err := tpl.Render(r.Values())
	if err != nil {
		t.Fatalf("Render(result): %v", err)
	}
	if prepare(got).n != prepare(text).n {
		t.Fatalf("Render(result) = %q does not reproduce %q", got, text)
	}
}

func TestMatchOTPSendFillsButton(t *testing.T) {
	m := NewMatcher(build(t, catalogue...))
	r, err := m.Match("123456 is your verification code. This code expires in 10 minutes.", nil)
	if err != nil {
		t.Fatal(err)
	}
	bt, err := r.Template.Send(r.Values())
	if err != nil {
		t.Fatal(err)
	}
	if len(bt.Buttons) != 1 || bt.Buttons[0].SubType != "url" || bt.Buttons[0].Payload != "123456" {
		t.Fatalf("buttons = %+v", bt.Buttons)
	}
}

func TestMatchAmbiguousNames(t *testing.T) {
	m := NewMatcher(build(t,
		tdef{name: "reminder_b", lang: "en_US", body: "Reminder: {{1}} is due on {{2}}."},
		tdef{name: "reminder_a", lang: "de_DE", body: "Reminder: {{1}} is due on {{2}}."},
		tdef{name: "reminder_a", lang: "en_US", body: "Reminder: {{1}} is due on {{2}}."},
	))
	_, err := m.Match("Reminder: invoice 7 is due on Friday.", []string{"en_US"})
	var ae *AmbiguousError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"reminder_a/de_DE", "reminder_a/en_US", "reminder_b/en_US"}
	if !slices.Equal(ae.Templates, want) {
		t.Fatalf("templates = %v, want %v", ae.Templates, want)
	}
}

// TestMatchChosenLanguageAmbiguous: the preferred language decides; its own
// ambiguity is then reported even if another language fits exactly once.
func TestMatchChosenLanguageAmbiguous(t *testing.T) {
	m := NewMatcher(build(t,
		tdef{name: "note", lang: "en_US", body: "Note: {{1}} {{2}}!"},
		tdef{name: "note", lang: "en_GB", body: "Note: {{1}}!"},
	))
	r, err := m.Match("Note: a b c!", []string{"en_GB", "en_US"})
	if err != nil || r.Template.Language != "en_GB" || r.Params[0] != "a b c" {
		t.Fatalf("en_GB first: %+v, %v", r, err)
	}
	if _, err := m.Match("Note: a b c!", []string{"en_US", "en_GB"}); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("en_US first: err = %v, want ambiguous", err)
	}
}

func TestMatchExactDuplicates(t *testing.T) {
	m := NewMatcher(build(t,
		tdef{name: "auto_reply", lang: "en_US", body: "We are closed today."},
		tdef{name: "holiday_notice", lang: "en_US", body: "We are closed  today."},
		tdef{name: "auto_reply", lang: "en_US", body: "duplicate key, skipped"},
	))
	if m.Len() != 2 {
		t.Fatalf("Len = %d", m.Len())
	}
	if _, err := m.Match("We are closed today.", nil); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("err = %v", err)
	}
	if _, err := m.Match("duplicate key, skipped", nil); !errors.Is(err, ErrNoMatch) {
		t.Fatalf("err = %v", err)
	}
}

func TestMatcherSkipsMalformedHandBuilt(t *testing.T) {
	good := &Template{Name: "x", Language: "en", Status: StatusApproved, Body: "Hi {{1}}", BodyParams: []string{"1"}}
	bad := &Template{Name: "y", Language: "en", Status: StatusApproved, Body: "Hi {{name}}", BodyParams: []string{"name"}}
	stale := &Template{Name: "z", Language: "en", Status: StatusApproved, Body: "Yo {{1}} {{2}}", BodyParams: []string{"1"}}
	m := NewMatcher([]*Template{nil, good, bad, stale})
	if m.Len() != 1 {
		t.Fatalf("Len = %d, want 1", m.Len())
	}
	if r, err := m.Match("Hi there", nil); err != nil || r.Params[0] != "there" {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestPlainBody(t *testing.T) {
	cases := map[string]string{
		"*{{1}}* is your code":   "{{1}} is your code",
		"_{{1}}_ and ~{{2}}~":    "{{1}} and {{2}}",
		"*{{1}}*{{2}}*":          "{{1}}{{2}}*",
		"*{{1}} and {{2}}*":      "*{{1}} and {{2}}*",
		"*bold* {{1}}":           "*bold* {{1}}",
		"*{{1}}_":                "*{{1}}_",
		"no placeholders at all": "no placeholders at all",
	}
	for in, want := range cases {
		if got, _ := plainBody(in); got != want {
			t.Errorf("plainBody(%q) = %q, want %q", in, got, want)
		}
	}
}

// oracle counts, by plain exhaustive search, the ways text fits the body
// under the documented rules, including the second try without wrapping
// markers. It shares only prepare, collapse and plainBody with the matcher.
func oracle(tpl *Template, text string) (ways int, values map[string]string, plain bool) {
	ways, values = oracleBody(tpl.Body, nil, text)
	if ways == 0 && isWrapped(tpl.Body) {
		pb, wrapped := plainBody(tpl.Body)
		ways, values = oracleBody(pb, wrapped, text)
		plain = true
	}
	return ways, values, plain
}

func oracleBody(body string, wrapped []byte, text string) (ways int, values map[string]string) {
	tx := prepare(text)
	N := tx.n
	bad := map[int]bool{}
	for _, b := range tx.bad {
		bad[b] = true
	}
	body = strings.TrimSpace(body)
	var lits, names []string
	prev := 0
	for _, l := range placeholderRE.FindAllStringSubmatchIndex(body, -1) {
		lits = append(lits, collapse(body[prev:l[0]]))
		names = append(names, body[l[2]:l[3]])
		prev = l[1]
	}
	lits = append(lits, collapse(body[prev:]))
	vals := map[string]string{}
	var rec func(k, pos int)
	rec = func(k, pos int) {
		if !strings.HasPrefix(N[pos:], lits[k]) {
			return
		}
		pos += len(lits[k])
		if k == len(names) {
			if pos == len(N) {
				ways++
				values = map[string]string{}
				for n, v := range vals {
					values[n] = v
				}
			}
			return
		}
	next:
		for end := pos + 1; end <= len(N); end++ {
			v := N[pos:end]
			if !utf8.ValidString(v) || v[0] == ' ' || v[len(v)-1] == ' ' {
				continue
			}
			if wrapped != nil && wrapped[k] != 0 && (v[0] == wrapped[k] || v[len(v)-1] == wrapped[k]) {
				continue
			}
			for i := pos; i < end; i++ {
				if bad[i] {
					break next
				}
			}
			prevVal, had := vals[names[k]]
			if had && prevVal != v {
				continue
			}
			vals[names[k]] = v
			rec(k+1, end)
			if !had {
				delete(vals, names[k])
			}
		}
	}
	rec(0, 0)
	return ways, values
}

// TestMatchAgainstOracle compares the matcher with exhaustive search on
// random small bodies and texts.
func TestMatchAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bodyTokens := []string{"a", "b", "ä", " ", "\n", "{{1}}", "{{2}}", "{{3}}", ".", "*", "*{{1}}*", "_{{2}}_"}
	textTokens := []string{"a", "b", "ä", " ", "  ", "\n", "\t", ".", "*", "_", "     "}
	checked, fits := 0, 0
	for iter := 0; iter < 4000; iter++ {
		var body strings.Builder
		for range 1 + rng.IntN(7) {
			body.WriteString(bodyTokens[rng.IntN(len(bodyTokens))])
		}
		raw, _ := json.Marshal([]map[string]string{{"type": "BODY", "text": body.String()}})
		tpl, err := Parse("1", "t", "en", StatusApproved, Utility, "", raw)
		if err != nil || strings.TrimSpace(tpl.Body) == "" {
			continue // positional gaps or empty
		}
		m := NewMatcher([]*Template{tpl})
		for range 10 {
			var text strings.Builder
			for range rng.IntN(10) {
				text.WriteString(textTokens[rng.IntN(len(textTokens))])
			}
			// Half the time, start from a rendering so that fits are common.
			if rng.IntN(2) == 0 && len(tpl.BodyParams) > 0 {
				vals := make([]string, len(tpl.BodyParams))
				for i := range vals {
					vals[i] = []string{"a", "b a", "ä", "a.b", "a  b", "*"}[rng.IntN(6)]
				}
				s, _ := tpl.Render(Values{Body: vals})
				text.Reset()
				text.WriteString(s)
			}
			want, wantVals, wantPlain := oracle(tpl, text.String())
			r, err := m.Match(text.String(), nil)
			checked++
			switch {
			case want == 0:
				if !errors.Is(err, ErrNoMatch) {
					t.Fatalf("body %q text %q: oracle finds no fit, Match = %+v, %v", tpl.Body, text.String(), r, err)
				}
			case want > 1:
				if !errors.Is(err, ErrAmbiguous) {
					t.Fatalf("body %q text %q: oracle finds %d fits, Match = %+v, %v", tpl.Body, text.String(), want, r, err)
				}
			default:
				fits++
				if err != nil {
					t.Fatalf("body %q text %q: oracle finds one fit %v, Match: %v", tpl.Body, text.String(), wantVals, err)
				}
				if r.Plain != wantPlain {
					t.Fatalf("body %q text %q: Plain = %v, oracle %v", tpl.Body, text.String(), r.Plain, wantPlain)
				}
				for i, v := range r.Params {
					if collapse(v) != wantVals[fmt.Sprint(i+1)] {
						t.Fatalf("body %q text %q: {{%d}} = %q, oracle %q", tpl.Body, text.String(), i+1, v, wantVals[fmt.Sprint(i+1)])
					}
				}
				checkRenders(t, r, text.String())
			}
		}
	}
	t.Logf("%d checks, %d unique fits", checked, fits)
	if fits < 3000 {
		t.Fatalf("only %d unique fits in %d checks; the generator is too weak", fits, checked)
	}
}

func TestMatchConcurrent(t *testing.T) {
	m := NewMatcher(build(t, catalogue...))
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				var r Result
				r, err = m.Match(fmt.Sprintf("Your order %d has shipped! Track it at https://shop.example/t/T%d (delivery in 2-3 days).", i, g), nil)
				if err == nil && r.Params[0] != fmt.Sprint(i) {
					err = fmt.Errorf("got %v", r.Params)
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// isWrapped reports whether body has a placeholder wrapped in a marker.
func isWrapped(body string) bool {
	pb, _ := plainBody(body)
	return pb != body
}

// TestMatchLongTexts runs contrived texts near MaxTextLen: templates without
// repeated placeholders are decided exactly (the table is linear per
// placeholder); a repeated placeholder whose search exceeds the work bound
// is reported as ambiguous, never guessed.
func TestMatchLongTexts(t *testing.T) {
	words := strings.Repeat("a ", 2600) // 5200 bytes
	line := strings.TrimSpace(words)
	cases := []struct {
		body, text string
		outcome    string // "ok", "none", "ambiguous", "too complex"
		params     []string
	}{
		{"Lines: {{1}}\n{{2}}\n{{3}}.", "Lines: " + line + "\n" + line + "\n" + line + ".", "ok", []string{line, line, line}},
		{"{{1}} {{2}} {{3}} {{4}} {{5}}!", words + "\n\na!", "ambiguous", nil},
		{"{{1}}{{2}}{{3}}{{4}}{{5}}{{6}}", strings.Repeat("a", 16000), "ambiguous", nil},
		{"x{{1}}x{{2}}x{{3}}x", strings.Repeat("x", 16000), "ambiguous", nil},
		{"{{1}}a{{2}}a{{3}}a{{4}}a{{5}}", strings.Repeat("ab", 8000), "ambiguous", nil},
		{"{{1}} {{2}} {{3}}.", words + "\n" + words + "\n" + words + ".", "none", nil},
		{"{{1}} a {{2}} a {{1}} a {{2}} b", words + "b", "too complex", nil},
		{"{{1}} {{1}} {{1}} {{2}}", words + "\nb", "none", nil}, // 2600 words do not split in three
		{"{{1}} {{1}} {{1}} {{2}}", words + "a\nb", "ok", []string{strings.TrimSpace(strings.Repeat("a ", 867)), "b"}},
	}
	for _, c := range cases {
		m := NewMatcher([]*Template{tdef{name: "long", lang: "en", body: c.body}.parse(t)})
		r, err := m.Match(c.text, nil)
		var ae *AmbiguousError
		switch c.outcome {
		case "ok":
			if err != nil || !slices.Equal(r.Params, c.params) {
				t.Errorf("%q: %v (%d params)", c.body, err, len(r.Params))
			}
		case "none":
			if !errors.Is(err, ErrNoMatch) {
				t.Errorf("%q: err = %v, want no match", c.body, err)
			}
		case "ambiguous":
			if !errors.As(err, &ae) || strings.Contains(ae.Reason, "complex") {
				t.Errorf("%q: err = %v, want ambiguous", c.body, err)
			}
		case "too complex":
			if !errors.As(err, &ae) || !strings.Contains(ae.Reason, "too complex") {
				t.Errorf("%q: err = %v, want too complex", c.body, err)
			}
		}
	}
}
