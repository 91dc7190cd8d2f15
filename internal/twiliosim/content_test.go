package twiliosim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func manyContents(n int) []Content {
	var cs []Content
	for i := range n {
		cs = append(cs, Content{Name: fmt.Sprintf("tpl_%02d", i), Language: "en", Category: "UTILITY", Body: fmt.Sprintf("Template %d for {{1}}", i)})
	}
	return cs
}

func TestContentListingPaging(t *testing.T) {
	s := newTestServer(t, func(c *Config) { c.Contents = manyContents(7) })
	for _, path := range []string{"/v1/Content", "/v1/ContentAndApprovals"} {
		t.Run(path, func(t *testing.T) {
			next := s.URL() + path + "?PageSize=3"
			var names []string
			pages := 0
			for next != "" {
				code, body := call(t, http.MethodGet, next, testAccount, testToken, nil)
				if code != 200 {
					t.Fatalf("GET %s: %d %v", next, code, body)
				}
				meta := body["meta"].(map[string]any)
				if meta["key"] != "contents" || meta["page_size"] != float64(3) || meta["page"] != float64(pages) {
					t.Fatalf("meta %v", meta)
				}
				if !strings.HasPrefix(meta["first_page_url"].(string), s.URL()+path+"?PageSize=3&Page=0") {
					t.Fatalf("first_page_url %v", meta["first_page_url"])
				}
				if (pages == 0) != (meta["previous_page_url"] == nil) {
					t.Fatalf("previous_page_url on page %d: %v", pages, meta["previous_page_url"])
				}
				for _, it := range body[meta["key"].(string)].([]any) {
					c := it.(map[string]any)
					names = append(names, c["friendly_name"].(string))
					if !validSid(c["sid"].(string), "HX") || c["account_sid"] != testAccount || c["language"] != "en" {
						t.Fatalf("content %v", c)
					}
					if _, err := time.Parse(time.RFC3339, c["date_created"].(string)); err != nil {
						t.Fatalf("date_created %v", c["date_created"])
					}
					if c["types"].(map[string]any)["twilio/text"] == nil || c["variables"].(map[string]any)["1"] != "sample" {
						t.Fatalf("types/variables %v", c)
					}
					ar, hasApproval := c["approval_requests"].(map[string]any)
					if path == "/v1/ContentAndApprovals" {
						if !hasApproval || ar["status"] != "approved" || ar["category"] != "UTILITY" || ar["name"] != c["friendly_name"] || ar["content_type"] != "twilio/text" {
							t.Fatalf("approval_requests %v", c["approval_requests"])
						}
					} else if hasApproval || c["url"] != s.URL()+"/v1/Content/"+c["sid"].(string) {
						t.Fatalf("content %v", c)
					}
				}
				pages++
				next, _ = meta["next_page_url"].(string)
			}
			if pages != 3 || len(names) != 7 || names[0] != "tpl_00" || names[6] != "tpl_06" {
				t.Fatalf("%d pages, names %v", pages, names)
			}
		})
	}
	code, body := call(t, http.MethodGet, s.URL()+"/v1/Content", testAccount, testToken, nil)
	if code != 200 || body["meta"].(map[string]any)["page_size"] != float64(50) || body["meta"].(map[string]any)["next_page_url"] != nil {
		t.Fatalf("default page: %d %v", code, body["meta"])
	}
	for _, q := range []string{"?PageSize=0", "?PageSize=1001", "?PageSize=x", "?PageToken=bogus"} {
		if code, body := call(t, http.MethodGet, s.URL()+"/v1/Content"+q, testAccount, testToken, nil); code != 400 {
			t.Errorf("%s: %d %v", q, code, body)
		}
	}
	if code, _ := call(t, http.MethodGet, s.URL()+"/v1/Content", "", "", nil); code != 401 {
		t.Fatalf("no auth: %d", code)
	}
	_, st := control(t, s, http.MethodGet, "/sandbox/v1/stats", nil)
	if st["content_listings"].(float64) != 7 { // 3 + 3 + 1 (invalid queries are not listings)
		t.Fatalf("content_listings %v", st["content_listings"])
	}
}

