package mailconv

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Contact is one contact card in Meta's shape, as WhatsApp sends and
// receives it (the elements of bridge.Content.Contacts).
type Contact struct {
	Name struct {
		FormattedName string `json:"formatted_name"`
		FirstName     string `json:"first_name"`
		LastName      string `json:"last_name"`
		MiddleName    string `json:"middle_name"`
		Prefix        string `json:"prefix"`
		Suffix        string `json:"suffix"`
	} `json:"name"`
	Phones []struct {
		Phone string `json:"phone"`
		WaID  string `json:"wa_id"`
		Type  string `json:"type"`
	} `json:"phones"`
	Emails []struct {
		Email string `json:"email"`
		Type  string `json:"type"`
	} `json:"emails"`
	Org struct {
		Company    string `json:"company"`
		Department string `json:"department"`
		Title      string `json:"title"`
	} `json:"org"`
	URLs []struct {
		URL  string `json:"url"`
		Type string `json:"type"`
	} `json:"urls"`
	Addresses []struct {
		Street      string `json:"street"`
		City        string `json:"city"`
		State       string `json:"state"`
		Zip         string `json:"zip"`
		Country     string `json:"country"`
		CountryCode string `json:"country_code"`
		Type        string `json:"type"`
	} `json:"addresses"`
	Birthday string `json:"birthday"`
}

// readContacts decodes Meta's contacts array; nil when it is not one.
func readContacts(raw json.RawMessage) []Contact {
	var cs []Contact
	if len(raw) == 0 || json.Unmarshal(raw, &cs) != nil {
		return nil
	}
	return cs
}

// displayName is the card's formatted name, else one made of its parts,
// its first phone or e-mail, or "Unknown".
func (c *Contact) displayName() string {
	if n := oneLine(c.Name.FormattedName); n != "" {
		return n
	}
	if n := oneLine(strings.Join([]string{c.Name.Prefix, c.Name.FirstName, c.Name.MiddleName, c.Name.LastName, c.Name.Suffix}, " ")); n != "" {
		return n
	}
	for _, p := range c.Phones {
		if n := oneLine(p.Phone); n != "" {
			return n
		}
	}
	for _, e := range c.Emails {
		if n := oneLine(e.Email); n != "" {
			return n
		}
	}
	return "Unknown"
}

// VCards writes contact cards as vCard 3.0 (RFC 2426): FN, N, ORG, TITLE,
// TEL, EMAIL, URL, ADR and BDAY, values escaped, CRLF line ends, lines
// folded at 75 octets (never inside a UTF-8 sequence). Meta's type labels
// ("CELL", "WORK", "HOME") become TYPE parameters.
func VCards(cards []Contact) string {
	var b strings.Builder
	for i := range cards {
		c := &cards[i]
		line := func(name string, params []string, value string) {
			head := name
			for _, p := range params {
				head += ";" + p
			}
			b.WriteString(foldVCardLine(head + ":" + value))
		}
		line("BEGIN", nil, "VCARD")
		line("VERSION", nil, "3.0")
		line("FN", nil, vText(c.displayName()))
		line("N", nil, vStruct(c.Name.LastName, c.Name.FirstName, c.Name.MiddleName, c.Name.Prefix, c.Name.Suffix))
		if c.Org.Company != "" || c.Org.Department != "" {
			if c.Org.Department != "" {
				line("ORG", nil, vStruct(c.Org.Company, c.Org.Department))
			} else {
				line("ORG", nil, vStruct(c.Org.Company))
			}
		}
		if t := oneLine(c.Org.Title); t != "" {
			line("TITLE", nil, vText(t))
		}
		for _, p := range c.Phones {
			num := oneLine(p.Phone)
			if num == "" && p.WaID != "" {
				num = "+" + LocalPart(p.WaID)
			}
			if num != "" {
				line("TEL", vType(p.Type), vText(num))
			}
		}
		for _, e := range c.Emails {
			if a := oneLine(e.Email); a != "" {
				line("EMAIL", vType("INTERNET", e.Type), vText(a))
			}
		}
		for _, u := range c.URLs {
			if a := oneLine(u.URL); a != "" {
				line("URL", vType(u.Type), vText(a))
			}
		}
		for _, a := range c.Addresses {
			country := a.Country
			if country == "" {
				country = a.CountryCode
			}
			if a.Street+a.City+a.State+a.Zip+country == "" {
				continue
			}
			line("ADR", vType(a.Type), vStruct("", "", a.Street, a.City, a.State, a.Zip, country))
		}
		if bd := oneLine(c.Birthday); bd != "" {
			line("BDAY", nil, vText(bd))
		}
		line("END", nil, "VCARD")
	}
	return b.String()
}

// vText escapes a vCard text value.
func vText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case ',':
			b.WriteString(`\,`)
		case ';':
			b.WriteString(`\;`)
		case '\n', '\r':
			b.WriteString(`\n`)
		default:
			if r < 0x20 || r == 0x7f {
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// vStruct joins escaped components of a structured value (N, ADR, ORG).
func vStruct(parts ...string) string {
	for i, p := range parts {
		parts[i] = vText(strings.TrimSpace(p))
	}
	return strings.Join(parts, ";")
}

// vType makes a TYPE parameter of the given labels (upper-cased, only
// letters, digits and "-" kept); nil when none is left.
func vType(labels ...string) []string {
	var ts []string
	for _, l := range labels {
		var b strings.Builder
		for _, r := range strings.ToUpper(l) {
			if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
				b.WriteRune(r)
			}
		}
		if b.Len() > 0 {
			ts = append(ts, b.String())
		}
	}
	if len(ts) == 0 {
		return nil
	}
	return []string{"TYPE=" + strings.Join(ts, ",")}
}

// foldVCardLine ends a content line with CRLF, folding it so no line is
// longer than 75 octets: continuation lines start with one space.
func foldVCardLine(l string) string {
	var b strings.Builder
	limit := 75
	for len(l) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(l[cut]) {
			cut--
		}
		b.WriteString(l[:cut])
		b.WriteString("\r\n ")
		l = l[cut:]
		limit = 74
	}
	b.WriteString(l)
	b.WriteString("\r\n")
	return b.String()
}
