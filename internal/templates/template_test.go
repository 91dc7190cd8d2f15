package templates

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// loadListing parses testdata/listing.json.
func loadListing(t testing.TB) []*Template {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "listing.json"))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := ParseListing(data)
	if err != nil {
		t.Fatalf("ParseListing: %v", err)
	}
	return ts
}

func TestParseListingGolden(t *testing.T) {
	ts := loadListing(t)
	type view struct {
		*Template
		Raw      json.RawMessage `json:"Raw,omitempty"`
		Approved bool
		BodyOnly bool
		Key      string
	}
	var views []view
	for _, tpl := range ts {
		if len(tpl.Raw) == 0 || !json.Valid(tpl.Raw) {
			t.Errorf("%s: Raw not kept", tpl.Key())
		}
		views = append(views, view{Template: tpl, Approved: tpl.Approved(), BodyOnly: tpl.BodyOnly(), Key: tpl.Key()})
	}
	got, err := json.MarshalIndent(views, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "listing.golden.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("parsed listing differs from %s (run with -update after checking):\n%s", golden, got)
	}
}

func TestParseListingDetails(t *testing.T) {
	ts := loadListing(t)
	by := map[string]*Template{}
	for _, tpl := range ts {
		by[tpl.Key()] = tpl
	}
	if len(ts) != 11 {
		t.Fatalf("got %d templates, want 11", len(ts))
	}
	cases := []struct {
		key                        string
		format, category, status   string
		params                     []string
		header                     string
		buttons                    int
		approved, bodyOnly, extras bool
	}{
		{"order_delivery_update/en_US", Positional, Utility, "APPROVED", []string{"1", "2"}, FormatLocation, 1, true, false, false},
		{"hello_world/en_US", Positional, Utility, "APPROVED", nil, FormatText, 0, true, true, false},
		{"order_update/de_DE", Positional, Utility, "APPROVED", []string{"1", "2"}, "", 0, true, true, false},
		{"seasonal_promotion/en_US", Positional, Marketing, "APPROVED", []string{"1", "2"}, FormatText, 2, true, false, false},
		{"order_confirmation/en_US", Named, Utility, "APPROVED", []string{"first_name", "order_number"}, "", 0, true, true, false},
		{"verification_code/en_US", Positional, Authentication, "APPROVED", []string{"1"}, "", 1, true, true, false},
		{"order_shipped_image/en_US", Positional, Utility, "APPROVED", []string{"1"}, FormatImage, 2, true, false, false},
		{"spring_coupon/en_US", Positional, Marketing, "APPROVED", []string{"1"}, "", 2, true, false, false},
		{"summer_carousel/en_US", Positional, Marketing, "APPROVED", []string{"1"}, "", 0, true, false, true},
		{"shiptest/en_US", Positional, Utility, "REJECTED", nil, "", 0, false, true, false},
	}
	for _, c := range cases {
		tpl := by[c.key]
		if tpl == nil {
			t.Errorf("%s: missing", c.key)
			continue
		}
		header := ""
		if tpl.Header != nil {
			header = tpl.Header.Format
		}
		if tpl.ParameterFormat != c.format || tpl.Category != c.category || tpl.Status != c.status ||
			strings.Join(tpl.BodyParams, ",") != strings.Join(c.params, ",") || header != c.header ||
			len(tpl.Buttons) != c.buttons || tpl.Approved() != c.approved || tpl.BodyOnly() != c.bodyOnly ||
			(len(tpl.Extra) > 0) != c.extras {
			t.Errorf("%s: got format %s category %s status %s params %v header %q buttons %d approved %v bodyOnly %v extra %v",
				c.key, tpl.ParameterFormat, tpl.Category, tpl.Status, tpl.BodyParams, header, len(tpl.Buttons), tpl.Approved(), tpl.BodyOnly(), tpl.Extra)
		}
	}
	promo := by["seasonal_promotion/en_US"]
	if promo.Header.Text != "Our {{1}} is on!" || strings.Join(promo.Header.Params, ",") != "1" {
		t.Errorf("seasonal_promotion header = %+v", promo.Header)
	}
	img := by["order_shipped_image/en_US"]
	if b := img.Buttons[0]; b.Type != ButtonURL || b.Params != 1 || b.Example != "https://shop.example/track/ZX81-2231" {
		t.Errorf("URL button = %+v", b)
	}
	if b := img.Buttons[1]; b.Type != ButtonPhoneNumber || b.PhoneNumber != "+15550123456" || b.Params != 0 {
		t.Errorf("phone button = %+v", b)
	}
	coupon := by["spring_coupon/en_US"]
	if b := coupon.Buttons[0]; b.Type != ButtonCopyCode || b.Example != "SAVE10" || b.Params != 1 {
		t.Errorf("copy code button = %+v", b)
	}
	if b := coupon.Buttons[1]; b.Params != 0 {
		t.Errorf("static URL button = %+v", b)
	}
	if got := by["verification_code/en_US"].Footer; got != "This code expires in 10 minutes." {
		t.Errorf("footer = %q", got)
	}
}

