package twilio

import (
	"net/url"
	"strings"
	"testing"
)

// Twilio's published request-validation example: auth token 12345, this URL
// and these POST parameters.
const (
	exampleToken = "12345"
	exampleURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
)

// docsParams and docsSignature: the example of Twilio's security page,
// https://www.twilio.com/docs/usage/security#validating-requests (now
// https://www.twilio.com/docs/usage/webhooks/webhooks-security), as quoted by
// implementations that cite that page.
var docsParams = url.Values{
	"CallSid": {"CA1234567890ABCDE"},
	"Caller":  {"+12349013030"},
	"Digits":  {"1234"},
	"From":    {"+12349013030"},
	"To":      {"+18005551212"},
}

const docsSignature = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

// sdkParams and sdkSignature: the same example with Caller/From
// +14158675309, as in Twilio's SDK tests and the SDKs' validation docs:
// twilio-python tests/unit/test_request_validator.py
// (https://github.com/twilio/twilio-python/blob/main/tests/unit/test_request_validator.py),
// twilio-php's RequestValidatorTest (class Twilio\Tests\Unit\RequestValidatorTest,
// https://github.com/twilio/twilio-php), and
// https://twilio-python.readthedocs.io/en/latest/usage/validation.html.
// The port, repeated-key and bodySHA256 vectors below come from the same two
// test files.
var sdkParams = url.Values{
	"CallSid": {"CA1234567890ABCDE"},
	"Caller":  {"+14158675309"},
	"Digits":  {"1234"},
	"From":    {"+14158675309"},
	"To":      {"+18005551212"},
}

const sdkSignature = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

func TestValidatePublishedExamples(t *testing.T) {
	cases := []struct {
		name      string
		url       string
		params    url.Values
		signature string
	}{
		{"docs example", exampleURL, docsParams, docsSignature},
		{"sdk example", exampleURL, sdkParams, sdkSignature},
		// twilio-python test_compute_signature_duplicate_multi_dict /
		// twilio-php testValidateWithArrayAndDuplicates: Digits sent
		// twice (5678, 1234), signed as Digits1234Digits5678.
		{"repeated key", exampleURL, url.Values{
			"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"5678", "1234"},
		}, "IK+Dwps556ElfBT0I3Rgjkr1wJU="},
		// twilio-php: a value repeated under one name counts once.
		{"repeated key with duplicate value", exampleURL, url.Values{
			"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"5678", "1234", "1234"},
		}, "IK+Dwps556ElfBT0I3Rgjkr1wJU="},
		// test_validation_removes_port_on_https: Twilio signed without
		// the port the URL has.
		{"https port removed", "https://mycompany.com:1234/myapp.php?foo=1&bar=2", sdkParams, sdkSignature},
		// test_validation_removes_port_on_http: the signature is of the
		// http URL with port 1234, as given.
		{"http port kept", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", sdkParams, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
		// test_validation_adds_port_on_https / _on_http: Twilio signed
		// with the default port the URL does not have.
		{"https :443 added", exampleURL, sdkParams, "kvajT1Ptam85bY51eRf/AJRuM3w="},
		{"http :80 added", "http://mycompany.com/myapp.php?foo=1&bar=2", sdkParams, "0ZXoZLH/DfblKGATFgpif+LLRf4="},
		// twilio-php testBuildUrlCreds / testBuildUrlWithUser /
		// testBuildUrlCredsAddsPort: user info stays in the signed URL.
		{"credentials", "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2", sdkParams, "CukzLTc1tT5dXEDIHm/tKBanW10="},
		{"user", "https://user@mycompany.com/myapp.php?foo=1&bar=2", sdkParams, "2YRLlVAflCqxaNicjMpJcSTgzSs="},
		{"credentials :443 added", "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2", sdkParams, "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI="},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !Validate(exampleToken, c.url, c.params, c.signature) {
				t.Errorf("Validate(%q) = false, want true", c.url)
			}
		})
	}
}

