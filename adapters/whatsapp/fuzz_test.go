package whatsapp

import (
	"encoding/json"
	"testing"
)

// FuzzParse: Parse never panics, and every event it returns is well formed.
// Seeded with every golden payload.
func FuzzParse(f *testing.F) {
	for _, seed := range parseSeeds(f) {
		f.Add(seed)
	}
	p := NewParser(goldenNumbers)
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := p.Parse(body)
		if err != nil {
			if events != nil {
				t.Fatalf("events with error %v", err)
			}
			return
		}
		checkEventInvariants(t, events)
		for _, e := range events {
			var v any = e.Inbound
			if e.Status != nil {
				v = e.Status
			} else if e.Other != nil {
				v = e.Other
			}
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("event does not marshal: %v", err)
			}
		}
	})
}

// parseSeeds are the seed bodies of the Parse fuzz targets: every golden
// payload, and shapes the goldens do not cover.
func parseSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, path := range goldenFiles(t) {
		seeds = append(seeds, readGolden(t, path).payload)
	}
	seeds = append(seeds, []byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"id":1,"from":[],"timestamp":1e999}]}}]}]}`))
	// Shapes the goldens do not cover: replies of odd shape, system fallbacks.
	for _, msg := range []string{
		`{"id":"w","from":"1","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":"x"}}`,
		`{"id":"w","from":"1","type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":5,"title":null}}}`,
		`{"id":"w","from":"1","type":"system","system":{"type":"user_changed_user_id","user_id":"US.1","new_wa_id":2}}`,
		`{"id":"w","from":"1","type":"reaction","reaction":{"message_id":"wamid.1","emoji":""}}`,
		`{"id":"w","from":"1","type":"video","video":[],"context":{"frequently_forwarded":"true"}}`,
	} {
		seeds = append(seeds, []byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[`+msg+`]}}]}]}`))
	}
	return seeds
}

// FuzzVerifySignature: never panics, and accepts exactly the right signature.
func FuzzVerifySignature(f *testing.F) {
	f.Add("secret", []byte(`{"object":"whatsapp_business_account"}`), "sha256=00")
	f.Add("secret", []byte(""), sign("secret", nil))
	f.Add("", []byte("x"), "sha256=")
	f.Fuzz(func(t *testing.T, secret string, body []byte, header string) {
		got := VerifySignature(secret, body, header)
		if got && (secret == "" || header != sign(secret, body) && !equalFoldHex(header, sign(secret, body))) {
			t.Fatalf("accepted a wrong signature %q", header)
		}
		if secret != "" && !VerifySignature(secret, body, sign(secret, body)) {
			t.Fatal("rejected the right signature")
		}
	})
}

// equalFoldHex compares signature headers ignoring the case of hex digits.
func equalFoldHex(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'F' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// refSendReplyID is sendReplyID written with encoding/json over maps of raw
// members (exact keys, the last duplicate wins).
func refSendReplyID(data []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return ""
	}
	var msgs []json.RawMessage
	if json.Unmarshal(top["messages"], &msgs) != nil || len(msgs) == 0 {
		return ""
	}
	var first map[string]json.RawMessage
	if json.Unmarshal(msgs[0], &first) != nil {
		return ""
	}
	raw := first["id"]
	var id string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &id) != nil {
		return ""
	}
	return id
}

// FuzzSendReplyID: the send reply's wamid is read as encoding/json reads it.
func FuzzSendReplyID(f *testing.F) {
	for _, seed := range sendReplySeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := sendReplyID(data), refSendReplyID(data); got != want {
			t.Fatalf("sendReplyID(%q) = %q, encoding/json reads %q", data, got, want)
		}
	})
}

// sendReplySeeds: Meta's documented reply (okReply) and the shapes around it.
var sendReplySeeds = []string{
	okReply,
	`{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA","message_status":"accepted"}]}`,
	`{"messages":[{"id":"a"},{"id":"b"}]}`,
	`{"messages":[{"id":"a"},5]}`,
	`{"messages":[{"id":5}]}`,
	`{"messages":[{"id":null}]}`,
	`{"messages":[{"id":"x","id":"y"}],"messages":[{"id":"z"}]}`,
	`{"messages":[]}`,
	`{"messages":null}`,
	`{"messages":{"id":"a"}}`,
	`{"Messages":[{"ID":"a"}]}`,
	`{"messages":[{"id":"w\u00e9\ud83d"}]}`,
	`{"messages":[ { "id" : "sp" } ] }`,
	`[{"messages":[{"id":"a"}]}]`,
	`{"messages":[{"id":"a"}]`,
	``,
	`null`,
}