func TestDefaultContents(t *testing.T) {
	s := newTestServer(t, nil)
	_, body := call(t, http.MethodGet, s.URL()+"/v1/ContentAndApprovals", testAccount, testToken, nil)
	byName := map[string]map[string]any{}
	for _, it := range body["contents"].([]any) {
		c := it.(map[string]any)
		byName[c["friendly_name"].(string)] = c
	}
	ou := byName["order_update"]
	if ou == nil || ou["types"].(map[string]any)["twilio/text"].(map[string]any)["body"] != "Your order {{1}} is on its way and will arrive {{2}}." {
		t.Fatalf("order_update %v", ou)
	}
	if ou["sid"] != contentSid("order_update", "en", 0) {
		t.Fatalf("sid not stable: %v", ou["sid"])
	}
	if byName["hello_world"] == nil {
		t.Fatal("hello_world missing")
	}
	marketing := false
	for _, c := range byName {
		if c["approval_requests"].(map[string]any)["category"] == "MARKETING" {
			marketing = true
		}
	}
	if !marketing {
		t.Fatal("no MARKETING content")
	}
	qr := byName["appointment_reminder"]["types"].(map[string]any)["twilio/quick-reply"].(map[string]any)
	if len(qr["actions"].([]any)) != 2 {
		t.Fatalf("quick reply %v", qr)
	}
	if byName["invoice_ready"]["approval_requests"].(map[string]any)["content_type"] != "twilio/media" {
		t.Fatalf("media content %v", byName["invoice_ready"])
	}
	// Fetch one.
	code, c := call(t, http.MethodGet, s.URL()+"/v1/Content/"+ou["sid"].(string), testAccount, testToken, nil)
	links, _ := c["links"].(map[string]any)
	if code != 200 || c["friendly_name"] != "order_update" || links["approval_fetch"] != s.URL()+"/v1/Content/"+ou["sid"].(string)+"/ApprovalRequests" {
		t.Fatalf("fetch: %d %v", code, c)
	}
	if code, _ := call(t, http.MethodGet, s.URL()+"/v1/Content/HX00000000000000000000000000000000", testAccount, testToken, nil); code != 404 {
		t.Fatalf("unknown content: %d", code)
	}
}

