package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.err from the current output")

// TestBad loads every testdata/bad/*.toml and compares the whole error text
// (every problem, one per line, "FILE:LINE: KEY: MSG") with the .err file
// beside it. Run `go test ./internal/config -run TestBad -update` to rewrite
// the .err files after an intended change, then review the diff.
func TestBad(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.toml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".toml")
		t.Run(name, func(t *testing.T) {
			c, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) succeeded: %+v", file, c)
			}
			if c != nil {
				t.Errorf("Load returned a config along with the error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors", err)
			}
			for i, p := range errs {
				if p.File != file || p.Msg == "" {
					t.Errorf("problem %d incomplete: %+v", i, p)
				}
				if i > 0 && p.Line != 0 && (errs[i-1].Line == 0 || errs[i-1].Line > p.Line) {
					t.Errorf("problems not sorted by line: %+v before %+v", errs[i-1], p)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".toml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Load(%s) errors:\n%s\nwant (%s):\n%s", file, got, golden, want)
			}
		})
	}
}

// TestProblems spells out the essential cases: each problem's key and line.
func TestProblems(t *testing.T) {
	type p struct {
		key  string
		line int
		msg  string // substring
	}
	for _, tc := range []struct {
		name string
		toml string
		want []p
	}{
		{"unknown top-level key", "colour = 1\n", []p{{"colour", 1, "unknown key"}}},
		{"unknown table", "[log]\nlevel = \"info\"\n\n[metrics]\nx = 1\n", []p{{"metrics", 4, "unknown key"}}},
		{"unknown nested key", "[whatsapp]\n\nacces_token = \"x\"\n", []p{{"whatsapp.acces_token", 3, `did you mean "access_token"`}}},
		{"unknown key in array table",
			"[[whatsapp.numbers]]\nphone_number_id = \"1\"\nbusiness_number = \"+15550100011\"\n[[whatsapp.numbers]]\nphone_number_id = \"2\"\nbusiness_number = \"+15550100022\"\nbusines_number = \"x\"\n",
			[]p{{"whatsapp.numbers[1].busines_number", 7, "unknown key"}}},
		{"unknown dotted key", "\nhttp.listn = \"x\"\n", []p{{"http.listn", 2, "unknown key"}}},
		{"unknown key in inline table", "\noutbox = { workers = 2, retries = 3 }\n", []p{{"outbox.retries", 2, "unknown key"}}},
		{"type error", "[outbox]\nworkers = 4\nlease = 60\n", []p{{"outbox.lease", 3, "needs a unit"}}},
		{"every type error at once", "[outbox]\nworkers = \"4\"\nmax_attempts = 1.5\n[sandbox]\nenabled = 1\n",
			[]p{{"outbox.workers", 2, "expected integer, got string"}, {"outbox.max_attempts", 3, "got float"}, {"sandbox.enabled", 5, "expected boolean"}}},
		{"table where a value is expected", "[log]\nlevel = { a = 1 }\n", []p{{"log.level", 2, "expected string, got table"}}},
		{"syntax error", "[log]\nlevel = \"info\nformat = \"text\"\n", []p{{"", 2, "syntax error"}}},
		{"smpp account number not a business number", "[[smpp.accounts]]\nsystem_id = \"acme\"\npassword = \"pw\"\nnumbers = [\"+15559990000\"]\n",
			[]p{{"smpp.accounts[0].numbers[0]", 4, "not a configured business number"}}},
		{"mail user without numbers", "[[mail.users]]\nusername = \"agent\"\npassword = \"pw\"\n",
			[]p{{"mail.users[0].numbers", 1, "at least one business number"}}},
		{"smtp tls_listen without a certificate", "[smtp]\ntls_listen = \"127.0.0.1:4650\"\n", []p{{"smtp.cert_file", 1, "tls_listen needs cert_file"}}},
		{"imap busy_sessions negative", "[imap]\nbusy_sessions = -1\n", []p{{"imap.busy_sessions", 2, "must be 0"}}},
		{"imap header_cache too large", "[imap]\nheader_cache = \"2GiB\"\n", []p{{"imap.header_cache", 2, "must be 0"}}},
		{"smtp insecure auth off loopback", "[smtp]\nlisten = \"0.0.0.0:2525\"\nallow_insecure_auth = true\n", []p{{"smtp.allow_insecure_auth", 3, "only on a loopback listener"}}},
		{"cert without key", "[http]\ncert_file = \"c.pem\"\n", []p{{"http.key_file", 1, "set both cert_file and key_file"}}},
		{"unreadable certificate", "[http]\ncert_file = \"/nonexistent/c.pem\"\nkey_file = \"/nonexistent/k.pem\"\n", []p{{"http.cert_file", 2, "cannot load the certificate"}}},
		{"bad E.164", "[whatsapp]\nphone_number_id = \"1\"\nbusiness_number = \"+0123456789\"\n", []p{{"whatsapp.business_number", 3, "E.164"}}},
		{"E.164 too short", "[whatsapp]\nphone_number_id = \"1\"\nbusiness_number = \"+1234567\"\n", []p{{"whatsapp.business_number", 3, "E.164"}}},
		{"E.164 too long", "[whatsapp]\nphone_number_id = \"1\"\nbusiness_number = \"+1234567890123456\"\n", []p{{"whatsapp.business_number", 3, "E.164"}}},
		{"both k and k_file", "[whatsapp]\nverify_token = \"a\"\nverify_token_file = \"b\"\n", []p{{"whatsapp.verify_token_file", 3, "set verify_token or verify_token_file, not both"}}},
		{"both tokens and tokens_file", "[api]\ntokens_file = \"b\"\ntokens = [\"a\"]\n", []p{{"api.tokens_file", 2, "set tokens or tokens_file, not both"}}},
		{"postgres", "[store]\ndriver = \"postgres\"\n", []p{{"store.driver", 2, "not supported yet; comes in a later release"}}},
		{"twilio without sandbox", "[sandbox]\nenabled = false\n[whatsapp]\nprovider = \"twilio\"\n", []p{
			{"twilio.account_sid", 0, "required"}, {"twilio.auth_token", 0, "X-Twilio-Signature"},
			{"http.public_url", 0, "Twilio signs webhooks against it"}, {"whatsapp.numbers", 3, "WhatsApp sender"}}},
		{"twilio sids", "[twilio]\naccount_sid = \"AC123\"\napi_key_sid = \"AC00000000000000000000000000000001\"\nmessaging_service_sid = \"MGzz\"\n", []p{
			{"twilio.account_sid", 2, "not a Twilio SID (AC"}, {"twilio.api_key_sid", 3, "not a Twilio SID (SK"},
			{"twilio.messaging_service_sid", 4, "not a Twilio SID (MG"}}},
		{"twilio api key half", "[twilio]\napi_key_sid = \"SK00000000000000000000000000000001\"\n", []p{{"twilio.api_key_sid", 2, "together"}}},
		{"twilio sandbox sample", "[sandbox]\nenabled = false\n[http]\npublic_url = \"https://wa.example.com\"\n[whatsapp]\nprovider = \"twilio\"\nbusiness_number = \"+15550100009\"\n[twilio]\naccount_sid = \"AC00000000000000000000000000000001\"\nauth_token = \"sandbox-twilio-auth-token\"\n", []p{
			{"twilio.account_sid", 9, "sandbox's sample"}, {"twilio.auth_token", 10, "sandbox's sample"}}},
		{"twilio route", "[[sms.routes]]\nname = \"tw\"\ntype = \"twilio\"\nhost = \"x\"\nfrom = \"Acme\"\n[[sms.routes]]\nname = \"tw2\"\ntype = \"twilio\"\nfrom = \"+1 555\"\n[[sms.routes]]\nname = \"tw3\"\ntype = \"twilio\"\n", []p{
			{"sms.routes[0].host", 4, "smpp route setting"}, {"sms.routes[1].from", 9, "neither an E.164"},
			{"sms.routes[2].from", 10, "needs from"}}},
		{"smpp route with from", "[[sms.routes]]\nname = \"op\"\ntype = \"smpp\"\nhost = \"x\"\nport = 2775\nsystem_id = \"a\"\npassword = \"b\"\nfrom = \"+15550100001\"\n", []p{
			{"sms.routes[0].from", 8, "for twilio routes"}}},
		{"throughput not a number", "[smpp]\nlisten = \"127.0.0.1:2775\"\n[[smpp.accounts]]\nsystem_id = \"a\"\npassword = \"b\"\nnumbers = [\"+15550100001\"]\nthroughput = \"fast\"\n", []p{{"smpp.accounts[0].throughput", 7, "number"}}},
		{"route type", "[[sms.routes]]\nname = \"x\"\ntype = \"http\"\n", []p{{"sms.routes[0].type", 3, "\"smpp\" or \"twilio\""}}},
		{"required without sandbox", "[sandbox]\nenabled = false\n", []p{
			{"whatsapp.waba_id", 0, "required"}, {"whatsapp.access_token", 0, "required"},
			{"whatsapp.app_secret", 0, "required"}, {"whatsapp.verify_token", 0, "required"},
			{"whatsapp.numbers", 0, "required"}}},
		{"duplicate numbers", "[[whatsapp.numbers]]\nphone_number_id = \"1\"\nbusiness_number = \"+15550100011\"\n[[whatsapp.numbers]]\nphone_number_id = \"2\"\nbusiness_number = \"+15550100011\"\n",
			[]p{{"whatsapp.numbers[1].business_number", 6, "duplicate"}}},
		{"both number forms", "[whatsapp]\nbusiness_number = \"+15550100011\"\n[[whatsapp.numbers]]\nphone_number_id = \"2\"\nbusiness_number = \"+15550100022\"\n",
			[]p{{"whatsapp.business_number", 2, "not both"}}},
		{"commit_batch range", "[store]\ncommit_batch = 10001\n", []p{{"store.commit_batch", 2, "between 1 and 10000"}}},
		{"writer_priority range", "[store]\nwriter_priority = -1\n", []p{{"store.writer_priority", 2, "between 0 and 39"}}},
		{"retention negative", "[store]\nretention = \"-1s\"\n", []p{{"store.retention", 2, "negative"}}},
		{"bad listen", "[http]\nlisten = \"8080\"\n", []p{{"http.listen", 2, "host:port"}}},
		{"bad graph_url", "[whatsapp]\ngraph_url = \"graph.facebook.com\"\n", []p{{"whatsapp.graph_url", 2, "http(s) URL"}}},
		{"webhook_workers range", "[sandbox]\nstatus_delay = \"10ms\"\nwebhook_workers = 0\n", []p{{"sandbox.webhook_workers", 3, "between 1 and 1024"}}},
		{"not_on_whatsapp", "[sandbox]\nnot_on_whatsapp = [\n  \"+4915112345678\",\n  \"004915112345678\",\n]\n", []p{{"sandbox.not_on_whatsapp[1]", 4, "E.164"}}},
		{"template name", "[[sandbox.templates]]\nname = \"Hello World\"\nlanguage = \"en\"\ncategory = \"UTILITY\"\nbody = \"hi\"\n", []p{{"sandbox.templates[0].name", 2, "^[a-z0-9_]+$"}}},
		{"template category and body", "[[sandbox.templates]]\nname = \"x\"\nlanguage = \"en\"\ncategory = \"SPAM\"\n", []p{
			{"sandbox.templates[0].category", 4, "not one of"}, {"sandbox.templates[0].body", 1, "must not be empty"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.toml), "test.toml")
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse error = %v, want Errors", err)
			}
			if len(errs) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(errs), len(tc.want), err)
			}
			for _, w := range tc.want {
				found := false
				for _, g := range errs {
					if g.Key == w.key && g.Line == w.line && strings.Contains(g.Msg, w.msg) {
						found = true
					}
				}
				if !found {
					t.Errorf("missing problem %s:%d %q in:\n%v", w.key, w.line, w.msg, err)
				}
			}
		})
	}
}

