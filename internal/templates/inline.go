package templates

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// ParseInline reads an inline template selection, the way a legacy client
// (SMPP) names a template in plain text: with prefix "tpl:",
//
//	tpl:order_update|12345|Monday → ("order_update", ["12345", "Monday"], true)
//
// The text is trimmed of surrounding white space and the prefix compared
// without regard to case. Fields are separated by "|"; inside a field "\|"
// stands for "|" and "\\" for "\" (other backslashes are kept). The name and
// each parameter are trimmed of surrounding white space; the name may carry
// a language ("order_update@de_DE", see ParseNameLanguage). ok is false when
// prefix is empty, the text does not start with it, or the name is empty.
func ParseInline(text, prefix string) (name string, params []string, ok bool) {
	text = strings.TrimFunc(text, unicode.IsSpace)
	if prefix == "" || len(text) < len(prefix) || !strings.EqualFold(text[:len(prefix)], prefix) {
		return "", nil, false
	}
	var fields []string
	var b strings.Builder
	rest := text[len(prefix):]
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c == '\\' && i+1 < len(rest) && (rest[i+1] == '|' || rest[i+1] == '\\'):
			b.WriteByte(rest[i+1])
			i++
		case c == '|':
			fields = append(fields, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	fields = append(fields, b.String())
	for i := range fields {
		fields[i] = strings.TrimFunc(fields[i], unicode.IsSpace)
	}
	if fields[0] == "" {
		return "", nil, false
	}
	if len(fields) > 1 {
		params = fields[1:]
	}
	return fields[0], params, true
}

// ParseNameLanguage splits "order_update@de_DE" into its name and language
// at the last "@"; without one the language is "".
func ParseNameLanguage(s string) (name, language string) {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// friendlyKey normalises a business-style variable name: surrounding braces
// ("{Order Number}", "{{Order Number}}") and white space removed, inner
// white space collapsed, lower case.
func friendlyKey(s string) string {
	s = strings.TrimFunc(s, unicode.IsSpace)
	for len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}' {
		s = strings.TrimFunc(s[1:len(s)-1], unicode.IsSpace)
	}
	return strings.ToLower(collapse(s))
}

// NamedFromFriendly maps values given under business-style variable names
// to template parameter names. names is the configured mapping, friendly
// name → parameter name ({"First Name": "first_name", "Order Number": "1"});
// values holds friendly name → value. Friendly names compare without regard
// to case, surrounding braces or white-space runs ("{order  number}" is
// "Order Number"); a parameter name itself (a value of names) is accepted
// too. It fails, naming them, on unknown friendly names, on two values for
// one parameter, and on two configured names that differ only in case,
// braces or white space but map to different parameters.
func NamedFromFriendly(names map[string]string, values map[string]string) (map[string]string, error) {
	index := map[string]string{}
	configured := map[string]bool{}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fk, p := friendlyKey(k), names[k]
		if prev, ok := index[fk]; ok && prev != p {
			return nil, fmt.Errorf("templates: variable names map %q to both %q and %q", k, prev, p)
		}
		index[fk] = p
		configured[fk] = true
	}
	for _, p := range names {
		if fk := friendlyKey(p); !configured[fk] {
			index[fk] = p
		}
	}
	out := make(map[string]string, len(values))
	from := map[string]string{}
	var unknown []string
	given := make([]string, 0, len(values))
	for k := range values {
		given = append(given, k)
	}
	slices.Sort(given)
	for _, k := range given {
		p, ok := index[friendlyKey(k)]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q", k))
			continue
		}
		if prev, dup := from[p]; dup && out[p] != values[k] {
			return nil, fmt.Errorf("templates: variables %q and %q both give parameter %q", prev, k, p)
		}
		out[p] = values[k]
		from[p] = k
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("templates: unknown variable names %s", strings.Join(unknown, ", "))
	}
	return out, nil
}
