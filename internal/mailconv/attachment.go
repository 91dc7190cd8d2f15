package mailconv

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"

	"github.com/wabridge/wabridge/bridge"
)

// Attachment is a file carried by a mail, held in memory by Parse.
type Attachment struct {
	// Filename is the file's name without any directory ("" if the mail
	// gave none); RFC 2231 and RFC 2047 encoded names are decoded.
	Filename string
	// MIMEType is the part's media type without parameters, lower-cased.
	// application/octet-stream is replaced by the type the file name's
	// extension stands for, when it is one WhatsApp knows.
	MIMEType string
	// Kind is the WhatsApp media kind the type maps to (see KindFor).
	Kind bridge.Kind
	// Size is the decoded size in bytes.
	Size int64
	// Inline is true for a part without Content-Disposition: attachment
	// (an inline image with a file name); ContentID is its Content-ID
	// without angle brackets, if any. Callers may skip such parts
	// (signature logos) — Parse keeps them.
	Inline    bool
	ContentID string
	// Open returns a new reader over the decoded content; it may be
	// called any number of times.
	Open func() (io.Reader, error)
}

// KindFor maps a MIME type to the WhatsApp media kind a file of that type
// is sent as: image/webp → sticker; other image/* → image; video/* →
// video; audio/* → audio; everything else → document. A type WhatsApp
// does not accept for that kind (image/gif, application/zip) still maps to
// a kind, so CheckAttachment can name the refusal.
func KindFor(mimeType string) bridge.Kind {
	t := bridge.BaseMIME(mimeType)
	switch {
	case t == "image/webp":
		return bridge.KindSticker
	case strings.HasPrefix(t, "image/"):
		return bridge.KindImage
	case strings.HasPrefix(t, "video/"):
		return bridge.KindVideo
	case strings.HasPrefix(t, "audio/"):
		return bridge.KindAudio
	}
	return bridge.KindDocument
}

// CheckAttachment checks a against WhatsApp's rules for sent media
// (bridge.CheckMedia: type, then size). Refusals are *bridge.RefusedError
// with reason media_type_unsupported (the SMTP layer answers 554 5.6.1) or
// media_too_large (552 5.3.4), field "attachment", the message naming the file.
func CheckAttachment(a Attachment) error {
	kind := a.Kind
	if kind == "" {
		kind = KindFor(a.MIMEType)
	}
	mimeType := a.MIMEType
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	err := bridge.CheckMedia(kind, mimeType, a.Size, false, "")
	var re *bridge.RefusedError
	if err == nil || !errors.As(err, &re) {
		return err
	}
	name := a.Filename
	if name == "" {
		name = "(unnamed)"
	}
	return &bridge.RefusedError{Reason: re.Reason, Field: "attachment", Msg: fmt.Sprintf("%s: %s", name, re.Msg)}
}

// extTypes are the file name extensions that stand for a type WhatsApp
// accepts, used when a mail program labels a file application/octet-stream.
// A fixed table: the system's MIME tables differ between hosts.
var extTypes = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
	".mp4": "video/mp4", ".3gp": "video/3gpp",
	".aac": "audio/aac", ".amr": "audio/amr", ".mp3": "audio/mpeg", ".m4a": "audio/mp4",
	".ogg": "audio/ogg", ".opus": "audio/ogg",
	".txt": "text/plain", ".pdf": "application/pdf",
	".doc": "application/msword", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xls": "application/vnd.ms-excel", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".ppt": "application/vnd.ms-powerpoint", ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

// typeExts is the reverse of extTypes for naming rendered files.
var typeExts = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif",
	"video/mp4": ".mp4", "video/3gpp": ".3gp",
	"audio/aac": ".aac", "audio/amr": ".amr", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/ogg": ".ogg",
	"text/plain": ".txt", "application/pdf": ".pdf",
	"application/msword": ".doc", "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
	"application/vnd.ms-excel": ".xls", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
	"application/vnd.ms-powerpoint": ".ppt", "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
	"text/vcard": ".vcf",
}