func TestSignPublishedExamples(t *testing.T) {
	if got := Sign(exampleToken, exampleURL, docsParams); got != docsSignature {
		t.Errorf("docs example: Sign = %s, want %s", got, docsSignature)
	}
	if got := Sign(exampleToken, exampleURL, sdkParams); got != sdkSignature {
		t.Errorf("sdk example: Sign = %s, want %s", got, sdkSignature)
	}
	// Parameter order in the request does not matter (url.Values has
	// none); the order of a name's values does not either.
	a := url.Values{"Digits": {"1234", "5678"}, "Sid": {"CA123"}, "SidAccount": {"AC123"}}
	if got := Sign(exampleToken, exampleURL, a); got != "IK+Dwps556ElfBT0I3Rgjkr1wJU=" {
		t.Errorf("repeated key: Sign = %s", got)
	}
}

func TestValidateRejects(t *testing.T) {
	modified := func(name, value string) url.Values {
		p := url.Values{}
		for k, v := range docsParams {
			p[k] = append([]string(nil), v...)
		}
		p.Set(name, value)
		return p
	}
	extra := modified("Digits", "1234")
	extra.Add("Digits", "9")
	cases := []struct {
		name, token, url string
		params           url.Values
		signature        string
	}{
		{"wrong token", "54321", exampleURL, docsParams, docsSignature},
		{"empty token", "", exampleURL, docsParams, docsSignature},
		{"empty signature", exampleToken, exampleURL, docsParams, ""},
		{"modified value", exampleToken, exampleURL, modified("Digits", "1235"), docsSignature},
		{"added parameter", exampleToken, exampleURL, modified("Extra", "1"), docsSignature},
		{"added value", exampleToken, exampleURL, extra, docsSignature},
		{"missing parameter", exampleToken, exampleURL, url.Values{"CallSid": {"CA1234567890ABCDE"}}, docsSignature},
		{"other query", exampleToken, "https://mycompany.com/myapp.php?foo=1&bar=3", docsParams, docsSignature},
		{"other path", exampleToken, "https://mycompany.com/myapp.php/?foo=1&bar=2", docsParams, docsSignature},
		{"other scheme", exampleToken, "http://mycompany.com/myapp.php?foo=1&bar=2", docsParams, docsSignature},
		{"other host", exampleToken, "https://mycompany.org/myapp.php?foo=1&bar=2", docsParams, docsSignature},
		{"re-encoded query", exampleToken, "https://mycompany.com/myapp.php?foo=%31&bar=2", docsParams, docsSignature},
		{"truncated signature", exampleToken, exampleURL, docsParams, strings.TrimSuffix(docsSignature, "=")},
		{"signature with space", exampleToken, exampleURL, docsParams, docsSignature + " "},
		{"other port", exampleToken, "https://mycompany.com:8443/myapp.php?foo=1&bar=2", sdkParams, "kvajT1Ptam85bY51eRf/AJRuM3w="},
		{"params in the url only", exampleToken, exampleURL + "&Digits=1234", nil, docsSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if Validate(c.token, c.url, c.params, c.signature) {
				t.Errorf("Validate accepted %s", c.name)
			}
		})
	}
}

// TestValidateDuplicatesAsSent: a signer that keeps a repeated value twice
// (rather than once, as the SDKs do) is accepted too.
func TestValidateDuplicatesAsSent(t *testing.T) {
	p := url.Values{"Sid": {"CA123"}, "Digits": {"1234", "1234"}}
	asSent := sign(exampleToken, exampleURL, []string{"Digits1234", "Digits1234", "SidCA123"})
	if !Validate(exampleToken, exampleURL, p, asSent) {
		t.Error("signature over both values rejected")
	}
	if !Validate(exampleToken, exampleURL, p, Sign(exampleToken, exampleURL, p)) {
		t.Error("signature over the value once rejected")
	}
}