func TestErrorsFormat(t *testing.T) {
	errs := Errors{
		{File: "c.toml", Key: "b", Line: 0, Msg: "m0"},
		{File: "c.toml", Key: "a", Line: 7, Msg: "m7"},
		{File: "c.toml", Key: "", Line: 3, Msg: "m3"},
	}
	errs.sort()
	want := "c.toml:3: m3\nc.toml:7: a: m7\nc.toml: b: m0"
	if got := errs.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestEmptyIsDefault(t *testing.T) {
	c, err := Parse(nil, "empty")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("empty config differs from Default():\n%s\nwant\n%s", c, Default())
	}
	d := Default()
	if !d.Sandbox.Enabled || d.Store.Driver != "sqlite" || d.WhatsApp.GraphURLSet {
		t.Errorf("Default() = %s", d)
	}
	if got := d.BusinessNumbers(); !reflect.DeepEqual(got, []string{"+15550100001"}) {
		t.Errorf("BusinessNumbers() = %v", got)
	}
	if d.WhatsApp.AccessToken.Value() != "sandbox-access-token" || d.WhatsApp.WABAID != "100000000000001" ||
		d.WhatsApp.Numbers[0].PhoneNumberID != "100000000000002" {
		t.Errorf("sandbox identity missing from Default(): %#v", d.WhatsApp)
	}
	if got := d.SandboxWebhookURL(); got != "http://127.0.0.1:8080/webhooks/whatsapp" {
		t.Errorf("SandboxWebhookURL() = %q", got)
	}
}

