package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
)

// SignatureHeader is the HTTP header Twilio signs its webhooks with.
const SignatureHeader = "X-Twilio-Signature"

// Validate reports whether signature (the X-Twilio-Signature header) is
// Twilio's signature of a form-encoded webhook: Base64(HMAC-SHA1(authToken,
// fullURL + name1 + value1 + name2 + value2 …)) over every POST parameter,
// names in byte order and, for a name sent more than once, each of its
// values in byte order. fullURL is the URL exactly as Twilio requested it,
// query string included; params are the POST body's parameters (nil for a
// GET webhook, whose parameters are in the URL).
//
// Twilio has signed with and without an explicit port, so the URL is tried
// as given, with its port removed and, when it has none, with the scheme's
// default port (https :443, http :80) added — what Twilio's SDKs do
// (twilio-python's and twilio-php's RequestValidator and their tests). Values
// repeated under one name are tried both as the SDKs sign them (duplicates
// removed) and as sent. The comparison is constant-time; an empty token or signature
// never validates.
func Validate(authToken, fullURL string, params url.Values, signature string) bool {
	if authToken == "" || signature == "" {
		return false
	}
	forms := [][]string{signedParams(params, true)}
	if hasDuplicates(params) {
		forms = append(forms, signedParams(params, false))
	}
	ok := false
	for _, u := range urlVariants(fullURL) {
		for _, p := range forms {
			// No early return: every variant costs the same.
			if equal(sign(authToken, u, p), signature) {
				ok = true
			}
		}
	}
	return ok
}

// ValidateJSON reports whether signature is Twilio's signature of a webhook
// with a JSON body. Twilio puts bodySHA256=<hex SHA-256 of the raw body> in
// the URL's query and signs the URL alone, so ValidateJSON checks that the
// parameter matches body and then validates the URL as Validate does with no
// parameters. A URL without bodySHA256 never validates.
func ValidateJSON(authToken, fullURL string, body []byte, signature string) bool {
	want, ok := bodySHA256Param(fullURL)
	if !ok {
		return false
	}
	hashOK := equal(BodySHA256(body), strings.ToLower(want))
	sigOK := Validate(authToken, fullURL, nil, signature)
	return hashOK && sigOK
}

// Sign returns Twilio's signature of fullURL and params (values repeated
// under one name are signed once each, sorted, as Twilio's SDKs do). It is
// what a test or a simulator sends as X-Twilio-Signature.
func Sign(authToken, fullURL string, params url.Values) string {
	return sign(authToken, fullURL, signedParams(params, true))
}

// BodySHA256 is the hex SHA-256 of a JSON webhook body, as Twilio writes it
// in the bodySHA256 query parameter.
func BodySHA256(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// sign is Base64(HMAC-SHA1(token, u + parts…)).
func sign(token, u string, parts []string) string {
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(u))
	for _, p := range parts {
		mac.Write([]byte(p))
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// signedParams lists name+value for every parameter, names sorted and each
// name's values sorted; dedup drops a value repeated under the same name.
func signedParams(params url.Values, dedup bool) []string {
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []string
	for _, name := range names {
		values := slices.Clone(params[name])
		slices.Sort(values)
		if dedup {
			values = slices.Compact(values)
		}
		for _, v := range values {
			out = append(out, name+v)
		}
	}
	return out
}

// hasDuplicates reports whether a name carries the same value twice.
func hasDuplicates(params url.Values) bool {
	for _, values := range params {
		if len(values) < 2 {
			continue
		}
		sorted := slices.Clone(values)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != len(values) {
			return true
		}
	}
	return false
}

// equal compares two signatures in constant time (for equal lengths).
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// urlVariants is fullURL as given, without its port, and with the scheme's
// default port when it has none. The rest of the URL is kept byte for byte
// (no re-encoding: Twilio signs the URL as it wrote it).
func urlVariants(fullURL string) []string {
	out := []string{fullURL}
	p, ok := splitURL(fullURL)
	if !ok {
		return out
	}
	if p.port != "" {
		out = append(out, p.head+p.host+p.tail)
	} else if port := defaultPort(p.scheme); port != "" {
		out = append(out, p.head+p.host+":"+port+p.tail)
	}
	return out
}

// urlParts is an absolute URL cut around its host and port:
// head (scheme "://" userinfo "@") + host + (":" port) + tail (path, query, fragment).
type urlParts struct {
	scheme, head, host, port, tail string
}

// splitURL cuts an absolute URL; ok is false for anything else.
func splitURL(s string) (urlParts, bool) {
	i := strings.Index(s, "://")
	if i <= 0 {
		return urlParts{}, false
	}
	p := urlParts{scheme: strings.ToLower(s[:i])}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	head := s[:i+3]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		head += authority[:at+1]
		authority = authority[at+1:]
	}
	host, port := authority, ""
	if c := strings.LastIndexByte(authority, ':'); c >= 0 && !strings.Contains(authority[c:], "]") {
		host, port = authority[:c], authority[c+1:]
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return urlParts{}, false
		}
	}
	if host == "" {
		return urlParts{}, false
	}
	p.head, p.host, p.port, p.tail = head, host, port, tail
	return p, true
}

// defaultPort is the port a scheme implies.
func defaultPort(scheme string) string {
	switch scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// bodySHA256Param is the bodySHA256 query parameter of fullURL.
func bodySHA256Param(fullURL string) (string, bool) {
	u, err := url.Parse(fullURL)
	if err != nil {
		return "", false
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", false
	}
	v := q["bodySHA256"]
	if len(v) != 1 || v[0] == "" {
		return "", false
	}
	return v[0], true
}
