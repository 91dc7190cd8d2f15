package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Load reads the file at path and parses it (see Parse). Relative *_file
// paths are resolved against the directory of path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read config: %v", errors.Unwrap(err))}}
	}
	return parse(data, path, filepath.Dir(path))
}

// Parse parses a TOML configuration on top of the defaults and validates it.
// name is used in messages. Relative *_file paths are resolved against the
// working directory (Load resolves them against the file's directory).
//
// On failure the error is an Errors listing every problem found: syntax
// errors, type errors, unknown keys and validation failures, each with its
// key and line.
func Parse(data []byte, name string) (*Config, error) {
	return parse(data, name, ".")
}

// loader holds the state of one Parse.
type loader struct {
	name     string
	dir      string
	pos      positions
	set      map[string]bool // keys present in the file (full paths)
	problems Errors
	numbers  []string // for each entry of WhatsApp.Numbers: the key it came from
}

func (l *loader) add(key string, line int, format string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.name, Key: key, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// problem records a problem for a key whose line is looked up in the file.
func (l *loader) problem(key string, format string, args ...any) {
	l.add(key, l.pos.line(key), format, args...)
}

func parse(data []byte, name, dir string) (*Config, error) {
	l := &loader{name: name, dir: dir, set: map[string]bool{}}
	src := string(data)

	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		return nil, l.syntaxError(src, err)
	}
	l.pos = scanPositions(src)

	c := base()
	l.decodeStruct(raw, reflect.ValueOf(c).Elem(), "")
	c.WhatsApp.GraphURLSet = l.set["whatsapp.graph_url"]
	c.Twilio.APIURLSet = l.set["twilio.api_url"]
	c.Twilio.ContentURLSet = l.set["twilio.content_url"]

	l.resolveSecrets(c)
	l.normalize(c)
	l.validate(c)

	if len(l.problems) > 0 {
		l.problems.sort()
		return nil, l.problems
	}
	return c, nil
}

// secretLine matches the start of a statement assigning a secret: a syntax
// error in it must not quote the text.
var secretLine = regexp.MustCompile(`^\s*(?:[A-Za-z0-9_\-"'. ]*\.)?\s*"?(access_token|app_secret|verify_token|dsn|tokens|auth_token|api_key_secret|subaccount_auth_token)"?\s*=`)

func (l *loader) syntaxError(src string, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return Errors{{File: l.name, Msg: err.Error()}}
	}
	msg := pe.Message
	if mentionsSecret(src, pe) {
		msg = "invalid TOML (details not shown: the value is a secret)"
	}
	return Errors{{File: l.name, Line: pe.Position.Line, Msg: "syntax error: " + msg}}
}

// mentionsSecret reports whether a syntax error is in the value of a secret
// key, whose text the parser's message could quote.
func mentionsSecret(src string, pe toml.ParseError) bool {
	last := pe.LastKey
	if i := strings.LastIndexByte(last, '.'); i >= 0 {
		last = last[i+1:]
	}
	switch strings.Trim(last, `"'`) {
	case "access_token", "app_secret", "verify_token", "dsn", "tokens", "auth_token", "api_key_secret", "subaccount_auth_token":
		return true
	}
	// The statement the error is in starts on the error line or above it
	// (multi-line arrays and strings).
	lines := strings.Split(src, "\n")
	for n := pe.Position.Line; n >= 1 && n <= len(lines); n-- {
		text := lines[n-1]
		if secretLine.MatchString(text) {
			return true
		}
		if strings.Contains(text, "=") || strings.HasPrefix(strings.TrimSpace(text), "[") {
			return false
		}
	}
	return false
}

var (
	durationType = reflect.TypeOf(Duration(0))
	sizeType     = reflect.TypeOf(Size(0))
)

// tomlType names the TOML type of a decoded value, for messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case time.Time:
		return "datetime"
	case []any, []map[string]any:
		return "array"
	case map[string]any:
		return "table"
	}
	return fmt.Sprintf("%T", v)
}