func exampleFile() string { return filepath.Join("..", "..", "config.example.toml") }

func TestExampleEqualsDefault(t *testing.T) {
	c, err := Load(exampleFile())
	if err != nil {
		t.Fatalf("config.example.toml: %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("config.example.toml differs from Default():\n%s\nwant\n%s", c, Default())
	}
}

// schemaKeys lists every TOML key of t as "section.key" (array tables as "section.array.key").
func schemaKeys(t reflect.Type, prefix string, out map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("toml")
		if tag == "" || tag == "-" {
			continue
		}
		key := joinKey(prefix, tag)
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			schemaKeys(ft, key, out)
			continue
		}
		out[key] = true
	}
}

// TestExampleDocumentsEveryKey checks that config.example.toml shows every key
// of the schema (commented out or not) under the right table, with a comment
// line explaining it, and the default value where the schema has a scalar default.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(exampleFile())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	schemaKeys(reflect.TypeOf(Config{}), "", want)

	header := regexp.MustCompile(`^#?\s*\[\[?\s*([a-z_.]+)\s*\]\]?\s*$`)
	keyLine := regexp.MustCompile(`^#?([a-z0-9_]+) = (.+)$`)
	documented := map[string]bool{}
	section := ""
	prev := ""
	for n, line := range strings.Split(string(data), "\n") {
		if m := header.FindStringSubmatch(line); m != nil {
			section = m[1]
		} else if m := keyLine.FindStringSubmatch(line); m != nil {
			key := section + "." + m[1]
			if !want[key] {
				t.Errorf("line %d: %s is not a config key", n+1, key)
			}
			documented[key] = true
			if !strings.HasPrefix(prev, "# ") {
				t.Errorf("line %d: %s has no explanation on the line above", n+1, key)
			}
		}
		prev = line
	}
	for key := range want {
		if !documented[key] {
			t.Errorf("config.example.toml does not document %s", key)
		}
	}

	// Uncommenting every single-table key must still give Default() (the
	// shown values are the defaults). The one-number shorthand and the
	// example template and SMPP account are left out: alternatives and samples.
	var b strings.Builder
	section = ""
	for _, line := range strings.Split(string(data), "\n") {
		if m := header.FindStringSubmatch(line); m != nil {
			section = m[1]
		}
		if strings.HasPrefix(line, "#") && keyLine.MatchString(line) && section != "whatsapp.numbers" && section != "sandbox.templates" && section != "smpp.accounts" && section != "mail.users" && section != "templates.pins" && section != "sms.routes" {
			line = line[1:]
		}
		b.WriteString(line + "\n")
	}
	c, err := Parse([]byte(b.String()), "uncommented example")
	if err != nil {
		t.Fatalf("uncommented example: %v", err)
	}
	d := Default()
	d.WhatsApp.GraphURLSet = true // graph_url is now given
	d.Twilio.APIURLSet, d.Twilio.ContentURLSet = true, true
	if !reflect.DeepEqual(c, d) {
		t.Errorf("uncommented example differs from Default():\n%s\nwant\n%s", c, d)
	}
}

func TestSecretFilesRelativeToConfigDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("secrets/access_token", "EAAG-file-token\n")
	write("secrets/app_secret", "file-app-secret") // no trailing newline
	write("secrets/tokens", "# API tokens\ntok-one\n\n  tok-two  \n# retired: tok-old\n")
	abs := filepath.Join(dir, "secrets", "verify")
	write("secrets/verify", "verify\n\n") // only one newline is trimmed: still an error-free value with a newline
	write("etc/wabridge.toml", `
[api]
tokens_file = "../secrets/tokens"

[whatsapp]
waba_id = "123456789012345"
access_token_file = "../secrets/access_token"
app_secret_file = "../secrets/app_secret"
verify_token_file = "`+abs+`"
phone_number_id = "123456789"
business_number = "+4915112345678"

[sandbox]
enabled = false
`)
	// Load from a different working directory than the config's.
	c, err := Load(filepath.Join(dir, "etc", "wabridge.toml"))
	if err != nil {
		t.Fatal(err)
	}
	w := c.WhatsApp
	if w.AccessToken.Value() != "EAAG-file-token" || w.AppSecret.Value() != "file-app-secret" || w.VerifyToken.Value() != "verify\n" {
		t.Errorf("secrets = %q %q %q", w.AccessToken.Value(), w.AppSecret.Value(), w.VerifyToken.Value())
	}
	if w.AccessTokenFile != filepath.Join(dir, "etc", "..", "secrets", "access_token") && w.AccessTokenFile != filepath.Join(dir, "secrets", "access_token") {
		t.Errorf("AccessTokenFile = %q", w.AccessTokenFile)
	}
	var tokens []string
	for _, s := range c.API.Tokens {
		tokens = append(tokens, s.Value())
	}
	if !reflect.DeepEqual(tokens, []string{"tok-one", "tok-two"}) {
		t.Errorf("tokens = %q", tokens)
	}
	if !reflect.DeepEqual(w.Numbers, []Number{{"123456789", "+4915112345678"}}) || w.PhoneNumberID != "" || w.BusinessNumber != "" {
		t.Errorf("numbers not normalised: %#v", w)
	}

	// Parse resolves against the working directory: the same relative path fails.
	data, _ := os.ReadFile(filepath.Join(dir, "etc", "wabridge.toml"))
	_, err = Parse(data, "stdin")
	if err == nil || !strings.Contains(err.Error(), "stdin:3: api.tokens_file: cannot read secret file") {
		t.Errorf("Parse with relative secret files: %v", err)
	}
}

