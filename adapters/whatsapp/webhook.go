package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"strings"
	"sync"
)

// signaturePrefix starts the X-Hub-Signature-256 header value.
const signaturePrefix = "sha256="

// VerifySignature checks X-Hub-Signature-256 ("sha256=<hex>") over the exact
// raw body with constant-time compare; false when missing/malformed.
// The HMAC-SHA256 key is the app secret; an empty secret never verifies, so a
// misconfigured bridge refuses every webhook instead of accepting forgeries.
// Callers must verify before parsing and must pass the bytes as received.
// A server verifying many webhooks with one secret uses a Verifier.
func VerifySignature(appSecret string, body []byte, header string) bool {
	return NewVerifier(appSecret).Verify(body, header)
}

// Verifier is VerifySignature for one app secret, safe for concurrent use.
// It reuses its HMAC states (hmac.New derives the keyed pads and allocates
// two SHA-256 states on every call).
type Verifier struct {
	secret []byte
	macs   sync.Pool // of hash.Hash, keyed with secret
}

// NewVerifier returns a Verifier for appSecret (empty: never verifies).
func NewVerifier(appSecret string) *Verifier {
	v := &Verifier{secret: []byte(appSecret)}
	v.macs.New = func() any { return hmac.New(sha256.New, v.secret) }
	return v
}

// Verify reports whether header is the signature of body (see
// VerifySignature).
func (v *Verifier) Verify(body []byte, header string) bool {
	if len(v.secret) == 0 || !strings.HasPrefix(header, signaturePrefix) {
		return false
	}
	hexSig := header[len(signaturePrefix):]
	var got, sum [sha256.Size]byte
	if len(hexSig) != 2*sha256.Size {
		return false
	}
	if _, err := hex.Decode(got[:], []byte(hexSig)); err != nil {
		return false
	}
	mac := v.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(body)
	mac.Sum(sum[:0])
	v.macs.Put(mac)
	return hmac.Equal(got[:], sum[:])
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