func TestValidateRoundTrip(t *testing.T) {
	urls := []string{
		"https://bridge.example.com/webhooks/twilio",
		"https://bridge.example.com:8443/webhooks/twilio?route=wa",
		"http://[::1]:8080/webhooks/twilio",
		"https://bridge.example.com/webhooks/twilio?bodySHA256=abc#frag",
	}
	p := url.Values{"MessageSid": {"SM1"}, "Body": {"héllo & ünïcode ✓"}, "NumMedia": {"0"}}
	for _, u := range urls {
		sig := Sign("secret", u, p)
		if !Validate("secret", u, p, sig) {
			t.Errorf("%s: own signature rejected", u)
		}
		if Validate("other", u, p, sig) {
			t.Errorf("%s: accepted with another token", u)
		}
	}
}

// TestValidateJSON: the bodySHA256 form, with twilio-python's
// test_validation_of_body_succeeds and twilio-php's testValidateWithBody
// vector.
func TestValidateJSON(t *testing.T) {
	const (
		body      = `{"property": "value", "boolean": true}`
		bodyHash  = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
		signature = "a9nBmqA0ju/hNViExpshrM61xv4="
	)
	if got := BodySHA256([]byte(body)); got != bodyHash {
		t.Fatalf("BodySHA256 = %s, want %s", got, bodyHash)
	}
	u := exampleURL + "&bodySHA256=" + bodyHash
	if !ValidateJSON(exampleToken, u, []byte(body), signature) {
		t.Error("published bodySHA256 example rejected")
	}
	upper := exampleURL + "&bodySHA256=" + strings.ToUpper(bodyHash)
	if !ValidateJSON(exampleToken, upper, []byte(body), Sign(exampleToken, upper, nil)) {
		t.Error("upper-case hex rejected")
	}
	rejects := []struct {
		name, token, url, body, signature string
	}{
		{"modified body", exampleToken, u, `{"property": "value", "boolean": false}`, signature},
		{"wrong token", "54321", u, body, signature},
		{"no bodySHA256", exampleToken, exampleURL, body, sdkSignature},
		{"empty bodySHA256", exampleToken, exampleURL + "&bodySHA256=", body, Sign(exampleToken, exampleURL+"&bodySHA256=", nil)},
		{"two bodySHA256", exampleToken, u + "&bodySHA256=" + bodyHash, body, Sign(exampleToken, u+"&bodySHA256="+bodyHash, nil)},
		{"signature of the form instead", exampleToken, exampleURL, body, sdkSignature},
		{"bad url", exampleToken, "://%zz?bodySHA256=" + bodyHash, body, signature},
	}
	for _, c := range rejects {
		if ValidateJSON(c.token, c.url, []byte(c.body), c.signature) {
			t.Errorf("ValidateJSON accepted %s", c.name)
		}
	}
	// The right hash with a signature that is not over that URL.
	if ValidateJSON(exampleToken, u, []byte(body), sdkSignature) {
		t.Error("accepted a signature of another URL")
	}
}

func TestURLVariants(t *testing.T) {
	cases := map[string][]string{
		"https://a.example/p?q=1":        {"https://a.example/p?q=1", "https://a.example:443/p?q=1"},
		"http://a.example":               {"http://a.example", "http://a.example:80"},
		"https://a.example:443/p":        {"https://a.example:443/p", "https://a.example/p"},
		"https://u:p@a.example:8443/p#f": {"https://u:p@a.example:8443/p#f", "https://u:p@a.example/p#f"},
		"HTTPS://a.example/p":            {"HTTPS://a.example/p", "HTTPS://a.example:443/p"},
		"http://[::1]:8080/p":            {"http://[::1]:8080/p", "http://[::1]/p"},
		"http://[::1]/p":                 {"http://[::1]/p", "http://[::1]:80/p"},
		"ftp://a.example/p":              {"ftp://a.example/p"},
		"a.example/p":                    {"a.example/p"},
		"https://a.example:/p":           {"https://a.example:/p"},
		"https://a.example:x1/p":         {"https://a.example:x1/p"},
		"https:///p":                     {"https:///p"},
		"":                               {""},
	}
	for in, want := range cases {
		got := urlVariants(in)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("urlVariants(%q) = %q, want %q", in, got, want)
		}
	}
}
