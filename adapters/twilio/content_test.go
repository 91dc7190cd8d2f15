package twilio

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/templates"
)

// Content listing pages in the shape of ContentAndApprovals (twilio-python
// tests/integration/content/v1/test_content_and_approvals.py; the
// twilio/media entries are its examples). NEXT is replaced by the second
// page's URL.
const contentPage1 = `{
  "contents": [
    {"sid": "HX00000000000000000000000000000001", "account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "friendly_name": "order_update", "language": "en",
     "variables": {"1": "12345", "2": "Monday"},
     "types": {"twilio/text": {"body": "Your order {{1}} arrives on {{2}}."}},
     "approval_requests": {"name": "order_update", "category": "UTILITY", "content_type": "twilio/text", "status": "approved", "rejection_reason": "", "allow_category_change": false}},
    {"language": "en", "date_updated": "2023-01-13T23:33:46Z", "variables": {"1": "name", "2": "type_video", "3": "small.mp4"},
     "friendly_name": "Video Highlights", "account_sid": "AC25c0d4b9093547216c460212e24e77ee", "sid": "HX15c711fcc6d9ea5268d7ab77938a20ff",
     "types": {"twilio/media": {"body": "Hi there, {{1}}, we have received your request to upload {{2}}, and should be uploaded shortly.", "media": ["http://example.com/highlights/{{3}}"]}},
     "approval_requests": {"category": "TRANSACTIONAL", "status": "rejected", "rejection_reason": "INVALID_FORMAT.", "name": "Video Highlights", "content_type": "twilio/media", "allow_category_change": true}},
    {"sid": "HX00000000000000000000000000000003", "friendly_name": "welcome_named", "language": "de",
     "variables": {"first_name": "Ann"},
     "types": {"twilio/quick-reply": {"body": "Hallo {{first_name}}, passt der Termin?", "actions": [{"title": "Ja", "id": "yes"}, {"title": "Nein", "id": "no"}]}},
     "approval_requests": {"name": "welcome_named", "category": "marketing", "content_type": "twilio/quick-reply", "status": "pending"}},
    {"sid": "not-a-content-sid", "friendly_name": "broken", "language": "en", "types": {"twilio/text": {"body": "x"}}}
  ],
  "meta": {"page": 0, "page_size": 4, "first_page_url": "FIRST", "previous_page_url": null,
           "next_page_url": "NEXT", "url": "FIRST", "key": "contents"}
}`

