package twilio

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"
)

// FuzzSMSEvents: SMSEvents never panics; it returns one event or an
// error, and a receipt always names its part.
func FuzzSMSEvents(f *testing.F) {
	f.Add("MessageSid=SM1&MessageStatus=delivered&From=%2B15005550006&To=%2B4915112345678&ErrorCode=30003")
	f.Add("MessageSid=SM1&SmsStatus=received&From=%2B4915112345678&To=%2B15005550006&Body=hi")
	f.Add("SmsSid=SM1&From=whatsapp%3A%2B1&MessageStatus=read")
	f.Add("MessageSid=SM1&Body=x&From=ACME")
	f.Fuzz(func(t *testing.T, body string) {
		p, _ := url.ParseQuery(body)
		evs, err := smsEventsAt("r", p, time.Unix(0, 0))
		if err != nil {
			if evs != nil {
				t.Fatal("events with an error")
			}
			return
		}
		if len(evs) != 1 || (evs[0].MO == nil && (evs[0].PartID == "" || evs[0].Stat == "")) {
			t.Fatalf("events %+v", evs)
		}
	})
}

// FuzzContentPage: reading a content listing page and mapping its
// contents never panics; a mapped template has the content's SID.
func FuzzContentPage(f *testing.F) {
	f.Add([]byte(contentPage1))
	f.Add([]byte(contentPage2))
	f.Add([]byte(`{"contents":[{"sid":"HX00000000000000000000000000000001","friendly_name":"x","language":"en","types":{"twilio/card":{"title":7,"media":"x","actions":[1,{"type":"URL","url":"{{a}}{{b}}"}]}}}]}`))
	f.Add([]byte(`{"meta":{"key":"x"},"x":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		items, _, err := parseContentPage(data)
		if err != nil {
			return
		}
		for _, raw := range items {
			var cj contentJSON
			if json.Unmarshal(raw, &cj) != nil {
				continue
			}
			tp, ref, err := mapContent(cj)
			if err == nil && (tp.ID != cj.Sid || ref.sid != cj.Sid) {
				t.Fatalf("template %s from content %s", tp.ID, cj.Sid)
			}
		}
	})
}
