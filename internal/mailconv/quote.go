package mailconv

import (
	"regexp"
	"strings"
)

// StripReply removes from the text of a mail what repeats earlier mail,
// so a reply sent from a mail program reaches WhatsApp as the reply alone:
//
//   - everything from a signature separator line ("-- ", or "--" as HTML
//     conversion leaves it) on;
//   - everything from an Outlook-style original-message marker
//     ("-----Original Message-----", "-----Ursprüngliche Nachricht-----", …)
//     or header block (a From: line followed within five lines by Sent:/Date:
//     and To:/Subject:, in several languages) on, together with separator
//     lines just before it — but not a forwarded message's header block;
//   - the trailing block of ">"-quoted lines, and the attribution line
//     introducing it ("On <date>, <name> wrote:", "Am … schrieb …:",
//     "Le … a écrit :", "El … escribió:" and other languages; up to three
//     lines, as mail programs wrap it). Quoted lines followed by the
//     writer's own text (interleaved replies) are kept.
//
// Line ends become "\n", trailing whitespace of every line is removed, and
// so are leading and trailing blank lines.
func StripReply(text string) string {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	cut := len(lines)
	for i, l := range lines {
		if isSignatureSeparator(l) || originalMarker.MatchString(l) || isHeaderBlock(lines, i) {
			cut = i
			break
		}
	}
	if cut < len(lines) {
		lines = lines[:cut]
		for len(lines) > 0 && (isBlank(lines[len(lines)-1]) || separatorLine.MatchString(lines[len(lines)-1])) {
			lines = lines[:len(lines)-1]
		}
	}
	lines = stripTrailingQuote(lines)

	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	return strings.Join(lines, "\n")
}

var (
	separatorLine  = regexp.MustCompile(`^\s*[_\-=*~]{3,}\s*$`)
	originalMarker = regexp.MustCompile(`(?i)^\s*-{2,}\s*(original message|ursprüngliche nachricht|originalnachricht|message d'origine|mensaje original|messaggio originale|mensagem original|oorspronkelijk bericht|originalmeddelande|opprinnelig melding|original meddelelse|alkuperäinen viesti|oryginalna wiadomość)\s*-{2,}\s*$`)
	headerFrom     = regexp.MustCompile(`(?i)^\s*\*?(from|von|de|da|van|från|fra|od|lähettäjä|expéditeur|remitente)\s?:\*?\s*\S`)
	headerDate     = regexp.MustCompile(`(?i)^\s*\*?(sent|date|gesendet|datum|envoyé|enviado|enviada|inviato|data|verzonden|skickat|sendt|wysłano|fecha|lähetetty)\s?:`)
	headerTo       = regexp.MustCompile(`(?i)^\s*\*?(to|an|à|a|para|aan|till|til|do|vastaanottaja|subject|betreff|objet|asunto|oggetto|onderwerp|ämne|emne|temat|assunto|aihe)\s?:`)
	headerSubject  = regexp.MustCompile(`(?i)^\s*\*?(subject|betreff|objet|asunto|oggetto|onderwerp|ämne|emne|temat|assunto|aihe)\s?:\*?\s*(fwd?|wg|tr|rv|i|vs|vb|doorst)\s*:`)
	forwardMarker  = regexp.MustCompile(`(?i)^\s*(-+\s*(forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|messaggio inoltrato|mensagem encaminhada|doorgestuurd bericht)\s*-*|(begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|inicio del mensaje reenviado)\s*:)\s*$`)
	attribution    = []*regexp.Regexp{
		regexp.MustCompile(`(?i)^on\b.{1,300}\bwrote\s?:$`),
		regexp.MustCompile(`(?i)^am\b.{1,300}\bschrieb\b.{0,300}:$`),
		regexp.MustCompile(`(?i)^le\b.{1,300}\ba écrit\s?:$`),
		regexp.MustCompile(`(?i)^el\b.{1,300}\bescribió\s?:$`),
		regexp.MustCompile(`(?i)^il\b.{1,300}\bha scritto\s?:$`),
		regexp.MustCompile(`(?i)^(em|no dia)\b.{1,300}\bescreveu\s?:$`),
		regexp.MustCompile(`(?i)^op\b.{1,300}\bschreef\b.{0,300}:$`),
		regexp.MustCompile(`(?i)^den\b.{1,300}\bskrev\b.{0,300}:$`),
	}
	// "Anna <anna@example.com> wrote:", "Anna schrieb am 2. Januar:".
	genericAttribution = regexp.MustCompile(`(?i)^.{1,300}\b(wrote|schrieb|a écrit|escribió|ha scritto|escreveu|schreef|skrev|kirjoitti|napisał)\b.{0,120}:$`)
)

func isBlank(l string) bool { return strings.TrimSpace(l) == "" }

func isQuoted(l string) bool { return strings.HasPrefix(strings.TrimLeft(l, " \t"), ">") }

func isSignatureSeparator(l string) bool {
	return strings.TrimRight(l, " \t\r") == "--"
}

// isHeaderBlock reports whether lines[i] starts the header block of a
// quoted original message (Outlook and similar), not of a forward.
func isHeaderBlock(lines []string, i int) bool {
	if !headerFrom.MatchString(lines[i]) {
		return false
	}
	date, to := false, false
	for j := i + 1; j < len(lines) && j <= i+5; j++ {
		switch {
		case headerSubject.MatchString(lines[j]):
			return false // the original of a forward
		case headerDate.MatchString(lines[j]):
			date = true
		case headerTo.MatchString(lines[j]):
			to = true
		}
	}
	if !date || !to {
		return false
	}
	for j := i - 1; j >= 0; j-- {
		if isBlank(lines[j]) || separatorLine.MatchString(lines[j]) {
			continue
		}
		return !forwardMarker.MatchString(lines[j])
	}
	return true
}

// stripTrailingQuote removes the trailing run of quoted (and blank) lines
// and the attribution line(s) right before it.
func stripTrailingQuote(lines []string) []string {
	j := len(lines)
	quoted := false
	for j > 0 && (isQuoted(lines[j-1]) || isBlank(lines[j-1])) {
		if isQuoted(lines[j-1]) {
			quoted = true
		}
		j--
	}
	if !quoted {
		return lines
	}
	lines = lines[:j]
	for len(lines) > 0 && isBlank(lines[len(lines)-1]) {
		lines = lines[:len(lines)-1]
	}
	// An attribution of up to three lines ends right before the quote:
	// the longest window a language's pattern matches whole, else one line
	// the generic "… wrote:" pattern matches. Lines a window joins may not
	// end a sentence (they are one wrapped line).
	n := attributionLines(lines)
	lines = lines[:len(lines)-n]
	for len(lines) > 0 && isBlank(lines[len(lines)-1]) {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// attributionLines returns how many of the last lines form an attribution
// line (0 if they do not).
func attributionLines(lines []string) int {
	for n := min(3, len(lines)); n >= 1; n-- {
		window := lines[len(lines)-n:]
		ok := true
		for i, l := range window {
			t := strings.TrimSpace(l)
			if t == "" || isQuoted(l) || (i < n-1 && strings.ContainsAny(t[len(t)-1:], ".!?:")) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		joined := strings.Join(strings.Fields(strings.Join(window, " ")), " ")
		if len(joined) > 600 {
			continue
		}
		for _, re := range attribution {
			if re.MatchString(joined) {
				return n
			}
		}
	}
	if len(lines) > 0 && genericAttribution.MatchString(strings.TrimSpace(lines[len(lines)-1])) {
		return 1
	}
	return 0
}
