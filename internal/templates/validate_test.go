package templates

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestValidateNew(t *testing.T) {
	const goodBody = `{"type":"BODY","text":"Your order {{1}} has shipped and arrives on {{2}}.","example":{"body_text":[["12345","Monday"]]}}`
	comps := func(cs ...string) json.RawMessage { return json.RawMessage("[" + strings.Join(cs, ",") + "]") }
	type call struct {
		name, language, category, format string
		components                       json.RawMessage
	}
	ok := func(c json.RawMessage) call { return call{"order_update", "en_US", "UTILITY", "", c} }
	cases := []struct {
		name string
		call call
		want []string // substrings of the problems; none = valid
	}{
		{"positional ok", ok(comps(goodBody)), nil},
		{"full marketing template", call{"seasonal_promotion", "en", "marketing", "POSITIONAL", comps(
			`{"type":"HEADER","format":"TEXT","text":"Our {{1}} is on!","example":{"header_text":["Summer Sale"]}}`,
			`{"type":"BODY","text":"Shop now through the end of August and use code {{1}} to get {{2}} off of all merchandise.","example":{"body_text":[["25OFF","25%"]]}}`,
			`{"type":"FOOTER","text":"Use the buttons below to manage your marketing subscriptions"}`,
			`{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Unsubscribe from Promos"},{"type":"URL","text":"Shop","url":"https://shop.example/s/{{1}}","example":["https://shop.example/s/summer"]},{"type":"PHONE_NUMBER","text":"Call","phone_number":"+15550123456"},{"type":"COPY_CODE","example":"SAVE10"}]}`)}, nil},
		{"named ok", call{"order_confirmation", "en_US", "UTILITY", "NAMED", comps(
			`{"type":"header","format":"text","text":"Hi {{first_name}}","example":{"header_text_named_params":[{"param_name":"first_name","example":"Pablo"}]}}`,
			`{"type":"body","text":"Thank you, {{first_name}}! Your order number is {{order_number}}.","example":{"body_text_named_params":[{"param_name":"first_name","example":"Pablo"},{"param_name":"order_number","example":"860198"}]}}`)}, nil},
		{"image header ok", ok(comps(`{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1hZ2UvcG5n:ARZ"]}}`, goodBody)), nil},
		{"location header ok", ok(comps(`{"type":"HEADER","format":"LOCATION"}`, goodBody)), nil},
		{"authentication ok", call{"login_code", "en_US", "AUTHENTICATION", "", comps(
			`{"type":"BODY","add_security_recommendation":true}`,
			`{"type":"FOOTER","code_expiration_minutes":10}`,
			`{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE","text":"Copy code"}]}`)}, nil},
		{"unknown component left to Meta", ok(comps(goodBody, `{"type":"CAROUSEL","cards":[]}`)), nil},

		{"bad name", call{"Order Update", "en_US", "UTILITY", "", comps(goodBody)}, []string{"name must be 1 to 512 lowercase"}},
		{"long name", call{strings.Repeat("a", 513), "en_US", "UTILITY", "", comps(goodBody)}, []string{"name must be"}},
		{"bad language", call{"x", "english", "UTILITY", "", comps(goodBody)}, []string{`language "english"`}},
		{"bad category", call{"x", "en_US", "TRANSACTIONAL", "", comps(goodBody)}, []string{`category "TRANSACTIONAL"`}},
		{"bad format", call{"x", "en_US", "UTILITY", "MIXED", comps(goodBody)}, []string{`parameter_format "MIXED"`}},
		{"not an array", ok(json.RawMessage(`{"type":"BODY"}`)), []string{"components must be a JSON array"}},
		{"no body", ok(comps(`{"type":"FOOTER","text":"x"}`)), []string{"a BODY component is required"}},
		{"two bodies", ok(comps(goodBody, goodBody)), []string{"more than one BODY"}},
		{"empty body", ok(comps(`{"type":"BODY","text":"  "}`)), []string{"BODY: text is required"}},
		{"long body", ok(comps(`{"type":"BODY","text":"` + strings.Repeat("ä", 1025) + `"}`)), []string{"BODY: text has 1025 characters, at most 1024"}},
		{"body example missing", ok(comps(`{"type":"BODY","text":"Order {{1}} arrives {{2}}."}`)), []string{"BODY: example.body_text is missing (needs 2 values for {{1}}, {{2}})"}},
		{"body example short", ok(comps(`{"type":"BODY","text":"Order {{1}} arrives {{2}}.","example":{"body_text":[["1"]]}}`)), []string{"BODY: example.body_text has 1 values, needs 2"}},
		{"body example empty value", ok(comps(`{"type":"BODY","text":"Order {{1}} arrives {{2}}.","example":{"body_text":[["1"," "]]}}`)), []string{"BODY: example value for {{2}} is empty"}},
		{"gap", ok(comps(`{"type":"BODY","text":"Order {{1}} arrives {{3}}.","example":{"body_text":[["1","2"]]}}`)), []string{"without gaps"}},
		{"out of order", ok(comps(`{"type":"BODY","text":"Order {{2}} arrives {{1}}.","example":{"body_text":[["1","2"]]}}`)), []string{"found {{2}} where {{1}} was expected"}},
		{"named in positional", ok(comps(`{"type":"BODY","text":"Hi {{first_name}}."}`)), []string{"is named but the template is POSITIONAL"}},
		{"named example missing", call{"x", "en_US", "UTILITY", "NAMED", comps(
			`{"type":"BODY","text":"Hi {{first_name}}, order {{order_id}}.","example":{"body_text_named_params":[{"param_name":"first_name","example":"Ann"},{"param_name":"city","example":"Rome"}]}}`)},
			[]string{"names {{city}}, which the text does not use", "BODY: example for {{order_id}} is missing (example.body_text_named_params)"}},
		{"named upper case", call{"x", "en_US", "UTILITY", "NAMED", comps(`{"type":"BODY","text":"Hi {{FirstName}}."}`)}, []string{"must be lowercase"}},
		{"header example missing", ok(comps(`{"type":"HEADER","format":"TEXT","text":"Our {{1}} is on!"}`, goodBody)), []string{"HEADER: example.header_text is missing"}},
		{"header two placeholders", ok(comps(`{"type":"HEADER","format":"TEXT","text":"{{1}} and {{2}}"}`, goodBody)), []string{"at most one placeholder"}},
		{"header too long", ok(comps(`{"type":"HEADER","format":"TEXT","text":"`+strings.Repeat("x", 61)+`"}`, goodBody)), []string{"HEADER: text has 61 characters"}},
		{"media header without handle", ok(comps(`{"type":"HEADER","format":"VIDEO"}`, goodBody)), []string{"a VIDEO header needs an example media handle (example.header_handle)"}},
		{"header bad format", ok(comps(`{"type":"HEADER","format":"AUDIO"}`, goodBody)), []string{`format "AUDIO"`}},
		{"footer too long with placeholder", ok(comps(goodBody, `{"type":"FOOTER","text":"`+strings.Repeat("x", 60)+`{{1}}"}`)), []string{"FOOTER: text has 65 characters", "FOOTER: the footer may not hold placeholders"}},
		{"button text too long", ok(comps(goodBody, `{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"`+strings.Repeat("x", 26)+`"}]}`)), []string{"button 0: text has 26 characters, at most 25"}},
		{"url example missing", ok(comps(goodBody, `{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track","url":"https://x.example/track/{{1}}"}]}`)), []string{"button 0 (URL): example URL for {{1}} is missing"}},
		{"url placeholder in the middle", ok(comps(goodBody, `{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track","url":"https://x.example/{{1}}/track","example":["x"]}]}`)), []string{"{{1}}, at its end"}},
		{"copy code example missing", ok(comps(goodBody, `{"type":"BUTTONS","buttons":[{"type":"COPY_CODE"}]}`)), []string{"button 0 (COPY_CODE): example code is missing"}},
		{"phone missing", ok(comps(goodBody, `{"type":"BUTTONS","buttons":[{"type":"PHONE_NUMBER","text":"Call"}]}`)), []string{"phone_number is required"}},
		{"quick reply without text", ok(comps(goodBody, `{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY"}]}`)), []string{"button 0 (QUICK_REPLY): text is required"}},
		{"too many buttons", ok(comps(goodBody, `{"type":"BUTTONS","buttons":[`+strings.TrimSuffix(strings.Repeat(`{"type":"QUICK_REPLY","text":"a"},`, 11), ",")+`]}`)), []string{"11 buttons, at most 10"}},
		{"otp outside authentication", ok(comps(goodBody, `{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"COPY_CODE"}]}`)), []string{"OTP buttons are only for AUTHENTICATION"}},
		{"authentication without button", call{"login_code", "en_US", "AUTHENTICATION", "", comps(`{"type":"BODY","add_security_recommendation":true}`)}, []string{"needs an OTP button"}},
		{"authentication with header and bad expiry", call{"login_code", "en_US", "AUTHENTICATION", "", comps(
			`{"type":"HEADER","format":"TEXT","text":"Code"}`,
			`{"type":"BODY"}`,
			`{"type":"FOOTER","code_expiration_minutes":91}`,
			`{"type":"BUTTONS","buttons":[{"type":"OTP","otp_type":"SMOKE_SIGNAL"}]}`)},
			[]string{"AUTHENTICATION templates have no header", "code_expiration_minutes must be 1 to 90, got 91", `otp_type "SMOKE_SIGNAL"`}},
		{"several problems at once", call{"Bad Name", "en_US", "UTILITY", "", comps(`{"type":"BODY","text":"Order {{1}}."}`, `{"type":"FOOTER"}`)},
			[]string{"name must be", "BODY: example.body_text is missing", "FOOTER: text is required"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateNew(c.call.name, c.call.language, c.call.category, c.call.format, c.call.components)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("ValidateNew: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(ve.Problems) != len(c.want) {
				t.Errorf("problems %q, want %d", ve.Problems, len(c.want))
			}
		})
	}
}
