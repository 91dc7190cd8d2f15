package smpp

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wabridge/wabridge/bridge"
)

// renderText writes any customer message as SMS text: media as its kind,
// name and caption; a location with a map link; contacts as names and
// numbers; buttons, list answers and reactions as short sentences.
func renderText(m *bridge.Message) string {
	c := &m.Content
	switch m.Kind {
	case bridge.KindText:
		return c.Text
	case bridge.KindImage, bridge.KindVideo, bridge.KindAudio, bridge.KindDocument, bridge.KindSticker:
		label := string(m.Kind)
		if c.Media != nil && c.Media.Voice {
			label = "voice message"
		}
		parts := []string{"[" + label}
		if c.Media != nil && c.Media.Filename != "" {
			parts[0] += ": " + c.Media.Filename
		}
		parts[0] += "]"
		if c.Media != nil && c.Media.Caption != "" {
			parts = append(parts, c.Media.Caption)
		}
		return strings.Join(parts, " ")
	case bridge.KindLocation:
		if l := c.Location; l != nil {
			var b strings.Builder
			b.WriteString("[location]")
			for _, s := range []string{l.Name, l.Address} {
				if s != "" {
					b.WriteString(" " + s)
				}
			}
			fmt.Fprintf(&b, " https://maps.google.com/?q=%.6f,%.6f", l.Latitude, l.Longitude)
			return b.String()
		}
	case bridge.KindContacts:
		var cards []struct {
			Name struct {
				FormattedName string `json:"formatted_name"`
			} `json:"name"`
			Phones []struct {
				Phone string `json:"phone"`
			} `json:"phones"`
		}
		_ = json.Unmarshal(c.Contacts, &cards)
		var out []string
		for _, card := range cards {
			s := card.Name.FormattedName
			for _, p := range card.Phones {
				s += " " + p.Phone
			}
			out = append(out, s)
		}
		return "[contact] " + strings.Join(out, "; ")
	case bridge.KindButton:
		if c.Button != nil {
			return c.Button.Text
		}
	case bridge.KindInteractive:
		if c.Reply != nil {
			if c.Reply.Description != "" {
				return c.Reply.Title + " (" + c.Reply.Description + ")"
			}
			return c.Reply.Title
		}
	case bridge.KindReaction:
		if c.Reaction != nil {
			if c.Reaction.Emoji == "" {
				return "[removed a reaction]"
			}
			return "[reacted " + c.Reaction.Emoji + "]"
		}
	case bridge.KindSystem:
		if c.System != nil && c.System.Body != "" {
			return "[" + c.System.Body + "]"
		}
	}
	return "[" + string(m.Kind) + " message]"
}
