package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

// The single-pass parser must give exactly the events and errors of the
// map-based parser it replaced (legacyParse, legacy_parse_test.go). These
// tests run both on the golden payloads, the fuzz seeds, hand-written odd
// inputs and systematic mutations of all of them; FuzzParseMatchesLegacy
// does the same for arbitrary input.

// diffParsers runs both parsers on body and reports any difference: the
// events (reflect.DeepEqual, so nil and empty differ too), the error text
// and which sentinel it wraps. The new parser reads a private copy that is
// overwritten afterwards, so events that alias the body show up as
// differences.
func diffParsers(t testing.TB, p *Parser, body []byte) {
	t.Helper()
	want, wantErr := p.legacyParse(bytes.Clone(body))
	in := bytes.Clone(body)
	got, gotErr := p.Parse(in)
	for i := range in {
		in[i] = '#'
	}
	if (gotErr == nil) != (wantErr == nil) ||
		gotErr != nil && (gotErr.Error() != wantErr.Error() ||
			errors.Is(gotErr, ErrInvalidJSON) != errors.Is(wantErr, ErrInvalidJSON) ||
			errors.Is(gotErr, ErrWrongObject) != errors.Is(wantErr, ErrWrongObject)) {
		t.Fatalf("body %q:\nerror %v\nwant  %v", body, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %q:\nevents %s\nwant   %s", body, dumpEvents(got), dumpEvents(want))
	}
	if v := validJSON(body); v != json.Valid(body) {
		t.Fatalf("validJSON(%q) = %v, json.Valid %v", body, v, !v)
	}
}

// dumpEvents renders events for a failure message, nil-ness included.
func dumpEvents(events []bridge.Event) string {
	if events == nil {
		return "nil"
	}
	var b strings.Builder
	for _, e := range events {
		b.WriteString("\n  ")
		switch {
		case e.Inbound != nil:
			j, _ := json.Marshal(e.Inbound)
			b.WriteString("inbound " + string(j))
			b.WriteString(" " + describeNils(e.Inbound.Content))
		case e.Status != nil:
			j, _ := json.Marshal(e.Status)
			b.WriteString("status " + string(j))
		case e.Other != nil:
			j, _ := json.Marshal(e.Other)
			b.WriteString("other " + string(j))
		default:
			b.WriteString("empty")
		}
	}
	return b.String()
}

// describeNils shows what JSON output hides: nil versus empty slices.
func describeNils(c bridge.Content) string {
	return strings.Join([]string{
		"raw-nil=" + boolWord(c.Raw == nil),
		"contacts-nil=" + boolWord(c.Contacts == nil),
		"interactive-nil=" + boolWord(c.Interactive == nil),
		"referral-nil=" + boolWord(c.Referral == nil),
		"errors-nil=" + boolWord(c.Errors == nil),
	}, " ")
}

func boolWord(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// diffCorpus is every body the differential tests start from.
func diffCorpus(t testing.TB) [][]byte {
	corpus := parseSeeds(t)
	env := func(changes string) []byte {
		return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[` + changes + `]}]}`)
	}
	msgs := func(value string) []byte { return env(`{"field":"messages","value":` + value + `}`) }
	for _, s := range []string{
		// Envelopes.
		``, ` `, `{`, `[]`, `"x"`, `null`, `1`, `{}`, ` {} `, "\t{\"object\":\"whatsapp_business_account\"}\r\n",
		`{"object":"page","entry":[]}`, `{"object":1}`, `{"object":-1.5e3}`, `{"object":null}`, `{"object":["whatsapp_business_account"]}`,
		`{"object":"whatsapp_business_account"}`, `{"object":"whatsapp_business_account","entry":5}`,
		`{"object":"whatsapp_business_account","entry":[5,"x",null,{"changes":{}}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[1,{"field":5}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages"}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"event":"X"}}]}]}`,
		`{"object":"x","object":"whatsapp_business_account","entry":[]}`,
		`{"object":"whatsapp_business_account","object":"x"}`,
		`{"\u006fbject":"whatsapp_business_account","entry":[{"changes":[{"field":"f","value":{"event":7}}]}]}`,
		`{"Object":"whatsapp_business_account"}`,
		`{"object":"whatsapp_business_\u0061ccount","entry":[]}`,
		`{"object":"whatsapp_business_account\u0000"}`,
		"{\"object\":\"\xff\"}",
		"{\"object\":\"whatsapp_business_account\",\"\xff\":1,\"entry\":[]}",
		`{"object":"whatsapp_business_account","entry":[],"entry":[{"changes":[{"field":"x","value":{}}]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"x","value":{}}],"changes":[]}]}`,
		`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"x","field":"y","value":1,"value":{"event":"E","event":["x"]}}]}]}`,
		`{"object" : "whatsapp_business_account" , "entry" : [ { "changes" : [ { "field" : "t" , "value" : { "event" : "A" , "n" : [ 1 , 2 ] } } ] } ] }`,
	} {
		corpus = append(corpus, []byte(s))
	}
	for _, v := range []string{
		`"x"`, `null`, `[]`, `{}`, `{"messaging_product":"whatsapp"}`,
		`{"messages":5,"statuses":{"a":1},"contacts":"x","metadata":[]}`,
		`{"messages":[1,null,{"id":5}],"statuses":[[],{"status":"sent"}]}`,
		`{"messages":[{"from":"491511","type":"text"},{"id":"wamid.A","type":"text"},"x"],"statuses":[{"id":"wamid.B"},7]}`,
		`{"errors":[]}`, `{"errors":[1]}`, `{"errors":{}}`, `{"errors":[{"code":1}],"statuses":[{"id":"w","status":"sent"}]}`,
		`{"metadata":{"phone_number_id":106540352242922,"display_phone_number":"+1 (555) 078-3881"},"statuses":[{"id":"w","status":"sent"}]}`,
		`{"metadata":{"phone_number_id":"106540352242922","phone_number_id":"1"},"statuses":[{"id":"w","status":"sent"}]}`,
		`{"contacts":[{"wa_id":"1","user_id":"US.1","profile":{"name":"A","name":"B"}},{"wa_id":1,"user_id":2}],"statuses":[{"id":"w","status":"sent","recipient_id":1}],"messages":[{"id":"m","from":"1","type":"text"},{"id":"m","from_user_id":2,"type":"text"}]}`,
		`{"statuses":[{"id":"","status":"sent"},{"id":"w","status":""},{"id":"w","status":5},{"id":5,"status":"sent"},{"id":"w","status":"sent","id":""},{"id":"\u0000","status":"\ud800"}]}`,
		`{"statuses":[{"id":"w","status":"failed","errors":[{"code":"131047"},{"code":1}]},{"id":"w","status":"failed","errors":[5,{"code":1e10}]},{"id":"w","status":"undelivered","errors":[{"code":-2147483649},{"code":"x"}]}]}`,
		`{"statuses":[{"id":"w","status":"read","recipient_type":"group","recipient_id":"1","recipient_participant_id":"2"},{"id":"w","status":"read","recipient_type":"\u0067roup","recipient_participant_id":"+49 30 1234567"},{"id":"w","status":"read","recipient_type":"Group","recipient_id":"abc"}]}`,
		`{"statuses":[{"id":"w","status":"sent","timestamp":"1.5e9"},{"id":"w","status":"sent","timestamp":"0x1p30"},{"id":"w","status":"sent","timestamp":"Inf"},{"id":"w","status":"sent","timestamp":"NaN"},{"id":"w","status":"sent","timestamp":253402300800},{"id":"w","status":"sent","timestamp":"1_000"},{"id":"w","status":"sent","timestamp":-0}]}`,
		`{"statuses":[{"id":"w","status":"sent","pricing":{"category":1},"biz_opaque_callback_data":{"a":1}},{"id":"w","status":"sent","pricing":"x","recipient_user_id":"US.5","recipient_id":"5"}]}`,
		`{"messages":[{"id":"m","from":"1","type":"text","text":{"body":"a\u00e9\ud83d\ude00b\\\"\/"}},{"id":"m","from":"1","type":"text","text":"x"},{"id":"m","from":"1","type":"text","text":{"body":5.50}}]}`,
		"{\"messages\":[{\"id\":\"m\",\"from\":\"1\",\"type\":\"text\",\"text\":{\"body\":\"a\xffb\xc3\"}},{\"id\":\"m\xed\xa0\x80\",\"from\":\"1\",\"type\":\"te\\u0078t\",\"t\\u0065xt\":{\"body\":\"\\udc00\"}}]}",
		`{"messages":[{"id":"m","from":"1","type":"image","image":{"id":1,"voice":"true","animated":true}},{"id":"m","from":"1","type":"audio","audio":{"voice":"TRUE","animated":1}},{"id":"m","from":"1","type":"sticker","sticker":{"animated":"tr\u0075e","voice":null}},{"id":"m","from":"1","type":"video","video":null}]}`,
		`{"messages":[{"id":"m","from":"1","type":"location","location":{"latitude":"52.5","longitude":1e400,"name":1}},{"id":"m","from":"1","type":"location","location":{"latitude":"nan","longitude":"-inf"}}]}`,
		`{"messages":[{"id":"m","from":"1","type":"contacts","contacts":[ {"name" : {"formatted_name":"A"}} ]},{"id":"m","from":"1","type":"contacts","contacts":null},{"id":"m","from":"1","type":"contacts"}]}`,
		`{"messages":[{"id":"m","from":"1","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"b","title":"T"},"button_reply":5}},{"id":"m","from":"1","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":1,"description":2}}},{"id":"m","from":"1","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"body":"Sent","response_json":"{\"a\":1}"}}},{"id":"m","from":"1","type":"interactive","interactive":{"type":"type"}},{"id":"m","from":"1","type":"interactive","interactive":{"type":"","":{"id":"x"}}},{"id":"m","from":"1","type":"interactive","interactive":[]}]}`,
		`{"messages":[{"id":"m","from":"1","type":"button","button":{"text":1,"payload":"p"}},{"id":"m","from":"1","type":"reaction","reaction":{"message_id":"w","emoji":"\ud83d\udc4d"}},{"id":"m","from":"1","type":"reaction","reaction":"x"},{"id":"m","from":"1","type":"button","button":[]}]}`,
		`{"messages":[{"id":"m","from":"1","type":"system","system":{"type":"user_changed_number","new_wa_id":"2","wa_id":""}},{"id":"m","from":"1","type":"system","system":{"wa_id":3,"new_wa_id":"2","body":null}},{"id":"m","from":"1","type":"system","system":"x"}]}`,
		`{"messages":[{"id":"m","from":"1","type":"unsupported","errors":[{"code":131051,"title":"t","message":"m","error_data":{"details":"d"}}]},{"id":"m","from":"1","type":"order"},{"id":"m","from":"1","type":5},{"id":"m","from":"1"}]}`,
		`{"messages":[{"id":"m","from":"1","type":"text","context":{"forwarded":"true"}},{"id":"m","from":"1","type":"text","context":{"id":5,"from":6,"frequently_forwarded":1}},{"id":"m","from":"1","type":"text","context":"x"},{"id":"m","from":"1","type":"text","context":{}}]}`,
		`{"messages":[{"id":"m","from":"1","type":"text","referral":null},{"id":"m","from":"1","type":"text","referral":{ "a" : [ 1 , { } ] }},{"id":"m","from":"1","type":"text","referral":"x"},{"id":"m","from":"1","type":"text","referral":0}]}`,
		`{"messages":[{"id":"m","from":"+49 30 1234567","type":"text"},{"id":"m","from":"abc","type":"text"},{"id":"m","from":" 123 ","type":"text"},{"id":"m","from":"+","type":"text"},{"id":"m","from":"","from_user_id":"","type":"text"}]}`,
		`{"messages":[{"ID":"m","From":"1","type":"text"},{"i\u0064":"m","\u0066rom":"1","type":"text"},{"id":"m","id":null,"from":"1"}]}`,
	} {
		corpus = append(corpus, msgs(v))
	}
	corpus = append(corpus,
		env(`{"field":"messages","value":{"statuses":[{"id":"a","status":"sent"}]}},{"field":"messages","value":{"messages":[{"id":"b","from":"1","type":"text","text":{"body":"x"}}]}},{"field":"account_update","value":{"event":"VERIFIED_ACCOUNT"}}`),
		env(`{"field":"messages","value":{"statuses":[{"id":"a","status":"sent"},{"id":"b","status":"delivered"},{"id":"c","status":"read"}]}}`),
		env(`{"field":5,"value":{"event":"A"}},{"field":null},{"field":"\u006dessages","value":{"statuses":[{"id":"a","status":"sent"}]}}`),
	)
	// Nesting at and beyond encoding/json's limit, at the top and eight
	// levels down (in a message's referral).
	for _, depth := range []int{maxDepth, maxDepth + 1} {
		corpus = append(corpus, []byte(strings.Repeat("[", depth)+strings.Repeat("]", depth)))
		d := depth - 8
		corpus = append(corpus, msgs(`{"messages":[{"id":"m","from":"1","type":"text","referral":`+strings.Repeat("[", d)+strings.Repeat("]", d)+`}]}`))
	}
	return corpus
}

// TestParseMatchesLegacy: the corpus as it is, re-indented and compacted.
func TestParseMatchesLegacy(t *testing.T) {
	p := NewParser(goldenNumbers)
	for _, body := range diffCorpus(t) {
		diffParsers(t, p, body)
		if len(body) <= 4096 && json.Valid(body) { // not the deep ones: indented, they are huge
			var b bytes.Buffer
			if err := json.Indent(&b, body, "\n\t ", "\r\n  "); err != nil {
				t.Fatal(err)
			}
			diffParsers(t, p, b.Bytes())
			b.Reset()
			if err := json.Compact(&b, body); err != nil {
				t.Fatal(err)
			}
			diffParsers(t, p, b.Bytes())
		}
	}
}

// replacements are what TestParseMatchesLegacyMutated puts in place of each
// value: every JSON type, and strings and numbers the lenient readers treat
// specially.
var replacements = []string{
	`null`, `true`, `false`, `0`, `-1`, `7.5e2`, `1e999`, `"1750030073"`, `1750030073`,
	`""`, `"true"`, `"x"`, `"\u0041\ud800"`, "\"\xff\"", `[]`, `[null,{}]`, `{}`, `{"x":1}`,
	`"whatsapp_business_account"`, `"messages"`, `"failed"`, `"group"`, `"text"`, `"button_reply"`,
}

// valueSpans returns the [start, end) of every value in the valid JSON
// body, outermost first, and of every member name with the end of its
// value (start, end, value's end).
func valueSpans(body []byte) (values [][2]int, keys [][3]int) {
	var walk func(v jv)
	walk = func(v jv) {
		values = append(values, [2]int{v.off, v.off + len(v.b)})
		for it := v.members(); it.next(); {
			keys = append(keys, [3]int{it.key.off, it.key.off + len(it.key.b), it.val.off + len(it.val.b)})
			walk(it.val)
		}
		for it := v.elements(); it.next(); {
			walk(it.val)
		}
	}
	var d doc
	if !d.check(body) {
		panic("valueSpans: invalid JSON")
	}
	walk(d.root())
	return values, keys
}

// TestParseMatchesLegacyMutated: every value of every valid corpus body
// replaced by each of the replacements, every member name escaped,
// upper-cased and duplicated, and random byte edits.
func TestParseMatchesLegacyMutated(t *testing.T) {
	p := NewParser(goldenNumbers)
	rng := rand.New(rand.NewSource(1))
	n := 0
	check := func(body []byte) {
		n++
		diffParsers(t, p, body)
	}
	splice := func(body []byte, start, end int, with string) []byte {
		out := append([]byte(nil), body[:start]...)
		out = append(out, with...)
		return append(out, body[end:]...)
	}
	edits := 200
	if testing.Short() {
		edits = 20
	}
	for _, body := range diffCorpus(t) {
		if len(body) > 4096 || !json.Valid(body) {
			continue
		}
		values, keys := valueSpans(body)
		for _, s := range values {
			for _, r := range replacements {
				check(splice(body, s[0], s[1], r))
			}
		}
		for _, s := range keys {
			name := string(body[s[0]+1 : s[1]-1])
			if name == "" {
				continue
			}
			check(splice(body, s[0], s[1], `"\u00`+hexByte(name[0])+name[1:]+`"`))
			check(splice(body, s[0], s[1], `"`+strings.ToUpper(name)+`"`))
			check(splice(body, s[0], s[1], "\"\xff"+name+`"`))
			// The member again after itself, with a null value, and before
			// itself, with a string value.
			check(splice(body, s[0], s[0], `"`+name+`":"dup",`))
			check(splice(body, s[2], s[2], `,"`+name+`":null`))
		}
		// Random edits: mostly invalid JSON, some subtly different.
		const bytesIn = "{}[]\":,\\ \t\n0159.-+eEtrufalsn\x00\x1f\x7f\xff\xc3"
		for range edits {
			b := bytes.Clone(body)
			for range 1 + rng.Intn(3) {
				i := rng.Intn(len(b) + 1)
				switch rng.Intn(3) {
				case 0:
					b = splice(b, i, i, string(bytesIn[rng.Intn(len(bytesIn))]))
				case 1:
					if i < len(b) {
						b = splice(b, i, i+1, "")
					}
				default:
					if i < len(b) {
						b[i] = bytesIn[rng.Intn(len(bytesIn))]
					}
				}
			}
			check(b)
		}
	}
	t.Logf("%d mutated bodies", n)
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

// TestValidJSONMatchesEncodingJSON: the validator on inputs around each
// grammar rule.
func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		``, ` `, `0`, `-0`, `-`, `01`, `1.`, `1.0`, `.5`, `1e`, `1e+`, `1e+5`, `1E-05`, `-1.5e3`, `+1`, `1 2`,
		`true`, `tru`, `truex`, `false`, `null`, `nul`, `nulll`, `NaN`, `Infinity`,
		`""`, `"`, `"\"`, `"\\"`, `"\u12"`, `"\u12g4"`, `"\u12AF"`, `"\x"`, `"\/"`, "\"\x00\"", "\"\x1f\"", "\"\x7f\"", "\"\xff\"",
		`[]`, `[`, `]`, `[1,]`, `[,1]`, `[1 2]`, `[1,2]`, `{}`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,"a":1}`,
		`{"a":1 "b":2}`, `{"a" : 1 , "b" : [ ] }`, `{1:2}`, `{"a":1]`, `[1}`, `[{]}`, `[[[]]]`, `[[[]]`,
		"\t\r\n {}\n", "\v{}", "\u00a0{}", "{}\x00", `{"a":"b"}{}`,
	} {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzParseMatchesLegacy: for any body, Parse gives exactly legacyParse's
// events and error, and validJSON agrees with json.Valid.
func FuzzParseMatchesLegacy(f *testing.F) {
	for _, seed := range diffCorpus(f) {
		f.Add(seed)
	}
	p := NewParser(goldenNumbers)
	f.Fuzz(func(t *testing.T, body []byte) {
		diffParsers(t, p, body)
	})
}

// TestNumMatchesParseFloat: the digits fast path reads what ParseFloat
// reads, as a number and as a numeric string.
func TestNumMatchesParseFloat(t *testing.T) {
	for _, s := range []string{"0", "7", "007", "1750030073", "999999999999999", "1000000000000000",
		"9007199254740993", "12345678901234567890", "-1", "1.5", "1e3", "", "１２"} {
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(want, 0) {
			want = 0
		}
		for _, raw := range []string{s, strconv.Quote(s)} {
			var d doc
			if !d.check([]byte(raw)) {
				continue // not JSON as a bare number
			}
			if got := d.root().num(); got != want {
				t.Errorf("num(%s) = %v, want %v", raw, got, want)
			}
		}
	}
}
