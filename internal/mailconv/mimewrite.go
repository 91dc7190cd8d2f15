package mailconv

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode/utf8"

	message "github.com/emersion/go-message"
)

// field is one header field, written in the order given.
type field struct{ k, v string }

// mimePart is a MIME entity to write: a leaf with its decoded body, or a
// multipart with children. Boundaries are chosen when writing.
type mimePart struct {
	ctype  string            // media type, e.g. "text/plain"
	params map[string]string // Content-Type parameters (not boundary)
	fields []field           // further fields (Content-Disposition, Content-Description)
	cte    string            // transfer encoding of a leaf; chosen when empty
	body   []byte
	parts  []*mimePart
}

// textPart is a text/plain; charset=utf-8 leaf; s gets a final newline.
func textPart(s string) *mimePart {
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return &mimePart{ctype: "text/plain", params: map[string]string{"charset": "utf-8"}, body: []byte(s)}
}

// filePart is an attachment leaf, base64-encoded, named in both the
// Content-Type name (RFC 2047, for old readers) and the
// Content-Disposition filename (RFC 2231).
func filePart(mimeType, name string, body []byte) *mimePart {
	t, params, err := mime.ParseMediaType(mimeType)
	if err != nil || !strings.Contains(t, "/") {
		t, params = "application/octet-stream", map[string]string{}
	}
	delete(params, "name")
	name = headerFilename(name)
	p := &mimePart{ctype: t, params: params, cte: "base64", body: body}
	if name != "" {
		p.params["name"] = mime.QEncoding.Encode("utf-8", name)
		p.fields = append(p.fields, field{"Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name})})
	} else {
		p.fields = append(p.fields, field{"Content-Disposition", "attachment"})
	}
	return p
}

// headerFilename shortens a file name (keeping its extension) until its
// RFC 2231 form fits comfortably on one header line.
func headerFilename(name string) string {
	name = cleanFilename(oneLine(name))
	ext := path.Ext(name)
	if len(ext) > 12 {
		ext = ""
	}
	for len(mime.FormatMediaType("attachment", map[string]string{"filename": name})) > 600 {
		stem := []rune(strings.TrimSuffix(name, ext))
		if len(stem) < 2 {
			return "file" + ext
		}
		name = string(stem[:len(stem)*3/4]) + ext
	}
	return name
}

// leafEncoding chooses 7bit for short-lined ASCII text, else
// quoted-printable.
func leafEncoding(b []byte) string {
	line := 0
	for i, c := range b {
		switch {
		case c == '\n':
			line = 0
			continue
		case c == '\r' && i+1 < len(b) && b[i+1] == '\n':
			continue
		case c >= utf8.RuneSelf, c < 0x20 && c != '\t', c == 0x7f:
			return "quoted-printable"
		}
		line++
		if line > 900 {
			return "quoted-printable"
		}
	}
	return "7bit"
}

// writeMessage writes top (the message's own fields, in order), then
// MIME-Version and root's fields, and root's body. Boundaries are derived
// from seed, so the same input gives the same bytes, and chosen so they
// occur in no text part.
func writeMessage(top []field, root *mimePart, seed string) ([]byte, error) {
	var texts [][]byte
	var collect func(p *mimePart)
	collect = func(p *mimePart) {
		if len(p.parts) == 0 && p.cte != "base64" {
			texts = append(texts, p.body)
		}
		for _, c := range p.parts {
			collect(c)
		}
	}
	collect(root)
	n := 0
	boundary := func() string {
		for salt := 0; ; salt++ {
			sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", seed, n, salt))
			b := "wabridge-" + hex.EncodeToString(sum[:12])
			clash := false
			for _, t := range texts {
				if bytes.Contains(t, []byte(b)) {
					clash = true
				}
			}
			if !clash {
				n++
				return b
			}
		}
	}

	var buf bytes.Buffer
	h := partHeader(root, boundary)
	fields := append(append([]field{}, top...), field{"MIME-Version", "1.0"})
	fields = append(fields, h...)
	w, err := message.CreateWriter(&buf, headerOf(fields))
	if err != nil {
		return nil, err
	}
	if err := writeBody(w, root, boundary); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// partHeader returns p's Content-Type, its other fields and (for a leaf)
// its Content-Transfer-Encoding; a multipart gets its boundary here.
func partHeader(p *mimePart, boundary func() string) []field {
	params := map[string]string{}
	for k, v := range p.params {
		params[k] = v
	}
	if len(p.parts) > 0 {
		params["boundary"] = boundary()
	} else if p.cte == "" {
		p.cte = leafEncoding(p.body)
	}
	fs := []field{{"Content-Type", mime.FormatMediaType(p.ctype, params)}}
	fs = append(fs, p.fields...)
	if len(p.parts) == 0 {
		fs = append(fs, field{"Content-Transfer-Encoding", p.cte})
	}
	return fs
}

// headerOf builds a go-message header that writes fs in order (it writes
// the fields added last first), with the names spelt as given
// ("Message-ID", "MIME-Version") and folded by foldField.
func headerOf(fs []field) message.Header {
	var h message.Header
	for i := len(fs) - 1; i >= 0; i-- {
		h.AddRaw([]byte(foldField(fs[i].k, fs[i].v)))
	}
	return h
}

// foldField formats "name: value" CRLF-terminated, folding before spaces
// so lines stay within 78 characters where the value allows.
func foldField(k, v string) string {
	var b strings.Builder
	b.WriteString(k)
	b.WriteByte(':')
	lineLen := b.Len()
	for i, tok := range strings.Split(v, " ") {
		if i > 0 && lineLen+1+len(tok) > 78 && lineLen > len(k)+1 {
			b.WriteString("\r\n")
			lineLen = 0
		}
		b.WriteByte(' ')
		b.WriteString(tok)
		lineLen += 1 + len(tok)
	}
	b.WriteString("\r\n")
	return b.String()
}

func writeBody(w *message.Writer, p *mimePart, boundary func() string) error {
	if len(p.parts) == 0 {
		if _, err := w.Write(p.body); err != nil {
			return err
		}
		return w.Close()
	}
	for _, c := range p.parts {
		pw, err := w.CreatePart(headerOf(partHeader(c, boundary)))
		if err != nil {
			return err
		}
		if err := writeBody(pw, c, boundary); err != nil {
			return err
		}
	}
	return w.Close()
}
