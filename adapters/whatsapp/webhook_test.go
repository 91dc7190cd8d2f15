package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
)

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func TestVerifySignature(t *testing.T) {
	const secret = "app-secret"
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	good := sign(secret, body)
	hexPart := strings.TrimPrefix(good, "sha256=")

	cases := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   bool
	}{
		{"good", secret, body, good, true},
		{"good uppercase hex", secret, body, "sha256=" + strings.ToUpper(hexPart), true},
		{"wrong secret", "other", body, good, false},
		{"body changed by one byte", secret, append([]byte(" "), body...), good, false},
		{"missing prefix", secret, body, hexPart, false},
		{"other algorithm prefix", secret, body, "sha1=" + hexPart, false},
		{"short", secret, body, good[:len(good)-2], false},
		{"long", secret, body, good + "00", false},
		{"not hex", secret, body, "sha256=" + strings.Repeat("zz", 32), false},
		{"empty header", secret, body, "", false},
		{"prefix only", secret, body, "sha256=", false},
		{"empty secret", "", body, sign("", body), false},
		{"empty body signed", secret, nil, sign(secret, nil), true},
	}
	for _, c := range cases {
		if got := VerifySignature(c.secret, c.body, c.header); got != c.want {
			t.Errorf("%s: VerifySignature = %v, want %v", c.name, got, c.want)
		}
	}

	// A Verifier reuses its HMAC states: every answer, in any order and
	// from many goroutines at once, is the one-shot function's.
	verifiers := map[string]*Verifier{}
	for _, c := range cases {
		if verifiers[c.secret] == nil {
			verifiers[c.secret] = NewVerifier(c.secret)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 * len(cases) {
				c := cases[(i+g)%len(cases)]
				if got := verifiers[c.secret].Verify(c.body, c.header); got != c.want {
					t.Errorf("%s: Verifier.Verify = %v, want %v", c.name, got, c.want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestVerifySubscription(t *testing.T) {
	cases := []struct {
		name                         string
		mode, token, challenge, want string
		ok                           bool
	}{
		{"ok", "subscribe", "tok", "1158201444", "tok", true},
		{"wrong token", "subscribe", "tok2", "1158201444", "tok", false},
		{"token prefix", "subscribe", "to", "1158201444", "tok", false},
		{"wrong mode", "unsubscribe", "tok", "1158201444", "tok", false},
		{"empty mode", "", "tok", "1158201444", "tok", false},
		{"nothing configured", "subscribe", "", "1158201444", "", false},
	}
	for _, c := range cases {
		got, ok := VerifySubscription(c.mode, c.token, c.challenge, c.want)
		if ok != c.ok || (ok && got != c.challenge) || (!ok && got != "") {
			t.Errorf("%s: VerifySubscription = %q, %v", c.name, got, ok)
		}
	}
}
