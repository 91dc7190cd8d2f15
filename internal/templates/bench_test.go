package templates

import (
	"errors"
	"fmt"
	"testing"
)

// benchCatalogue returns 250 realistic template names, each in en_US and
// de_DE (500 templates): 25 kinds of message in 10 brand variants.
func benchCatalogue(tb testing.TB) []*Template {
	kinds := [][2]string{
		{"Your order {{1}} from %s has shipped and arrives on {{2}}.", "Ihre Bestellung {{1}} von %s wurde versandt und kommt am {{2}} an."},
		{"%s: your appointment is on {{1}} at {{2}}. Reply C to cancel.", "%s: Ihr Termin ist am {{1}} um {{2}}. Antworten Sie C zum Absagen."},
		{"{{1}} is your %s verification code. For your security, do not share this code.", "{{1}} ist Ihr %s-Bestätigungscode. Geben Sie diesen Code nicht weiter."},
		{"%s delivery: your parcel arrives today between {{1}} and {{2}}.", "%s Zustellung: Ihr Paket kommt heute zwischen {{1}} und {{2}}."},
		{"Your %s invoice {{1}} over $ {{2}} is due on {{3}}.", "Ihre %s-Rechnung {{1}} über {{2}} € ist am {{3}} fällig."},
		{"Hi {{1}}, thanks for shopping at %s! Rate your purchase: {{2}}", "Hallo {{1}}, danke für Ihren Einkauf bei %s! Bewerten Sie: {{2}}"},
		{"%s: your table for {{1}} is booked for {{2}}.", "%s: Ihr Tisch für {{1}} ist für {{2}} reserviert."},
		{"Your %s password was changed on {{1}}. Not you? Call us.", "Ihr %s-Passwort wurde am {{1}} geändert. Nicht Sie? Rufen Sie an."},
		{"%s alert: card ending {{1}} was charged {{2}} at {{3}}.", "%s-Hinweis: Karte mit Endung {{1}} wurde mit {{2}} bei {{3}} belastet."},
		{"Your %s subscription renews on {{1}} for {{2}}.", "Ihr %s-Abo verlängert sich am {{1}} für {{2}}."},
		{"%s: we received your return {{1}}. Refund within {{2}} days.", "%s: Ihre Rücksendung {{1}} ist da. Erstattung in {{2}} Tagen."},
		{"Hello {{1}}! Your %s points balance is {{2}} 🎉", "Hallo {{1}}! Ihr %s-Punktestand ist {{2}} 🎉"},
		{"%s: flight {{1}} to {{2}} departs at {{3}} from gate {{4}}.", "%s: Flug {{1}} nach {{2}} startet um {{3}} von Gate {{4}}."},
		{"%s: your prescription {{1}} is ready for pickup.", "%s: Ihr Rezept {{1}} liegt zur Abholung bereit."},
		{"Your %s ticket {{1}} has been updated: {{2}}", "Ihr %s-Ticket {{1}} wurde aktualisiert: {{2}}"},
		{"%s: payment of {{1}} received. Thank you!", "%s: Zahlung über {{1}} erhalten. Vielen Dank!"},
		{"%s reminder: {{1}} is due tomorrow.", "%s-Erinnerung: {{1}} ist morgen fällig."},
		{"Welcome to %s, {{1}}! Your member ID is {{2}}.", "Willkommen bei %s, {{1}}! Ihre Mitgliedsnummer ist {{2}}."},
		{"%s: your car {{1}} is ready. Total: {{2}}.", "%s: Ihr Auto {{1}} ist fertig. Gesamt: {{2}}."},
		{"%s: the class {{1}} on {{2}} is cancelled (instructor ill).", "%s: Der Kurs {{1}} am {{2}} fällt aus (Trainer krank)."},
		{"Your %s data usage reached {{1}}% of {{2}}.", "Ihr %s-Datenverbrauch hat {{1}}% von {{2}} erreicht."},
		{"%s: your meter reading of {{1}} kWh was received.", "%s: Ihr Zählerstand von {{1}} kWh ist eingegangen."},
		{"Thanks for contacting %s. Your case number is {{1}}.", "Danke für Ihre Anfrage bei %s. Ihre Fallnummer ist {{1}}."},
		{"%s: we are closed on public holidays. See you soon!", "%s: An Feiertagen haben wir geschlossen. Bis bald!"},
		{"%s: Dear {{1}}, your contract {{2}} ends on {{3}}. Call us on {{4}}.", "%s: Liebe/r {{1}}, Ihr Vertrag {{2}} endet am {{3}}. Rufen Sie {{4}} an."},
	}
	brands := []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne"}
	var defs []tdef
	for k, kind := range kinds {
		for _, brand := range brands {
			name := fmt.Sprintf("kind%02d_%s", k, brand)
			defs = append(defs,
				tdef{name: name, lang: "en_US", body: fmt.Sprintf(kind[0], brand)},
				tdef{name: name, lang: "de_DE", body: fmt.Sprintf(kind[1], brand)})
		}
	}
	return build(tb, defs...)
}

func BenchmarkMatch(b *testing.B) {
	ts := benchCatalogue(b)
	m := NewMatcher(ts)
	if m.Len() != 500 {
		b.Fatalf("Len = %d", m.Len())
	}
	texts := []struct {
		name, text string
		want       error
	}{
		{"hit_en", "Cyberdyne: Dear Sarah Connor, your contract T-800 ends on 29.08.1997. Call us on +1 555 0199.", nil},
		{"hit_de", "Ihre Bestellung 12345 von Tyrell wurde versandt und kommt am Montag, 3. März an.", nil},
		{"otp", "483920 is your Wonka verification code. For your security, do not share this code.", nil},
		{"ambiguous", "Wayne delivery: your parcel arrives today between 10 and 11 and 12.", ErrAmbiguous},
		{"no_match", "Hi, this is a plain message that no template was written for. Call me back!", ErrNoMatch},
	}
	for _, tc := range texts {
		if _, err := m.Match(tc.text, []string{"en_US"}); !errors.Is(err, tc.want) && (err != nil || tc.want != nil) {
			b.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = m.Match(tc.text, []string{"en_US"})
			}
		})
	}
}

func BenchmarkNewMatcher(b *testing.B) {
	ts := benchCatalogue(b)
	b.ReportAllocs()
	for b.Loop() {
		NewMatcher(ts)
	}
}