// decodeStruct decodes a TOML table into a struct, reporting unknown keys
// and type errors and leaving the defaults where a value is wrong.
func (l *loader) decodeStruct(table map[string]any, rv reflect.Value, path string) {
	fields := map[string]int{}
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		tag := rt.Field(i).Tag.Get("toml")
		if tag != "" && tag != "-" {
			fields[tag] = i
		}
	}
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := joinKey(path, k)
		l.set[key] = true
		i, ok := fields[k]
		if !ok {
			l.problem(key, "unknown key%s", suggest(k, fields))
			continue
		}
		l.decodeValue(table[k], rv.Field(i), key)
	}
}

// suggest names a known key close to an unknown one.
func suggest(k string, fields map[string]int) string {
	best, bestD := "", 3
	for f := range fields {
		if d := editDistance(k, f); d < bestD || d == bestD && best != "" && f < best {
			best, bestD = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (l *loader) typeError(key, want string, v any) {
	l.problem(key, "expected %s, got %s", want, tomlType(v))
}

// decodeValue decodes one TOML value into rv. Values are never quoted in
// messages: the key may hold a secret.
func (l *loader) decodeValue(v any, rv reflect.Value, key string) {
	switch rv.Type() {
	case durationType:
		switch x := v.(type) {
		case string:
			d, err := parseDuration(x)
			if err != nil {
				l.problem(key, "invalid duration %q (use a number with a unit: \"100ms\", \"30s\", \"5m\", \"24h\")", x)
				return
			}
			rv.SetInt(int64(d))
		case int64:
			if x != 0 {
				l.problem(key, "a duration needs a unit: write \"%ds\" for %d seconds (or \"%dms\" …)", x, x, x)
				return
			}
			rv.SetInt(0)
		default:
			l.typeError(key, `a duration string such as "30s"`, v)
		}
		return
	case sizeType:
		switch x := v.(type) {
		case int64:
			if x < 0 {
				l.problem(key, "size must not be negative")
				return
			}
			rv.SetInt(x)
		case string:
			s, err := parseSize(x)
			if err != nil {
				l.problem(key, "%v", err)
				return
			}
			rv.SetInt(int64(s))
		default:
			l.typeError(key, `a size (bytes, or a string such as "4MiB")`, v)
		}
		return
	}

	switch rv.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			l.typeError(key, "string", v)
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			l.typeError(key, "boolean (true or false)", v)
			return
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			l.typeError(key, "integer", v)
			return
		}
		if rv.Kind() == reflect.Int && (n > math.MaxInt || n < math.MinInt) {
			l.problem(key, "integer out of range")
			return
		}
		rv.SetInt(n)
	case reflect.Float64:
		switch n := v.(type) {
		case float64:
			rv.SetFloat(n)
		case int64:
			rv.SetFloat(float64(n))
		default:
			l.typeError(key, "number", v)
			return
		}
	case reflect.Slice:
		var elems []any
		switch x := v.(type) {
		case []any:
			elems = x
		case []map[string]any:
			for _, m := range x {
				elems = append(elems, m)
			}
		default:
			l.typeError(key, "array", v)
			return
		}
		out := reflect.MakeSlice(rv.Type(), 0, len(elems))
		ok := true
		for i, e := range elems {
			elem := reflect.New(rv.Type().Elem()).Elem()
			before := len(l.problems)
			l.decodeValue(e, elem, indexKey(key, i))
			ok = ok && len(l.problems) == before
			out = reflect.Append(out, elem)
		}
		if ok || rv.Type().Elem().Kind() == reflect.Struct {
			// keep array-of-table entries even when a field was wrong,
			// so that validation still reports the rest of them
			rv.Set(out)
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			l.typeError(key, "table", v)
			return
		}
		l.decodeStruct(m, rv, key)
	default:
		l.problem(key, "cannot decode into %s", rv.Type())
	}
}

// resolveSecrets reads every *_file twin and reports a secret given both ways.
func (l *loader) resolveSecrets(c *Config) {
	one := func(section, name string, val *Secret, file *string) {
		key := section + "." + name
		fkey := key + "_file"
		if *file == "" {
			return
		}
		if l.set[key] {
			l.problem(fkey, "set %s or %s_file, not both", name, name)
			return
		}
		b, path, ok := l.readSecretFile(fkey, *file)
		if !ok {
			return
		}
		*file = path
		*val = Secret(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
		if *val == "" {
			l.problem(fkey, "file %s is empty", path)
		}
	}
	one("store", "dsn", &c.Store.DSN, &c.Store.DSNFile)
	one("whatsapp", "access_token", &c.WhatsApp.AccessToken, &c.WhatsApp.AccessTokenFile)
	one("whatsapp", "app_secret", &c.WhatsApp.AppSecret, &c.WhatsApp.AppSecretFile)
	one("whatsapp", "verify_token", &c.WhatsApp.VerifyToken, &c.WhatsApp.VerifyTokenFile)
	one("twilio", "auth_token", &c.Twilio.AuthToken, &c.Twilio.AuthTokenFile)
	one("twilio", "api_key_secret", &c.Twilio.APIKeySecret, &c.Twilio.APIKeySecretFile)
	one("twilio", "subaccount_auth_token", &c.Twilio.SubaccountAuthToken, &c.Twilio.SubaccountAuthTokenFile)
	for i := range c.Mail.Users {
		u := &c.Mail.Users[i]
		one(indexKey("mail.users", i), "password", &u.Password, &u.PasswordFile)
	}
	for i := range c.SMPP.Accounts {
		a := &c.SMPP.Accounts[i]
		one(indexKey("smpp.accounts", i), "password", &a.Password, &a.PasswordFile)
	}
	for i := range c.SMS.Routes {
		r := &c.SMS.Routes[i]
		one(indexKey("sms.routes", i), "password", &r.Password, &r.PasswordFile)
	}

	if c.API.TokensFile != "" {
		if l.set["api.tokens"] {
			l.problem("api.tokens_file", "set tokens or tokens_file, not both")
			return
		}
		b, path, ok := l.readSecretFile("api.tokens_file", c.API.TokensFile)
		if !ok {
			return
		}
		c.API.TokensFile = path
		tokens := []Secret{}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			tokens = append(tokens, Secret(line))
		}
		if len(tokens) == 0 {
			l.problem("api.tokens_file", "file %s holds no token", path)
		}
		c.API.Tokens = tokens
	}
}

func (l *loader) readSecretFile(key, file string) ([]byte, string, bool) {
	path := file
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.dir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		// the *PathError's message names the path and the cause, never the contents
		l.problem(key, "cannot read secret file: %v", err)
		return nil, path, false
	}
	return b, path, true
}

