package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"unicode/utf8"
)

func refuse(field, format string, args ...any) error {
	return &RefusedError{Reason: ReasonInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// validateContent checks the content of an outbound message of every kind
// against WhatsApp's published rules, so a refusal is known at submit time.
func (b *Bridge) validateContent(ctx context.Context, m *Message) error {
	c := &m.Content
	switch {
	case m.Kind == KindText:
		if c.Text == "" {
			return refuse("text", "text is empty")
		}
		if n := utf8.RuneCountInString(c.Text); n > MaxTextLength {
			return refuse("text", "%d characters; WhatsApp allows %d", n, MaxTextLength)
		}
	case m.Kind == KindTemplate:
		t := c.Template
		if t == nil || t.Name == "" {
			return refuse("template.name", "template name is required")
		}
		if t.Language == "" {
			return refuse("template.language", "template language is required")
		}
		return validateTemplate(t)
	case m.Kind.IsMedia():
		return b.validateMedia(ctx, m.Kind, c.Media)
	case m.Kind == KindLocation:
		l := c.Location
		if l == nil {
			return refuse("location", "location is required")
		}
		if l.Latitude < -90 || l.Latitude > 90 || l.Longitude < -180 || l.Longitude > 180 {
			return refuse("location", "latitude must be within ±90 and longitude within ±180")
		}
	case m.Kind == KindContacts:
		return validateContacts(c.Contacts)
	case m.Kind == KindInteractive:
		return validateInteractive(c.Interactive)
	case m.Kind == KindReaction:
		if c.Reaction == nil || c.Reaction.MessageID == "" {
			return refuse("reaction.message_id", "the message reacted to is required")
		}
		if utf8.RuneCountInString(c.Reaction.Emoji) > 10 {
			return refuse("reaction.emoji", "one emoji, or empty to remove the reaction")
		}
	default:
		return refuse("type", "%q messages cannot be sent", m.Kind)
	}
	return nil
}

// validateMedia: exactly one source — a stored file (checked against
// MediaRules by its type and size), a provider media id, or a public link.
func (b *Bridge) validateMedia(ctx context.Context, kind Kind, md *Media) error {
	if md == nil {
		return refuse("media", "media is required")
	}
	sources := 0
	for _, s := range []string{md.FileID, md.ID, md.URL} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 {
		return refuse("media", "give exactly one of file_id, media_id and url")
	}
	if md.Filename != "" && kind != KindDocument {
		return refuse("media.filename", "only documents carry a file name")
	}
	if md.URL != "" {
		u, err := url.Parse(md.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return refuse("media.url", "must be an absolute http or https URL")
		}
	}
	if md.FileID != "" {
		if b.files == nil {
			return refuse("media.file_id", "this daemon keeps no files")
		}
		r, f, err := b.files.Open(ctx, md.FileID)
		if errors.Is(err, ErrNotFound) {
			return refuse("media.file_id", "no uploaded file %q", md.FileID)
		}
		if err != nil {
			return err
		}
		r.Close()
		md.MIMEType, md.Size, md.SHA256 = f.MIMEType, f.Size, f.SHA256
		if md.Filename == "" && kind == KindDocument {
			md.Filename = f.Filename
		}
	}
	return CheckMedia(kind, md.MIMEType, md.Size, md.Animated, md.Caption)
}

func validateContacts(raw json.RawMessage) error {
	var cards []struct {
		Name *struct {
			FormattedName string `json:"formatted_name"`
		} `json:"name"`
	}
	if err := json.Unmarshal(raw, &cards); err != nil || len(cards) == 0 {
		return refuse("contacts", "a non-empty array of contact cards is required")
	}
	for i, c := range cards {
		if c.Name == nil || c.Name.FormattedName == "" {
			return refuse(fmt.Sprintf("contacts[%d].name.formatted_name", i), "every card needs a formatted name")
		}
	}
	return nil
}

// interactive is the part of Meta's interactive object that has limits.
type interactive struct {
	Type string `json:"type"`
	Body *struct {
		Text string `json:"text"`
	} `json:"body"`
	Footer *struct {
		Text string `json:"text"`
	} `json:"footer"`
	Action *struct {
		Button  string `json:"button"`
		Name    string `json:"name"`
		Buttons []struct {
			Type  string `json:"type"`
			Reply struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"reply"`
		} `json:"buttons"`
		Sections []struct {
			Title string `json:"title"`
			Rows  []struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"rows"`
		} `json:"sections"`
		Parameters *struct {
			DisplayText string `json:"display_text"`
			URL         string `json:"url"`
		} `json:"parameters"`
	} `json:"action"`
}

// validateInteractive checks reply buttons, lists and call-to-action URL
// messages against Meta's limits (FACTS.md b1).
func validateInteractive(raw json.RawMessage) error {
	var in interactive
	if err := json.Unmarshal(raw, &in); err != nil {
		return refuse("interactive", "must be an interactive object as Meta defines it")
	}
	chars := utf8.RuneCountInString
	if in.Body == nil || in.Body.Text == "" {
		return refuse("interactive.body.text", "body text is required")
	}
	if chars(in.Body.Text) > 1024 {
		return refuse("interactive.body.text", "over 1,024 characters")
	}
	if in.Footer != nil && chars(in.Footer.Text) > 60 {
		return refuse("interactive.footer.text", "over 60 characters")
	}
	if in.Action == nil {
		return refuse("interactive.action", "action is required")
	}
	a := in.Action
	switch in.Type {
	case "button":
		if len(a.Buttons) < 1 || len(a.Buttons) > 3 {
			return refuse("interactive.action.buttons", "1 to 3 reply buttons")
		}
		for i, bt := range a.Buttons {
			f := fmt.Sprintf("interactive.action.buttons[%d].reply", i)
			if bt.Reply.ID == "" || bt.Reply.Title == "" {
				return refuse(f, "each button needs an id and a title")
			}
			if chars(bt.Reply.Title) > 20 || len(bt.Reply.ID) > 256 {
				return refuse(f, "title over 20 characters or id over 256")
			}
		}
	case "list":
		if a.Button == "" || chars(a.Button) > 20 {
			return refuse("interactive.action.button", "the list button needs a label of 1 to 20 characters")
		}
		rows := 0
		if len(a.Sections) < 1 || len(a.Sections) > 10 {
			return refuse("interactive.action.sections", "1 to 10 sections")
		}
		for i, sec := range a.Sections {
			if len(a.Sections) > 1 && sec.Title == "" {
				return refuse(fmt.Sprintf("interactive.action.sections[%d].title", i), "sections need titles when there are several")
			}
			for j, r := range sec.Rows {
				f := fmt.Sprintf("interactive.action.sections[%d].rows[%d]", i, j)
				if r.ID == "" || r.Title == "" || chars(r.Title) > 24 || chars(r.Description) > 72 {
					return refuse(f, "each row needs an id and a title of at most 24 characters (description at most 72)")
				}
				rows++
			}
		}
		if rows < 1 || rows > 10 {
			return refuse("interactive.action.sections", "1 to 10 rows in all")
		}
	case "cta_url":
		p := a.Parameters
		if a.Name != "cta_url" || p == nil || p.DisplayText == "" || chars(p.DisplayText) > 20 {
			return refuse("interactive.action.parameters", "cta_url needs display_text (at most 20 characters) and url")
		}
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return refuse("interactive.action.parameters.url", "must be an absolute http or https URL")
		}
	default:
		return refuse("interactive.type", "type must be button, list or cta_url")
	}
	return nil
}