// attachmentType returns the type to report for a part of type t named name.
func attachmentType(t, name string) string {
	if t == "application/octet-stream" || t == "" {
		if g, ok := extTypes[strings.ToLower(path.Ext(name))]; ok {
			return g
		}
		return "application/octet-stream"
	}
	return t
}

// cleanFilename keeps the last element of a path written with / or \,
// drops control characters and trims spaces and dots at the ends; a name
// that is then empty, "." or ".." becomes "".
func cleanFilename(name string) string {
	name = strings.ToValidUTF8(name, "\uFFFD")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	name = strings.TrimLeft(name, ".")
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 240 {
		r := []rune(name)
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		name = string(r[:240-utf8.RuneCountInString(ext)]) + ext
	}
	return name
}

// rfc2231Param is a lenient reader of a parameter from a raw
// Content-Disposition or Content-Type value, used when the standard parser
// gave nothing: it joins RFC 2231 continuations (name*0, name*1*, …) and
// decodes charset'lang'%XX values in any charset go-message/charset knows
// (mime.ParseMediaType accepts only UTF-8 and US-ASCII there). It also
// accepts a plain name="…" with duplicated or broken neighbours.
func rfc2231Param(raw, name string) string {
	type piece struct {
		ext bool
		val string
	}
	var plain string
	pieces := map[int]piece{}
	extended := ""
	for _, p := range splitParams(raw) {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		v = unquote(strings.TrimSpace(v))
		switch {
		case k == name:
			if plain == "" {
				plain = v
			}
		case k == name+"*":
			extended = v
		case strings.HasPrefix(k, name+"*"):
			rest := k[len(name)+1:]
			ext := strings.HasSuffix(rest, "*")
			rest = strings.TrimSuffix(rest, "*")
			n := 0
			if rest == "" || len(rest) > 3 {
				continue
			}
			for _, c := range rest {
				if c < '0' || c > '9' {
					n = -1
					break
				}
				n = n*10 + int(c-'0')
			}
			if n >= 0 {
				if _, dup := pieces[n]; !dup {
					pieces[n] = piece{ext, v}
				}
			}
		}
	}
	if extended == "" && len(pieces) > 0 {
		var b strings.Builder
		cs := ""
		for i := 0; ; i++ {
			p, ok := pieces[i]
			if !ok {
				break
			}
			v := p.val
			if p.ext {
				if i == 0 {
					if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
						cs, v = parts[0], parts[2]
					}
				}
				v = pctDecode(v)
			}
			b.WriteString(v)
		}
		return decodeCharset(cs, b.String())
	}
	if extended != "" {
		if parts := strings.SplitN(extended, "'", 3); len(parts) == 3 {
			return decodeCharset(parts[0], pctDecode(parts[2]))
		}
		return pctDecode(extended)
	}
	return plain
}

// splitParams splits a header value at semicolons outside quotes; the
// first element (the type or disposition) is dropped.
func splitParams(s string) []string {
	var out []string
	inQuote, esc := false, false
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			esc = false
		case c == '\\' && inQuote:
			esc = true
		case c == '"':
			inQuote = !inQuote
		case c == ';' && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	out = append(out, s[start:])
	return out[1:]
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

func pctDecode(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// decodeCharset converts s from the named charset to UTF-8; unknown
// charsets and invalid input fall back to toUTF8's guess.
func decodeCharset(cs, s string) string {
	cs = strings.ToLower(strings.TrimSpace(cs))
	if cs == "" || cs == "utf-8" || cs == "us-ascii" || cs == "utf8" {
		return toUTF8(s)
	}
	r, err := charset.Reader(cs, strings.NewReader(s))
	if err != nil {
		return toUTF8(s)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return toUTF8(s)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// toUTF8 returns s when it is valid UTF-8, else reads it as windows-1252
// (the usual charset of unlabelled 8-bit mail; every byte decodes).
func toUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	r, err := charset.Reader("windows-1252", strings.NewReader(s))
	if err == nil {
		if b, err := io.ReadAll(r); err == nil && utf8.Valid(b) {
			return string(b)
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
