package whatsapp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/wabridge/wabridge/bridge"
)

// Send bodies for the kinds other than text and template. Shapes as Meta
// documents them (the common envelope is in body.go):
//
//   - image, video, audio, document, sticker:
//     {"id":"<MEDIA_ID>"} or {"link":"<URL>"}, "caption" for image, video and
//     document, "filename" for document.
//     https://developers.facebook.com/docs/whatsapp/cloud-api/messages/document-messages
//     https://developers.facebook.com/docs/whatsapp/cloud-api/messages/video-messages
//     (image, audio and sticker pages: FACTS.md b1)
//   - location: {"latitude","longitude","name","address"}; Meta's reference
//     types latitude and longitude as strings in decimal degrees and its
//     example sends strings, so they are written that way.
//     https://developers.facebook.com/documentation/business-messaging/whatsapp/messages/location-messages/
//   - contacts: an array of contact cards, passed through (FACTS.md b1).
//   - interactive: Meta's interactive object, passed through (FACTS.md b1).
//   - reaction: {"message_id":"wamid…","emoji":"…"}; an empty emoji removes
//     the reaction, so "emoji" is always written (FACTS.md b1).

// mediaObject is the member of a media message: one of id and link, and
// caption / filename where the kind carries them.
type mediaObject struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// locationObj is the "location" member of a send.
type locationObj struct {
	Latitude  string `json:"latitude"`
	Longitude string `json:"longitude"`
	Name      string `json:"name,omitempty"`
	Address   string `json:"address,omitempty"`
}

// reactionObj is the "reaction" member; Emoji "" removes a reaction and is
// sent as such.
type reactionObj struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// buildMedia returns the builder for one media kind. The media is named by
// Media.ID (uploaded to Meta; wins when both are set) or Media.URL (sent as
// "link", which Meta fetches itself). Media.FileID alone is not enough: the
// core uploads the stored file and sets Media.ID before Send.
func buildMedia(kind bridge.Kind) kindBuilder {
	return func(o *outgoing, c *bridge.Content) error {
		m := c.Media
		if m == nil {
			return invalid(fmt.Sprintf("%s message without media", kind))
		}
		obj := &mediaObject{ID: m.ID}
		switch {
		case m.ID != "":
		case m.URL != "":
			if err := checkLink(m.URL); err != nil {
				return err
			}
			obj.Link = m.URL
		case m.FileID != "":
			return invalid(fmt.Sprintf("%s media %s is not uploaded yet (no media id)", kind, m.FileID))
		default:
			return invalid(fmt.Sprintf("%s media needs an uploaded media id or a link", kind))
		}
		if m.Caption != "" {
			if !bridge.MediaRules[kind].Caption {
				return invalid(fmt.Sprintf("%s messages carry no caption", kind))
			}
			if n := utf8.RuneCountInString(m.Caption); n > bridge.MaxCaptionLength {
				return invalid(fmt.Sprintf("caption of %d characters; WhatsApp allows %d", n, bridge.MaxCaptionLength))
			}
			obj.Caption = m.Caption
		}
		// A file name is shown for documents only; on other kinds it is
		// metadata of the stored file and is not sent.
		if kind == bridge.KindDocument {
			obj.Filename = m.Filename
		}
		switch kind {
		case bridge.KindImage:
			o.Image = obj
		case bridge.KindVideo:
			o.Video = obj
		case bridge.KindAudio:
			o.Audio = obj
		case bridge.KindDocument:
			o.Document = obj
		case bridge.KindSticker:
			o.Sticker = obj
		}
		return nil
	}
}

// checkLink accepts an absolute http(s) URL, which is what Meta can fetch.
func checkLink(link string) error {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid("media link must be an absolute http(s) URL")
	}
	return nil
}

func buildLocation(o *outgoing, c *bridge.Content) error {
	l := c.Location
	if l == nil {
		return invalid("location message without location")
	}
	if !finiteIn(l.Latitude, 90) || !finiteIn(l.Longitude, 180) {
		return invalid("location latitude must be within ±90 and longitude within ±180")
	}
	o.Location = &locationObj{
		Latitude:  strconv.FormatFloat(l.Latitude, 'f', -1, 64),
		Longitude: strconv.FormatFloat(l.Longitude, 'f', -1, 64),
		Name:      l.Name,
		Address:   l.Address,
	}
	return nil
}

// finiteIn reports whether f is a number within [-limit, limit].
func finiteIn(f, limit float64) bool {
	return !math.IsNaN(f) && f >= -limit && f <= limit
}

// buildContacts passes Content.Contacts through after checking it is a
// non-empty array of cards, each with name.formatted_name (the one member
// Meta requires).
func buildContacts(o *outgoing, c *bridge.Content) error {
	raw := bytes.TrimSpace(c.Contacts)
	var cards []map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &cards) != nil || len(cards) == 0 {
		return invalid("contacts must be a non-empty JSON array of contact cards")
	}
	for i, card := range cards {
		var name struct {
			FormattedName string `json:"formatted_name"`
		}
		if card == nil || json.Unmarshal(card["name"], &name) != nil || name.FormattedName == "" {
			return invalid(fmt.Sprintf("contact %d needs name.formatted_name", i))
		}
	}
	o.Contacts = json.RawMessage(raw)
	return nil
}

// buildInteractive passes Content.Interactive through after checking it is
// a JSON object with a "type" (button, list, cta_url, flow, …).
func buildInteractive(o *outgoing, c *bridge.Content) error {
	raw := bytes.TrimSpace(c.Interactive)
	var obj struct {
		Type string `json:"type"`
	}
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &obj) != nil || obj.Type == "" {
		return invalid(`interactive must be a JSON object with a "type"`)
	}
	o.Interactive = json.RawMessage(raw)
	return nil
}

func buildReaction(o *outgoing, c *bridge.Content) error {
	r := c.Reaction
	if r == nil || r.MessageID == "" {
		return invalid("reaction needs the message id it reacts to")
	}
	o.Reaction = &reactionObj{MessageID: r.MessageID, Emoji: r.Emoji}
	return nil
}