func TestParse(t *testing.T) {
	body := func(text string) json.RawMessage {
		b, _ := json.Marshal([]map[string]any{{"type": "BODY", "text": text}})
		return b
	}
	cases := []struct {
		name       string
		format     string
		components json.RawMessage
		wantErr    string // substring; "" = success
		check      func(t *testing.T, tpl *Template)
	}{
		{name: "positional default", components: body("Hi {{1}}, order {{2}}."), check: func(t *testing.T, tpl *Template) {
			if tpl.ParameterFormat != Positional || strings.Join(tpl.BodyParams, ",") != "1,2" {
				t.Errorf("got %s %v", tpl.ParameterFormat, tpl.BodyParams)
			}
		}},
		{name: "positional out of order is kept as listed", components: body("On {{2}} order {{1}}."), check: func(t *testing.T, tpl *Template) {
			if strings.Join(tpl.BodyParams, ",") != "2,1" {
				t.Errorf("got %v", tpl.BodyParams)
			}
		}},
		{name: "repeated placeholder listed once", components: body("{{1}} and again {{1}}"), check: func(t *testing.T, tpl *Template) {
			if strings.Join(tpl.BodyParams, ",") != "1" {
				t.Errorf("got %v", tpl.BodyParams)
			}
		}},
		{name: "lower-case types", components: json.RawMessage(`[{"type":"header","format":"text","text":"Hi"},{"type":"body","text":"x {{1}} y"},{"type":"buttons","buttons":[{"type":"quick_reply","text":"Stop"}]}]`),
			check: func(t *testing.T, tpl *Template) {
				if tpl.Header == nil || tpl.Header.Format != FormatText || tpl.Buttons[0].Type != ButtonQuickReply {
					t.Errorf("got %+v %+v", tpl.Header, tpl.Buttons)
				}
			}},
		{name: "named", format: "named", components: body("Hi {{first_name}}"), check: func(t *testing.T, tpl *Template) {
			if !tpl.IsNamed() || tpl.BodyParams[0] != "first_name" {
				t.Errorf("got %s %v", tpl.ParameterFormat, tpl.BodyParams)
			}
		}},
		{name: "gap", components: body("Hi {{1}}, order {{3}}."), wantErr: "without gaps"},
		{name: "leading zero", components: body("Hi {{01}}"), wantErr: "without gaps"},
		{name: "named in positional", components: body("Hi {{first_name}}"), wantErr: "is named but the template is POSITIONAL"},
		{name: "upper-case named", format: "NAMED", components: body("Hi {{FirstName}}"), wantErr: "lowercase"},
		{name: "no body", components: json.RawMessage(`[{"type":"FOOTER","text":"x"}]`), wantErr: "no BODY"},
		{name: "two bodies", components: json.RawMessage(`[{"type":"BODY","text":"a"},{"type":"BODY","text":"b"}]`), wantErr: "two BODY"},
		{name: "bad json", components: json.RawMessage(`{"type":"BODY"}`), wantErr: "unreadable components"},
		{name: "no components", components: nil, wantErr: "no components"},
		{name: "bad format", format: "MIXED", components: body("x"), wantErr: "parameter_format"},
		{name: "header without format", components: json.RawMessage(`[{"type":"HEADER"},{"type":"BODY","text":"x"}]`), wantErr: "HEADER without format"},
		{name: "URL with two placeholders", components: json.RawMessage(`[{"type":"BODY","text":"x"},{"type":"BUTTONS","buttons":[{"type":"URL","text":"a","url":"https://x/{{1}}/{{2}}"}]}]`), wantErr: "button 0"},
		{name: "unknown component kept", components: json.RawMessage(`[{"type":"BODY","text":"x"},{"type":"LIMITED_TIME_OFFER","limited_time_offer":{"text":"Expiring offer!"}}]`),
			check: func(t *testing.T, tpl *Template) {
				if strings.Join(tpl.Extra, ",") != "LIMITED_TIME_OFFER" || tpl.BodyOnly() {
					t.Errorf("extra %v bodyOnly %v", tpl.Extra, tpl.BodyOnly())
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tpl, err := Parse("1", "tpl", "en_US", "approved", "utility", c.format, c.components)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, c.wantErr)
				}
				if !strings.Contains(err.Error(), "tpl/en_US") {
					t.Errorf("error %q does not name the template", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tpl.Status != "APPROVED" || tpl.Category != Utility {
				t.Errorf("status %q category %q not upper-cased", tpl.Status, tpl.Category)
			}
			if c.check != nil {
				c.check(t, tpl)
			}
		})
	}
}

func TestParseListingErrors(t *testing.T) {
	data := []byte(`{"data":[{"name":"good","language":"en_US","status":"APPROVED","category":"UTILITY","components":[{"type":"BODY","text":"ok"}]},
		{"name":"bad","language":"en_US","status":"APPROVED","category":"UTILITY","components":[{"type":"FOOTER","text":"x"}]}]}`)
	ts, err := ParseListing(data)
	if len(ts) != 1 || ts[0].Name != "good" {
		t.Errorf("templates = %v", ts)
	}
	if err == nil || !strings.Contains(err.Error(), "bad/en_US") {
		t.Errorf("err = %v", err)
	}
	if _, err := ParseListing([]byte("not json")); err == nil {
		t.Error("want error for unreadable listing")
	}
}