const contentPage2 = `{
  "contents": [
    {"sid": "HX00000000000000000000000000000004", "friendly_name": "track_parcel", "language": "en",
     "variables": {"1": "12345", "2": "abc"},
     "types": {"twilio/call-to-action": {"body": "Parcel {{1}} is on its way.", "actions": [
        {"type": "URL", "title": "Track", "url": "https://track.example/p/{{2}}"},
        {"type": "PHONE_NUMBER", "title": "Call us", "phone": "+15551234567"},
        {"type": "COPY_CODE", "title": "Copy code", "code": "SAVE10"}]}},
     "approval_requests": {"name": "track_parcel", "category": "UTILITY", "content_type": "twilio/call-to-action", "status": "approved"}},
    {"sid": "HX00000000000000000000000000000005", "friendly_name": "card_offer", "language": "en",
     "variables": {"1": "42"},
     "types": {"twilio/card": {"title": "Order {{1}} shipped", "subtitle": "Reply STOP to opt out", "media": ["https://cdn.example/parcel.png"],
        "actions": [{"type": "QUICK_REPLY", "title": "Thanks", "id": "thanks"}]}},
     "approval_requests": {"whatsapp": {"name": "card_offer", "category": "MARKETING", "content_type": "twilio/card", "status": "paused"}}},
    {"sid": "HX00000000000000000000000000000006", "friendly_name": "wa_card", "language": "en",
     "variables": {"1": "a", "2": "b", "3": "Zoe"},
     "types": {"whatsapp/card": {"header_text": "Hi {{3}}", "body": "Item {{1}} costs {{2}}.", "footer": "Acme"}},
     "approval_requests": {"name": "wa_card", "category": "UTILITY", "content_type": "whatsapp/card", "status": "approved"}},
    {"sid": "HX00000000000000000000000000000007", "friendly_name": "otp", "language": "en",
     "types": {"whatsapp/authentication": {"add_security_recommendation": true, "code_expiration_minutes": 10, "actions": [{"type": "COPY_CODE", "copy_code_text": "Copy code"}]}},
     "approval_requests": {"name": "otp", "category": "", "content_type": "whatsapp/authentication", "status": "approved"}},
    {"sid": "HX00000000000000000000000000000008", "friendly_name": "menu", "language": "en",
     "types": {"twilio/list-picker": {"body": "Pick one", "button": "Menu", "items": [{"item": "A", "id": "a"}]}},
     "approval_requests": {"status": "disabled", "category": "MARKETING"}},
    {"sid": "HX00000000000000000000000000000009", "friendly_name": "where", "language": "en",
     "types": {"twilio/location": {"latitude": 39.7392, "longitude": 104.9903, "label": "Foo Bar Co"}, "twilio/text": {"body": "Foo Bar Co is located at 39.7392, 104.9903"}},
     "approval_requests": {"name": "", "category": "", "content_type": "", "status": "unsubmitted"}},
    {"sid": "HX0000000000000000000000000000000a", "friendly_name": "received_one", "language": "en",
     "types": {"twilio/media": {"body": "See attached", "media": ["https://cdn.example/doc/terms.pdf"]}},
     "approval_requests": {"status": "received", "category": "UTILITY"}}
  ],
  "meta": {"page": 1, "page_size": 4, "previous_page_url": "FIRST", "next_page_url": null, "key": "contents"}
}`

// contentServer serves the two pages and answers Messages creates.
type contentServer struct {
	*fakeTwilio
	mu    sync.Mutex
	page1 string
	page2 string
}

func newContentServer(t *testing.T) *contentServer {
	cs := &contentServer{page1: contentPage1, page2: contentPage2}
	cs.fakeTwilio = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/Messages.json") {
			created(w, r)
			return
		}
		cs.mu.Lock()
		p1, p2 := cs.page1, cs.page2
		cs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		first := cs.URL + "/v1/ContentAndApprovals?PageSize=100"
		if r.URL.Query().Get("PageToken") == "PT1" {
			io.WriteString(w, strings.ReplaceAll(p2, "FIRST", first))
			return
		}
		p1 = strings.ReplaceAll(p1, "FIRST", first)
		io.WriteString(w, strings.ReplaceAll(p1, "NEXT", cs.URL+"/v1/ContentAndApprovals?PageSize=100&Page=1&PageToken=PT1"))
	})
	return cs
}

func (cs *contentServer) listings() int {
	n := 0
	for _, r := range cs.requests() {
		if r.path == "/v1/ContentAndApprovals" && !strings.Contains(r.query, "PageToken") {
			n++
		}
	}
	return n
}