func TestProductionConfig(t *testing.T) {
	c, err := Parse([]byte(`
[log]
level = "warn"
format = "json"

[store]
retention = "0"
commit_delay = "2ms"

[http]
listen = ":8443"
public_url = "https://wa.example.com"
max_body_bytes = 1048576

[api]
tokens = ["t1", "t2"]

[whatsapp]
graph_url = "https://graph.facebook.com"
waba_id = "123456789012345"
access_token = "EAAG"
app_secret = "s"
verify_token = "v"
media_hosts = ["lookaside.fbsbx.com", "scontent.whatsapp.net"]

[[whatsapp.numbers]]
phone_number_id = "111111111"
business_number = "+15550100011"

[[whatsapp.numbers]]
phone_number_id = "222222222"
business_number = "+4915112345678"

[sandbox]
enabled = false
listen = ""
`), "prod.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.WhatsApp.GraphURLSet || c.Store.Retention != 0 || c.Store.CommitDelay.D() != 2*time.Millisecond || c.HTTP.MaxBodyBytes != 1<<20 {
		t.Errorf("config = %s", c)
	}
	if got := c.BusinessNumbers(); !reflect.DeepEqual(got, []string{"+15550100011", "+4915112345678"}) {
		t.Errorf("BusinessNumbers() = %v", got)
	}
	if c.WhatsApp.WABAID != "123456789012345" || c.WhatsApp.AccessToken.Value() != "EAAG" {
		t.Errorf("sandbox identity leaked into a production config: %#v", c.WhatsApp)
	}
}

