package store

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
)

// TestStatusJSONMatchesEncodingJSON: a status event's record written by
// hand is byte for byte the one encoding/json writes, and statuses left to
// encoding/json (errors, escapes, far years) still encode.
func TestStatusJSONMatchesEncodingJSON(t *testing.T) {
	raw := json.RawMessage(`{"id":"wamid.HBgL","status":"delivered","timestamp":"1763800000","recipient_id":"16505551234"}`)
	at := time.Unix(1763800000, 0)
	base := bridge.StatusUpdate{WAMID: "wamid.HBgL", Status: bridge.StatusDelivered, RawStatus: "delivered", Timestamp: at,
		Recipient: bridge.Customer{Phone: "+16505551234"}, Raw: raw}
	variants := []func(*bridge.StatusUpdate){
		func(*bridge.StatusUpdate) {},
		func(s *bridge.StatusUpdate) { s.Raw = nil },
		func(s *bridge.StatusUpdate) { s.Timestamp = at.UTC().Add(123456789) },
		func(s *bridge.StatusUpdate) { s.Timestamp = at.In(time.FixedZone("X", -(3*3600 + 1800))) },
		func(s *bridge.StatusUpdate) { s.Timestamp = time.Time{} },
		func(s *bridge.StatusUpdate) { s.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		func(s *bridge.StatusUpdate) {
			s.Business, s.CallbackData, s.PricingCategory, s.Reason = "+15550100001", "01JB2Z", "service", bridge.ReasonExpired
		},
		func(s *bridge.StatusUpdate) { s.Recipient = bridge.Customer{BSUID: "US.13491208655302741918"} },
		func(s *bridge.StatusUpdate) { s.Recipient = bridge.Customer{Phone: "+1", BSUID: "US.1"} },
		func(s *bridge.StatusUpdate) { s.Recipient = bridge.Customer{} },
		func(s *bridge.StatusUpdate) { s.CallbackData = `<"x">` },
		func(s *bridge.StatusUpdate) { s.CallbackData = "bad\xff" },
		func(s *bridge.StatusUpdate) {
			s.Status, s.RawStatus, s.Action, s.Reason = bridge.StatusFailed, "failed", bridge.ActionFallback, bridge.ReasonInvalid
			s.Errors, s.Fallback = []bridge.UpstreamError{{Code: 131026, Title: "Message undeliverable"}}, "undeliverable"
		},
	}
	var tx wtx // statusRecord reuses one buffer from variant to variant
	for i, v := range variants {
		st := base
		v(&st)
		want, err := marshalStatus(&st)
		got, gotErr := (&wtx{}).statusRecord(&st)
		if (err != nil) != (gotErr != nil) || got != want {
			t.Errorf("variant %d: statusRecord = %s, %v\nencoding/json: %s, %v", i, got, gotErr, want, err)
		}
		if rec, recErr := tx.statusRecord(&st); (recErr != nil) != (err != nil) || rec != want {
			t.Errorf("variant %d: statusRecord = %s, %v\nencoding/json: %s, %v", i, rec, recErr, want, err)
		}
		if _, fast := appendStatusJSON(nil, &st); i < 4 && !fast {
			t.Errorf("variant %d left to encoding/json", i)
		}
	}
}

// FuzzStatusJSON: for any strings from a webhook, the hand-written record
// is encoding/json's.
func FuzzStatusJSON(f *testing.F) {
	f.Add("wamid.HBgL", "delivered", "+16505551234", "01JB2Z", int64(1763800000))
	f.Add("<x>", "sent\n", "", "bad\xff", int64(-62135596800))
	f.Fuzz(func(t *testing.T, wamid, raw, phone, cb string, sec int64) {
		st := bridge.StatusUpdate{WAMID: wamid, Status: bridge.Status(raw), RawStatus: raw, Timestamp: time.Unix(sec, sec%1e9),
			Recipient: bridge.Customer{Phone: phone, BSUID: cb}, CallbackData: cb, PricingCategory: raw}
		want, err := marshalStatus(&st)
		got, gotErr := (&wtx{}).statusRecord(&st)
		if (err != nil) != (gotErr != nil) || got != want {
			t.Fatalf("statusRecord = %s, %v; encoding/json: %s, %v", got, gotErr, want, err)
		}
	})
}
