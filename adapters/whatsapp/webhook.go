package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// signaturePrefix starts the X-Hub-Signature-256 header value.
const signaturePrefix = "sha256="

// VerifySignature checks X-Hub-Signature-256 ("sha256=<hex>") over the exact
// raw body with constant-time compare; false when missing/malformed.
// The HMAC-SHA256 key is the app secret; an empty secret never verifies, so a
// misconfigured bridge refuses every webhook instead of accepting forgeries.
// Callers must verify before parsing and must pass the bytes as received.
func VerifySignature(appSecret string, body []byte, header string) bool {
	if appSecret == "" || !strings.HasPrefix(header, signaturePrefix) {
		return false
	}
	hexSig := header[len(signaturePrefix):]
	if len(hexSig) != 2*sha256.Size {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// VerifySubscription implements the GET handshake: ok when mode=="subscribe" and token equals want (constant time); returns the challenge to echo.
// The arguments are the hub.mode, hub.verify_token and hub.challenge query
// parameters and the configured verify token; an empty want never matches.
// On success the caller replies 200 with the challenge as the raw body.
func VerifySubscription(mode, token, challenge, want string) (string, bool) {
	if mode != "subscribe" || want == "" {
		return "", false
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
		return "", false
	}
	return challenge, true
}
