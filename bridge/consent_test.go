package bridge

import "testing"

func TestConsentKeywords(t *testing.T) {
	c := &Compliance{OptOutKeywords: []string{"STOP", "Stop all", "ARRÊT"}, OptInKeywords: []string{"start"}}
	for text, want := range map[string]string{
		"STOP": "out", "stop": "out", " Stop! ": "out", "stop all": "out", "STOP  ALL.": "out", "arrêt": "out",
		"START": "in", "Start.": "in",
		"please stop": "", "stopp": "", "": "", "🙂": "", "STOP sending me this": "",
	} {
		out, ok, _ := c.consentChange(text)
		got := ""
		if ok && out {
			got = "out"
		} else if ok {
			got = "in"
		}
		if got != want {
			t.Errorf("%q: %q, want %q", text, got, want)
		}
	}
}