// normalize moves the one-number shorthand into Numbers and applies the
// sandbox's sample identity while the sandbox is enabled.
func (l *loader) normalize(c *Config) {
	w := &c.WhatsApp
	for i := range w.Numbers {
		l.numbers = append(l.numbers, indexKey("whatsapp.numbers", i))
	}
	if w.PhoneNumberID != "" || w.BusinessNumber != "" {
		if len(w.Numbers) > 0 {
			k := "whatsapp.phone_number_id"
			if w.PhoneNumberID == "" {
				k = "whatsapp.business_number"
			}
			l.problem(k, "set phone_number_id/business_number or [[whatsapp.numbers]], not both")
		} else {
			w.Numbers = []Number{{PhoneNumberID: w.PhoneNumberID, BusinessNumber: w.BusinessNumber}}
			l.numbers = []string{"whatsapp"}
		}
		w.PhoneNumberID, w.BusinessNumber = "", ""
	}
	for i := range c.Sandbox.Templates {
		t := &c.Sandbox.Templates[i]
		if t.Status == "" {
			t.Status = "APPROVED"
		}
		if t.ParameterFormat == "" {
			t.ParameterFormat = "POSITIONAL"
		}
	}
	if c.Sandbox.Enabled {
		c.applySandboxIdentity()
		if len(l.numbers) == 0 {
			l.numbers = []string{"whatsapp.numbers"}
		}
	}
}
