package config

import (
	"sort"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File string // the name given to Parse (the path for Load); may be empty
	Key  string // full dotted key, e.g. "whatsapp.numbers[1].business_number"; empty for syntax errors without one
	Line int    // 1-based line in the file; 0 when unknown (e.g. a required key that is absent)
	Msg  string // what is wrong; never contains a secret value
}

// String renders "NAME:LINE: KEY: MSG" (parts that are unknown are left out).
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Errors is every problem found in a configuration, sorted by line (problems
// without a line come last). It is the error returned by Load and Parse.
type Errors []Problem

// Error implements error: one line per problem.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (e Errors) sort() {
	sort.SliceStable(e, func(i, j int) bool {
		li, lj := e[i].Line, e[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}