func TestApprovalFlow(t *testing.T) {
	s := newTestServer(t, nil)
	create := func(name string) string {
		code, c := jsonCall(t, http.MethodPost, s.URL()+"/v1/Content", map[string]any{
			"friendly_name": name, "language": "en", "variables": map[string]string{"1": "Ann"},
			"types": map[string]any{
				"twilio/quick-reply": map[string]any{"body": "Hi {{1}}, coming?", "actions": []map[string]string{{"title": "Yes", "id": "yes"}}},
				"twilio/text":        map[string]any{"body": "Hi {{1}}, coming?"},
			},
		})
		if code != 201 || !validSid(c["sid"].(string), "HX") || c["friendly_name"] != name {
			t.Fatalf("create: %d %v", code, c)
		}
		return c["sid"].(string)
	}
	approval := func(sid string) map[string]any {
		code, a := call(t, http.MethodGet, s.URL()+"/v1/Content/"+sid+"/ApprovalRequests", testAccount, testToken, nil)
		if code != 200 || a["sid"] != sid || a["account_sid"] != testAccount || a["url"] != s.URL()+"/v1/Content/"+sid+"/ApprovalRequests" {
			t.Fatalf("approval fetch: %d %v", code, a)
		}
		return a["whatsapp"].(map[string]any)
	}
	sid := create("party_invite")
	if wa := approval(sid); wa["status"] != "unsubmitted" || wa["name"] != "" || wa["type"] != "whatsapp" {
		t.Fatalf("new content approval %v", wa)
	}
	// Not approved: a send outside the window fails.
	_, m := send(t, s, map[string][]string{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "ContentSid": {sid}})
	if got := waitStatus(t, s, m["sid"].(string), "failed"); got["error_code"] != float64(63027) {
		t.Fatalf("unsubmitted send: %v", got)
	}

	code, a := jsonCall(t, http.MethodPost, s.URL()+"/v1/Content/"+sid+"/ApprovalRequests/whatsapp", map[string]string{"name": "party_invite", "category": "marketing"})
	if code != 201 || a["status"] != "pending" || a["category"] != "MARKETING" || a["content_type"] != "twilio/quick-reply" || a["name"] != "party_invite" {
		t.Fatalf("approval create: %d %v", code, a)
	}
	if wa := approval(sid); wa["status"] != "pending" {
		t.Fatalf("after submit %v", wa)
	}
	waitApproval := func(sid, want string) map[string]any {
		deadline := time.Now().Add(3 * time.Second)
		for {
			wa := approval(sid)
			if wa["status"] == want {
				return wa
			}
			if time.Now().After(deadline) {
				t.Fatalf("approval %v, want %s", wa, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitApproval(sid, "approved")
	_, m = send(t, s, map[string][]string{"To": {"whatsapp:" + customer}, "From": {"whatsapp:" + bizNumber}, "ContentSid": {sid}})
	if m["body"] != "Hi Ann, coming?" {
		t.Fatalf("rendered %v", m["body"])
	}
	waitStatus(t, s, m["sid"].(string), "read")

	rej := create("party_reject")
	jsonCall(t, http.MethodPost, s.URL()+"/v1/Content/"+rej+"/ApprovalRequests/whatsapp", map[string]string{"name": "party_reject", "category": "UTILITY"})
	if wa := waitApproval(rej, "rejected"); wa["rejection_reason"] == "" {
		t.Fatalf("rejected without reason: %v", wa)
	}

	for _, bad := range []map[string]string{{"name": "", "category": "UTILITY"}, {"name": "Bad Name", "category": "UTILITY"}, {"name": "ok", "category": "PROMO"}} {
		if code, _ := jsonCall(t, http.MethodPost, s.URL()+"/v1/Content/"+sid+"/ApprovalRequests/whatsapp", bad); code != 400 {
			t.Errorf("%v: %d", bad, code)
		}
	}
	if code, _ := jsonCall(t, http.MethodPost, s.URL()+"/v1/Content/HX00000000000000000000000000000000/ApprovalRequests/whatsapp", map[string]string{"name": "x", "category": "UTILITY"}); code != 404 {
		t.Fatalf("unknown content approval: %d", code)
	}
	if code, _ := jsonCall(t, http.MethodPost, s.URL()+"/v1/Content", map[string]any{"friendly_name": "x"}); code != 400 {
		t.Fatalf("content without language/types accepted: %d", code)
	}

	// Control API: by sid, with a rejection reason.
	code, c := control(t, s, http.MethodPost, "/sandbox/v1/content/status", map[string]any{"sid": sid, "status": "rejected", "rejection_reason": "PROMOTIONAL"})
	ar := c["approval_requests"].(map[string]any)
	if code != 200 || ar["status"] != "rejected" || ar["rejection_reason"] != "PROMOTIONAL" {
		t.Fatalf("content/status: %d %v", code, c)
	}
	if code, _ := control(t, s, http.MethodPost, "/sandbox/v1/content/status", map[string]any{"name": "nope", "status": "approved"}); code != 404 {
		t.Fatalf("unknown name: %d", code)
	}
	if code, _ := control(t, s, http.MethodPost, "/sandbox/v1/content/status", map[string]any{"sid": sid, "status": "great"}); code != 400 {
		t.Fatalf("bad status: %d", code)
	}

	// Delete.
	if code, _ := call(t, http.MethodDelete, s.URL()+"/v1/Content/"+rej, testAccount, testToken, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := call(t, http.MethodGet, s.URL()+"/v1/Content/"+rej, testAccount, testToken, nil); code != 404 {
		t.Fatalf("deleted content still there: %d", code)
	}
}
