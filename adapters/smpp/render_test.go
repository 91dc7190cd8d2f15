package smpp

import (
	"encoding/json"
	"testing"

	"github.com/wabridge/wabridge/bridge"
)

func TestRenderText(t *testing.T) {
	tests := []struct {
		m    bridge.Message
		want string
	}{
		{bridge.Message{Kind: bridge.KindText, Content: bridge.Content{Text: "hi"}}, "hi"},
		{bridge.Message{Kind: bridge.KindImage, Content: bridge.Content{Media: &bridge.Media{Caption: "the damage"}}}, "[image] the damage"},
		{bridge.Message{Kind: bridge.KindDocument, Content: bridge.Content{Media: &bridge.Media{Filename: "a.pdf"}}}, "[document: a.pdf]"},
		{bridge.Message{Kind: bridge.KindAudio, Content: bridge.Content{Media: &bridge.Media{Voice: true}}}, "[voice message]"},
		{bridge.Message{Kind: bridge.KindLocation, Content: bridge.Content{Location: &bridge.Location{Latitude: 1.5, Longitude: -2.25, Name: "Dock 4"}}},
			"[location] Dock 4 https://maps.google.com/?q=1.500000,-2.250000"},
		{bridge.Message{Kind: bridge.KindContacts, Content: bridge.Content{Contacts: json.RawMessage(
			`[{"name":{"formatted_name":"Anna Muster"},"phones":[{"phone":"+49 151 1234 5678"}]}]`)}}, "[contact] Anna Muster +49 151 1234 5678"},
		{bridge.Message{Kind: bridge.KindButton, Content: bridge.Content{Button: &bridge.ButtonReply{Text: "Stop promotions"}}}, "Stop promotions"},
		{bridge.Message{Kind: bridge.KindInteractive, Content: bridge.Content{Reply: &bridge.InteractiveReply{Title: "09:00", Description: "Morning"}}}, "09:00 (Morning)"},
		{bridge.Message{Kind: bridge.KindReaction, Content: bridge.Content{Reaction: &bridge.Reaction{Emoji: "👍"}}}, "[reacted 👍]"},
		{bridge.Message{Kind: bridge.KindReaction, Content: bridge.Content{Reaction: &bridge.Reaction{}}}, "[removed a reaction]"},
		{bridge.Message{Kind: bridge.KindUnknown}, "[unknown message]"},
	}
	for _, tt := range tests {
		if got := renderText(&tt.m); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.m.Kind, got, tt.want)
		}
	}
}