func TestSandboxKeepsGivenIdentity(t *testing.T) {
	c, err := Parse([]byte("[whatsapp]\nphone_number_id = \"42424242\"\nbusiness_number = \"+4915112345678\"\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.WhatsApp.Numbers, []Number{{"42424242", "+4915112345678"}}) {
		t.Errorf("Numbers = %v", c.WhatsApp.Numbers)
	}
	if c.WhatsApp.AccessToken != SandboxAccessToken || c.WhatsApp.GraphURLSet {
		t.Errorf("sandbox defaults not applied: %#v", c.WhatsApp)
	}
}

func TestTemplates(t *testing.T) {
	c, err := Parse([]byte(`
[[sandbox.templates]]
name = "order_update"
language = "en_US"
category = "UTILITY"
body = "Your order {{1}} has shipped and arrives on {{2}}."

[[sandbox.templates]]
name = "welcome"
language = "de"
category = "MARKETING"
status = "PAUSED"
parameter_format = "NAMED"
header_format = "TEXT"
header_text = "Hallo {{first_name}}"
body = """
Willkommen, {{first_name}}!
"""
footer = "Abmelden: STOP"
`), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	ts := c.Sandbox.Templates
	if len(ts) != 2 || ts[0].Status != "APPROVED" || ts[0].ParameterFormat != "POSITIONAL" || ts[1].Status != "PAUSED" || ts[1].Footer == "" {
		t.Errorf("templates = %+v", ts)
	}
}

func TestSizeAndDuration(t *testing.T) {
	for in, want := range map[string]Size{
		"0": 0, "1024": 1024, "512KiB": 512 << 10, "4MiB": 4 << 20, "100MB": 100e6, "1 GiB": 1 << 30, "3mib": 3 << 20, "10B": 10, "2KB": 2000,
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "4 parsecs", "1.5MiB", "99999999999999999999", "9999999999TiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
	for s, want := range map[Size]string{0: "0", 4 << 20: "4MiB", 100e6: "100MB", 1000: "1KB", 1023: "1023"} {
		if got := s.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(s), got, want)
		}
	}
	for d, want := range map[time.Duration]string{0: "0s", 720 * time.Hour: "720h", 90 * time.Minute: "1h30m", time.Minute: "1m", 100 * time.Millisecond: "100ms", 90 * time.Second: "1m30s"} {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
	}
	c, err := Parse([]byte("[http]\nmax_body_bytes = \"3MiB\"\nread_timeout = \"1m30s\"\n[store]\nretention = 0\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.MaxBodyBytes.Bytes() != 3<<20 || c.HTTP.ReadTimeout.D() != 90*time.Second || c.Store.Retention != 0 {
		t.Errorf("http = %+v", c.HTTP)
	}
}

func TestPositions(t *testing.T) {
	src := `# comment
title = "x" # trailing [not.a.table]
multi = """
[fake]
key = 1
"""
lit = '''
[[also.fake]]'''
"quoted.key" = { a = 1, b = { c = [1, 2] } }
a.b . c = 2

[t]
x = [
  { y = 1 },   # first
  # comment = "x"
  { y = 2,
    z = "s" },
]

[[arr]]
k = 1
[arr.sub]
s = 1
[[arr]]
k = 2
[[arr.inner]]
i = 1
[[arr.inner]]
i = 2
[ "spaced key" . x ]
v = 'str'
`
	got := scanPositions(src)
	for key, line := range map[string]int{
		"title": 2, "multi": 3, "lit": 7, `"quoted.key"`: 9, `"quoted.key".b.c[1]`: 9,
		"a": 10, "a.b.c": 10, "t": 12, "t.x": 13, "t.x[0].y": 14, "t.x[1]": 16, "t.x[1].z": 17,
		"arr": 20, "arr[0]": 20, "arr[0].k": 21, "arr[0].sub": 22, "arr[0].sub.s": 23,
		"arr[1].k": 25, "arr[1].inner[0].i": 27, "arr[1].inner[1]": 28, "arr[1].inner[1].i": 29,
		`"spaced key".x.v`: 31,
	} {
		if got[key] != line {
			t.Errorf("line of %s = %d, want %d", key, got[key], line)
		}
	}
	for _, key := range []string{"fake", "fake.key", "also", "comment", "not"} {
		if _, ok := got[key]; ok {
			t.Errorf("scanner found %s inside a string or comment", key)
		}
	}
	if l := got.line("arr[1].inner[1].missing"); l != 28 {
		t.Errorf("fallback line = %d, want 28", l)
	}
	if parentKey(`a."b.c"`) != "a" || parentKey("a[3]") != "a" || parentKey("a") != "" {
		t.Error("parentKey")
	}
}

// TestSecretsNeverLeak follows alertmanager's TestHideConfigSecrets: load
// configurations full of distinctive secrets, make every kind of problem
// happen around them, and check that no secret appears in any error or dump.
func TestSecretsNeverLeak(t *testing.T) {
	secrets := []string{
		"SECRET-dsn-postgres-pw", "SECRET-api-token-1", "SECRET-api-token-2", "SECRET-access-token",
		"SECRET-app-secret", "SECRET-verify-token", "SECRET-file-token", "SECRET-file-api",
	}
	check := func(t *testing.T, what, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains secret %q:\n%s", what, s, text)
			}
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("SECRET-file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "api"), []byte("SECRET-file-api\nSECRET-file-api\nbad token\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	good := `
[store]
dsn = "SECRET-dsn-postgres-pw"
[api]
tokens = ["SECRET-api-token-1", "SECRET-api-token-2"]
[whatsapp]
waba_id = "123456789"
access_token = "SECRET-access-token"
app_secret = "SECRET-app-secret"
verify_token = "SECRET-verify-token"
phone_number_id = "123456789"
business_number = "+15550100011"
[sandbox]
enabled = false
`
	c, err := Parse([]byte(good), "good.toml")
	if err != nil {
		t.Fatal(err)
	}
	check(t, "String()", c.String())
	check(t, "%v", fmt.Sprintf("%v", c))
	check(t, "%+v", fmt.Sprintf("%+v", *c))
	check(t, "%#v", fmt.Sprintf("%#v", *c))
	for _, verb := range []string{"%s", "%q", "%x", "%X", "%d", "%10s", "%-v", "%#v", "%T%v"} {
		check(t, verb, fmt.Sprintf(verb, c.WhatsApp.AccessToken))
		check(t, verb+" slice", fmt.Sprintf(verb, c.API.Tokens))
	}
	if b, _ := c.WhatsApp.AppSecret.MarshalText(); string(b) != "<secret>" {
		t.Errorf("MarshalText = %q", b)
	}
	if c.WhatsApp.AccessToken.String() != "<secret>" || c.WhatsApp.AccessToken.GoString() != `"<secret>"` {
		t.Errorf("String/GoString do not redact")
	}
	if !strings.Contains(c.String(), `access_token = "<secret>"`) {
		t.Errorf("String() does not show redacted secrets:\n%s", c)
	}
	if c.WhatsApp.AccessToken.Value() != "SECRET-access-token" {
		t.Errorf("Value() = %q", c.WhatsApp.AccessToken.Value())
	}

	bad := []string{
		// secrets in the wrong type or in unknown keys, beside every other kind of problem
		`[store]
dsn = "SECRET-dsn-postgres-pw"
dsn_file = "SECRET-dsn-postgres-pw"
driver = "postgres"
[api]
tokens = ["SECRET-api-token-1", "SECRET-api-token-1", "SECRET-api-token-2 x", 7]
[whatsapp]
access_token = ["SECRET-access-token"]
acces_token = "SECRET-access-token"
app_secret = "SECRET-app-secret"
app_secret_file = "nope"
verify_token = 12
graph_url = "https://user:SECRET-verify-token@graph.facebook.com:bad"
[http]
public_url = "https://user:SECRET-access-token@wa.example.com/x y"
[sandbox]
enabled = false
webhook_url = "ftp://user:SECRET-app-secret@example.com/"
`,
		// secrets read from files, with duplicates and whitespace
		`[api]
tokens_file = "` + filepath.Join(dir, "api") + `"
[whatsapp]
access_token_file = "` + filepath.Join(dir, "token") + `"
provider = "sms"
`,
		// syntax errors inside secret values
		"[whatsapp]\naccess_token = SECRET-access-token\n",
		"[whatsapp]\naccess_token = \"SECRET-access-token\\q\"\n",
		"[api]\ntokens = [\n  \"SECRET-api-token-1\",\n  SECRET-api-token-2,\n]\n",
		"[store]\ndsn = 'SECRET-dsn-postgres-pw\n",
		"whatsapp.app_secret = \"SECRET-app-secret\" \"x\"\n",
		"[whatsapp]\nverify_token = \"\"\"SECRET-verify-token\"\"\" junk\n",
	}
	for i, src := range bad {
		_, err := Parse([]byte(src), "bad.toml")
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		check(t, fmt.Sprintf("case %d error", i), err.Error())
		check(t, fmt.Sprintf("case %d %%#v", i), fmt.Sprintf("%#v", err))
		if i == 0 && strings.Count(err.Error(), "\n") < 8 {
			t.Errorf("case 0: expected many problems, got:\n%v", err)
		}
	}
}

// TestNoValueInTypeErrors makes sure type errors never echo a value.
func TestNoValueInTypeErrors(t *testing.T) {
	_, err := Parse([]byte("[whatsapp]\naccess_token = 1234567890987\napp_secret = [\"abcdefghijkl\"]\n"), "x")
	if err == nil || strings.Contains(err.Error(), "1234567890987") || strings.Contains(err.Error(), "abcdefghijkl") {
		t.Errorf("error = %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(err.Error(), "nope.toml: cannot read config") {
		t.Errorf("Load(missing) = %v", err)
	}
}

// TestBadFilesCoverCases keeps the list of testdata cases honest.
func TestBadFilesCoverCases(t *testing.T) {
	files, _ := filepath.Glob("testdata/bad/*.toml")
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".toml"))
	}
	sort.Strings(names)
	for _, want := range []string{"unknown_top", "unknown_nested", "unknown_array_table", "type_errors", "bad_e164",
		"both_secret", "required_no_sandbox", "duplicate_numbers", "postgres"} {
		if i := sort.SearchStrings(names, want); i >= len(names) || names[i] != want {
			t.Errorf("testdata/bad/%s.toml missing", want)
		}
	}
}

// Numbers decode into float keys, written with or without a fraction (an
// SMPP account's throughput could not be set before: "cannot decode into
// float64").
func TestFloatKeys(t *testing.T) {
	for src, want := range map[string]float64{"throughput = 2.5": 2.5, "throughput = 5": 5} {
		c, err := Parse([]byte("[smpp]\nlisten = \"127.0.0.1:2775\"\n[[smpp.accounts]]\nsystem_id = \"a\"\npassword = \"b\"\nnumbers = [\"+15550100001\"]\n"+src+"\n"), "t.toml")
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := c.SMPP.Accounts[0].Throughput; got != want {
			t.Errorf("%s: throughput %v", src, got)
		}
	}
}
