package mailconv

import "testing"

func TestStripReply(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"nothing to strip", "Hello\n\nBye", "Hello\n\nBye"},
		{"trailing whitespace", "  \nHello  \n\t\n\n", "Hello"},
		{"signature", "Thanks\n-- \nJane\nPhone 123", "Thanks"},
		{"signature without space", "Thanks\n--\nJane", "Thanks"},
		{"dashes in text stay", "a -- b\n---\nc", "a -- b\n---\nc"},
		{"gmail one line", "OK\n\nOn Fri, Mar 14, 2025 at 9:26 AM Anna <a@b.c> wrote:\n> q\n> q2", "OK"},
		{"gmail wrapped", "OK\n\nOn Fri, Mar 14, 2025 at 9:26 AM Anna Example <\nanna@example.com> wrote:\n\n> q", "OK"},
		{"apple", "OK\n\n> On 14. Mar 2025, at 09:26, Anna <a@b.c> wrote:\n> \n> q", "OK"},
		{"german", "Ja\n\nAm Fr., 14. März 2025 um 09:26 Uhr schrieb Anna <a@b.c>:\n> q", "Ja"},
		{"german thunderbird", "Ja\n\nAnna schrieb am 14.03.25 um 09:26:\n> q", "Ja"},
		{"french", "Oui\n\nLe 14 mars 2025 à 09:26, Anna a écrit :\n> q", "Oui"},
		{"spanish", "Sí\n\nEl vie, 14 mar 2025 a las 9:26, Anna escribió:\n> q", "Sí"},
		{"italian", "Sì\n\nIl giorno ven 14 mar 2025 alle ore 09:26 Anna ha scritto:\n> q", "Sì"},
		{"quote without attribution", "Sure\n\n> q1\n> q2\n", "Sure"},
		{"own line starting with On kept", "On second thought, no.\nOn Fri, Anna wrote:\n> q", "On second thought, no."},
		{"interleaved kept", "On Fri, Anna wrote:\n> q1\na1\n> q2\na2", "On Fri, Anna wrote:\n> q1\na1\n> q2\na2"},
		{"interleaved with trailing quote", "> q1\na1\n> q2\n> rest", "> q1\na1"},
		{"outlook original message", "Yes\n\n-----Original Message-----\nFrom: A\nSent: B\nTo: C\nSubject: D\n\nq", "Yes"},
		{"outlook german", "Ja\n\n-----Ursprüngliche Nachricht-----\nVon: A\nGesendet: B\nAn: C\nBetreff: D\n\nq", "Ja"},
		{"outlook header block", "Yes\n\n________________________________\nFrom: Anna <a@b.c>\nSent: Friday\nTo: Support\nSubject: Order\n\nq", "Yes"},
		{"outlook bold header block", "Yes\n\n*From:* Anna <a@b.c>\n*Sent:* Friday\n*To:* Support\n\nq", "Yes"},
		{"german header block", "Ja\n\nVon: Anna <a@b.c>\nGesendet: Freitag, 14. März 2025 09:26\nAn: Support\nBetreff: Bestellung\n\nq", "Ja"},
		{"lone From line kept", "From: the warehouse\nTo: you", "From: the warehouse\nTo: you"},
		{"outlook forward kept", "FYI\n\nFrom: Bob\nSent: Friday\nTo: Support\nSubject: FW: Delivery\n\nbody", "FYI\n\nFrom: Bob\nSent: Friday\nTo: Support\nSubject: FW: Delivery\n\nbody"},
		{"apple forward kept", "FYI\n\nBegin forwarded message:\n\nFrom: Bob\nDate: Friday\nTo: Support\n\nbody", "FYI\n\nBegin forwarded message:\n\nFrom: Bob\nDate: Friday\nTo: Support\n\nbody"},
		{"crlf", "Yes\r\n\r\nOn Fri, Anna wrote:\r\n> q\r\n", "Yes"},
		{"only quote", "On Fri, Anna wrote:\n> q", ""},
		{"signature before quote", "Thanks\n-- \nJane\n\nOn Fri, Anna wrote:\n> q", "Thanks"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := StripReply(c.in); got != c.want {
				t.Errorf("StripReply(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}
