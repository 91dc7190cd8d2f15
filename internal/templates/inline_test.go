package templates

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseInline(t *testing.T) {
	cases := []struct {
		text, prefix string
		name         string
		params       []string
		ok           bool
	}{
		{"tpl:order_update|12345|Monday", "tpl:", "order_update", []string{"12345", "Monday"}, true},
		{"tpl:hello_world", "tpl:", "hello_world", nil, true},
		{"TPL:order_update|1|2", "tpl:", "order_update", []string{"1", "2"}, true},
		{"  tpl:order_update@de_DE|12345|Montag\r\n", "tpl:", "order_update@de_DE", []string{"12345", "Montag"}, true},
		{`tpl:note|a\|b|c\\d|e\nf`, "tpl:", "note", []string{"a|b", `c\d`, `e\nf`}, true},
		{`tpl:note|trailing\`, "tpl:", "note", []string{`trailing\`}, true},
		{"tpl:order_update| 12345 | Monday ", "tpl:", "order_update", []string{"12345", "Monday"}, true},
		{"tpl:order_update||x", "tpl:", "order_update", []string{"", "x"}, true},
		{"tpl:order_update|", "tpl:", "order_update", []string{""}, true},
		{"tpl:|12345", "tpl:", "", nil, false},
		{"tpl:", "tpl:", "", nil, false},
		{"Your order 12345 has shipped", "tpl:", "", nil, false},
		{"xtpl:order_update|1", "tpl:", "", nil, false},
		{"tp", "tpl:", "", nil, false},
		{"tpl:order_update|1", "", "", nil, false},
		{"#order_update#1#2", "#", "order_update#1#2", nil, true},
	}
	for _, c := range cases {
		name, params, ok := ParseInline(c.text, c.prefix)
		if name != c.name || !reflect.DeepEqual(params, c.params) || ok != c.ok {
			t.Errorf("ParseInline(%q, %q) = %q, %q, %v; want %q, %q, %v", c.text, c.prefix, name, params, ok, c.name, c.params, c.ok)
		}
	}
}

func TestParseNameLanguage(t *testing.T) {
	cases := [][3]string{
		{"order_update@de_DE", "order_update", "de_DE"},
		{"order_update", "order_update", ""},
		{"a@b@en", "a@b", "en"},
		{"order_update@", "order_update", ""},
	}
	for _, c := range cases {
		if n, l := ParseNameLanguage(c[0]); n != c[1] || l != c[2] {
			t.Errorf("ParseNameLanguage(%q) = %q, %q", c[0], n, l)
		}
	}
}

func TestNamedFromFriendly(t *testing.T) {
	names := map[string]string{"First Name": "first_name", "Order Number": "1", "{Delivery Date}": "delivery_date"}
	cases := []struct {
		name    string
		values  map[string]string
		want    map[string]string
		wantErr string
	}{
		{"plain", map[string]string{"First Name": "Anna", "Order Number": "12345"}, map[string]string{"first_name": "Anna", "1": "12345"}, ""},
		{"case, braces and spaces", map[string]string{"first name": "Anna", "{ORDER NUMBER}": "1", "{{order  number}}": "1", "Delivery Date": "Mon"},
			map[string]string{"first_name": "Anna", "1": "1", "delivery_date": "Mon"}, ""},
		{"parameter names themselves", map[string]string{"first_name": "Anna", "DELIVERY_DATE": "Mon"}, map[string]string{"first_name": "Anna", "delivery_date": "Mon"}, ""},
		{"empty", map[string]string{}, map[string]string{}, ""},
		{"unknown", map[string]string{"First Name": "Anna", "Shoe Size": "42", "Colour": "red"}, nil, `unknown variable names "Colour", "Shoe Size"`},
		{"conflict", map[string]string{"First Name": "Anna", "first_name": "Bob"}, nil, "both give parameter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := NamedFromFriendly(names, c.values)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("= %v, %v; want %v", got, err, c.want)
			}
		})
	}
	if _, err := NamedFromFriendly(map[string]string{"Name": "a", "{name}": "b"}, nil); err == nil || !strings.Contains(err.Error(), "to both") {
		t.Errorf("conflicting configuration: err = %v", err)
	}
}