// TestTemplatesMapping: two pages are read and every content type maps to
// the template model.
func TestTemplatesMapping(t *testing.T) {
	cs := newContentServer(t)
	c := newTestClient(t, cs.URL, nil)
	ts, err := c.Templates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reqs := cs.requests()
	if len(reqs) != 2 || reqs[0].query != "PageSize=100" || reqs[1].user != testAccount || reqs[1].pass != testToken {
		t.Fatalf("requests %+v", reqs)
	}
	byName := map[string]*templates.Template{}
	for _, tp := range ts {
		byName[tp.Name] = tp
	}
	if len(ts) != 10 || byName["broken"] != nil {
		t.Fatalf("got %d templates: %v", len(ts), keys(byName))
	}
	type btn struct{ typ, text, url string }
	cases := []struct {
		name, id, status, category, format string
		header                             string // format[:text]
		body, footer                       string
		bodyParams                         []string
		buttons                            []btn
		extra                              []string
	}{
		{name: "order_update", id: "HX00000000000000000000000000000001", status: "APPROVED", category: "UTILITY", format: "POSITIONAL",
			body: "Your order {{1}} arrives on {{2}}.", bodyParams: []string{"1", "2"}},
		{name: "Video Highlights", id: "HX15c711fcc6d9ea5268d7ab77938a20ff", status: "REJECTED", category: "TRANSACTIONAL", format: "POSITIONAL",
			header: "VIDEO", body: "Hi there, {{1}}, we have received your request to upload {{2}}, and should be uploaded shortly.", bodyParams: []string{"1", "2"}},
		{name: "welcome_named", id: "HX00000000000000000000000000000003", status: "PENDING", category: "MARKETING", format: "NAMED",
			body: "Hallo {{first_name}}, passt der Termin?", bodyParams: []string{"first_name"},
			buttons: []btn{{"QUICK_REPLY", "Ja", ""}, {"QUICK_REPLY", "Nein", ""}}},
		{name: "track_parcel", id: "HX00000000000000000000000000000004", status: "APPROVED", category: "UTILITY", format: "POSITIONAL",
			body: "Parcel {{1}} is on its way.", bodyParams: []string{"1"},
			buttons: []btn{{"URL", "Track", "https://track.example/p/{{1}}"}, {"PHONE_NUMBER", "Call us", ""}, {"COPY_CODE", "Copy code", ""}}},
		{name: "card_offer", id: "HX00000000000000000000000000000005", status: "PAUSED", category: "MARKETING", format: "POSITIONAL",
			header: "IMAGE", body: "Order {{1}} shipped", footer: "Reply STOP to opt out", bodyParams: []string{"1"},
			buttons: []btn{{"QUICK_REPLY", "Thanks", ""}}},
		{name: "wa_card", id: "HX00000000000000000000000000000006", status: "APPROVED", category: "UTILITY", format: "POSITIONAL",
			header: "TEXT:Hi {{1}}", body: "Item {{1}} costs {{2}}.", footer: "Acme", bodyParams: []string{"1", "2"}},
		{name: "otp", id: "HX00000000000000000000000000000007", status: "APPROVED", category: "AUTHENTICATION", format: "POSITIONAL",
			body: "{{1}} is your verification code. For your security, do not share this code.", footer: "This code expires in 10 minutes.",
			bodyParams: []string{"1"}, buttons: []btn{{"OTP", "Copy code", ""}}},
		{name: "menu", id: "HX00000000000000000000000000000008", status: "DISABLED", category: "MARKETING", format: "POSITIONAL",
			body: "Pick one", extra: []string{"TWILIO/LIST-PICKER"}},
		{name: "where", id: "HX00000000000000000000000000000009", status: "UNSUBMITTED", category: "", format: "POSITIONAL",
			body: "Foo Bar Co is located at 39.7392, 104.9903"},
		{name: "received_one", id: "HX0000000000000000000000000000000a", status: "PENDING", category: "UTILITY", format: "POSITIONAL",
			header: "DOCUMENT", body: "See attached"},
	}
	for _, tc := range cases {
		tp := byName[tc.name]
		if tp == nil {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if tp.ID != tc.id || tp.Status != tc.status || tp.Category != tc.category || tp.ParameterFormat != tc.format ||
			tp.Body != tc.body || tp.Footer != tc.footer || tp.Language == "" {
			t.Errorf("%s: %+v", tc.name, tp)
		}
		if !reflect.DeepEqual(tp.BodyParams, tc.bodyParams) && (len(tp.BodyParams) != 0 || len(tc.bodyParams) != 0) {
			t.Errorf("%s: body params %v", tc.name, tp.BodyParams)
		}
		header := ""
		if tp.Header != nil {
			header = tp.Header.Format
			if tp.Header.Text != "" {
				header += ":" + tp.Header.Text
			}
		}
		if header != tc.header {
			t.Errorf("%s: header %q, want %q", tc.name, header, tc.header)
		}
		var got []btn
		for _, b := range tp.Buttons {
			got = append(got, btn{b.Type, b.Text, b.URL})
		}
		if !reflect.DeepEqual(got, tc.buttons) {
			t.Errorf("%s: buttons %v, want %v", tc.name, got, tc.buttons)
		}
		if !reflect.DeepEqual(tp.Extra, tc.extra) {
			t.Errorf("%s: extra %v", tc.name, tp.Extra)
		}
	}
	if byName["otp"].Buttons[0].OTPType != "COPY_CODE" || !byName["otp"].BodyOnly() {
		t.Errorf("otp button %+v", byName["otp"].Buttons)
	}
	if byName["menu"].BodyOnly() {
		t.Error("a list-picker is body-only")
	}
}

func keys(m map[string]*templates.Template) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestSendTemplates: ContentSid and ContentVariables from the index, and
// never Body or MediaUrl.
func TestSendTemplates(t *testing.T) {
	cs := newContentServer(t)
	c := newTestClient(t, cs.URL, nil)
	if _, err := c.Templates(context.Background()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		tpl  bridge.Template
		sid  string
		vars string
	}{
		{bridge.Template{Name: "order_update", Language: "en", Params: []string{"12345", "Monday"}},
			"HX00000000000000000000000000000001", `{"1":"12345","2":"Monday"}`},
		{bridge.Template{Name: "welcome_named", Language: "de", NamedParams: map[string]string{"first_name": "Ann"}},
			"HX00000000000000000000000000000003", `{"first_name":"Ann"}`},
		{bridge.Template{Name: "track_parcel", Language: "en", Params: []string{"777"},
			Buttons: []bridge.TemplateButton{{SubType: "url", Index: 0, Payload: "xyz"}}},
			"HX00000000000000000000000000000004", `{"1":"777","2":"xyz"}`},
		{bridge.Template{Name: "wa_card", Language: "en", Params: []string{"tea", "3 EUR"}, HeaderText: "Zoe"},
			"HX00000000000000000000000000000006", `{"1":"tea","2":"3 EUR","3":"Zoe"}`},
		{bridge.Template{Name: "Video Highlights", Language: "en", Params: []string{"Ann", "clip"},
			HeaderMedia: &bridge.TemplateMedia{Type: "video", Link: "http://example.com/highlights/big.mp4"}},
			"HX15c711fcc6d9ea5268d7ab77938a20ff", `{"1":"Ann","2":"clip","3":"big.mp4"}`},
		{bridge.Template{Name: "card_offer", Language: "en", Params: []string{"42"},
			HeaderMedia: &bridge.TemplateMedia{Type: "image", Link: "https://elsewhere.example/x.png"}},
			"HX00000000000000000000000000000005", `{"1":"42"}`},
		{bridge.Template{Name: "otp", Language: "en", Params: []string{"483920"},
			Buttons: []bridge.TemplateButton{{SubType: "url", Index: 0, Payload: "483920"}}},
			"HX00000000000000000000000000000007", `{"1":"483920"}`},
		{bridge.Template{Name: "where", Language: "en"}, "HX00000000000000000000000000000009", ""},
	}
	for _, tc := range cases {
		tpl := tc.tpl
		m := &bridge.Message{Business: testBusiness, Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindTemplate,
			Content: bridge.Content{Template: &tpl, Text: "ignored"}}
		if _, err := c.Send(context.Background(), m); err != nil {
			t.Errorf("%s: %v", tc.tpl.Name, err)
			continue
		}
		reqs := cs.requests()
		form := reqs[len(reqs)-1].form
		want := url.Values{"To": {"whatsapp:+4915112345678"}, "From": {"whatsapp:" + testBusiness}, "ContentSid": {tc.sid}}
		if tc.vars != "" {
			want.Set("ContentVariables", tc.vars)
		}
		if !reflect.DeepEqual(form, want) {
			t.Errorf("%s: form\n got %v\nwant %v", tc.tpl.Name, form, want)
		}
	}
}

// TestTemplateIndexRefresh: a Send naming a template the index lacks lists
// the catalogue again, at most once per 30 s, and fails with
// ActionTemplateInvalid when it is still missing.
func TestTemplateIndexRefresh(t *testing.T) {
	cs := newContentServer(t)
	cs.page2 = `{"contents": [], "meta": {"next_page_url": null, "key": "contents"}}`
	c := newTestClient(t, cs.URL, nil)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	send := func(name string) error {
		m := &bridge.Message{Business: testBusiness, Customer: bridge.Customer{Phone: "+4915112345678"}, Kind: bridge.KindTemplate,
			Content: bridge.Content{Template: &bridge.Template{Name: name, Language: "en", Params: []string{"1", "2"}}}}
		_, err := c.Send(context.Background(), m)
		return err
	}
	// The first send lists (the index is empty) and finds the template.
	if err := send("order_update"); err != nil || cs.listings() != 1 {
		t.Fatalf("first send: %v, %d listings", err, cs.listings())
	}
	// A hit does not list.
	if err := send("order_update"); err != nil || cs.listings() != 1 {
		t.Fatalf("hit: %v, %d listings", err, cs.listings())
	}
	// A miss right after a listing does not list again.
	err := send("wa_card")
	if se := bridge.AsSendError(err); se.Action != bridge.ActionTemplateInvalid || se.Reason != bridge.ReasonTemplateError ||
		!strings.Contains(se.Title, "no approved Content template") {
		t.Fatalf("miss: %v", err)
	}
	if cs.listings() != 1 {
		t.Fatalf("%d listings", cs.listings())
	}
	// 31 s later the miss lists again and finds the new content.
	cs.mu.Lock()
	cs.page2 = contentPage2
	cs.mu.Unlock()
	now = now.Add(31 * time.Second)
	if err := send("wa_card"); err != nil || cs.listings() != 2 {
		t.Fatalf("after refresh: %v, %d listings", err, cs.listings())
	}
	// Still missing after a refresh: template invalid, one more listing.
	now = now.Add(31 * time.Second)
	if err := send("nope"); bridge.AsSendError(err).Action != bridge.ActionTemplateInvalid || cs.listings() != 3 {
		t.Fatalf("missing: %v, %d listings", err, cs.listings())
	}
}

// TestTemplatesPagingStaysOnHost: a next_page_url on another host is not
// followed.
func TestTemplatesPagingStaysOnHost(t *testing.T) {
	other := newFake(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, contentPage2) })
	cs := newContentServer(t)
	cs.page1 = strings.Replace(contentPage1, `"NEXT"`, `"`+other.URL+`/v1/ContentAndApprovals?Page=1"`, 1)
	c := newTestClient(t, cs.URL, nil)
	if _, err := c.Templates(context.Background()); err == nil || !strings.Contains(err.Error(), "host") {
		t.Fatalf("err = %v", err)
	}
	if len(other.requests()) != 0 {
		t.Error("followed a next page to another host")
	}
	// A relative next page is resolved against the listing's URL.
	cs.page1 = strings.Replace(contentPage1, `"NEXT"`, `"/v1/ContentAndApprovals?PageSize=100&Page=1&PageToken=PT1"`, 1)
	if ts, err := c.Templates(context.Background()); err != nil || len(ts) != 10 {
		t.Fatalf("relative next: %d, %v", len(ts), err)
	}
}

func TestMediaFormat(t *testing.T) {
	for in, want := range map[string]string{
		"https://x/a.JPG": "IMAGE", "https://x/a.png?x=1": "IMAGE", "https://x/a.mp4": "VIDEO",
		"https://x/a.pdf": "DOCUMENT", "https://x/a": "DOCUMENT", "https://x/a.3gp": "VIDEO",
	} {
		if got := mediaFormat(in); got != want {
			t.Errorf("mediaFormat(%s) = %s", in, got)
		}
	}
}

func TestParseContentPageKey(t *testing.T) {
	items, next, err := parseContentPage([]byte(`{"things":[{"a":1}],"meta":{"key":"things","next_page_url":"n"}}`))
	if err != nil || len(items) != 1 || next != "n" {
		t.Errorf("%v %q %v", items, next, err)
	}
	if _, _, err := parseContentPage([]byte(`[`)); err == nil {
		t.Error("bad JSON accepted")
	}
	var v map[string]any
	if json.Unmarshal([]byte(contentPage1), &v) != nil || json.Unmarshal([]byte(contentPage2), &v) != nil {
		t.Error("test pages are not JSON")
	}
}
