package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// redacted is what every rendering of a non-empty Secret prints.
const redacted = "<secret>"

// Secret is a configuration value that must never be printed: String, GoString,
// MarshalText and every fmt verb render it as "<secret>" (an empty Secret
// renders as "", so a dump still shows whether it is set). Use Value to get the
// real value at the one place that needs it.
type Secret string

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

func (s Secret) redact() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.redact() }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return strconv.Quote(s.redact()) }

// Format implements fmt.Formatter so that no verb (%s, %v, %q, %x, %d …) can
// print the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprint(f, strconv.Quote(s.redact()))
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.redact())
	default:
		fmt.Fprint(f, s.redact())
	}
}

// MarshalText implements encoding.TextMarshaler (JSON, TOML, YAML encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redact()), nil }

// Duration is a time.Duration written in TOML as a Go duration string:
// "100ms", "30s", "5m", "24h", "720h". The integer 0 is accepted as well.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String prints the duration the way it is written in the config ("24h", not "24h0m0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use a number with a unit: \"100ms\", \"30s\", \"5m\", \"24h\")", s)
	}
	return Duration(v), nil
}

// Size is a number of bytes, written in TOML as an integer (bytes) or as a
// string with a unit: "512KiB", "4MiB", "100MB", "1GiB" (KB/MB/GB are powers
// of 1000, KiB/MiB/GiB powers of 1024; units are case-insensitive).
type Size int64

// Bytes returns the size in bytes.
func (s Size) Bytes() int64 { return int64(s) }

var sizeUnits = []struct {
	name string
	mult int64
}{
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
}

// String prints the size with the largest unit that divides it exactly ("4MiB", "100MB", "1000").
func (s Size) String() string {
	if s == 0 {
		return "0"
	}
	for _, u := range sizeUnits {
		if u.mult > 1 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := parseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func parseSize(in string) (Size, error) {
	bad := fmt.Errorf("invalid size %q (use bytes or a number with a unit: \"512KiB\", \"4MiB\", \"100MB\")", in)
	s := strings.TrimSpace(in)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, bad
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, bad
	}
	unit := strings.TrimSpace(s[i:])
	mult := int64(1)
	if unit != "" {
		found := false
		for _, u := range sizeUnits {
			if strings.EqualFold(unit, u.name) {
				mult, found = u.mult, true
				break
			}
		}
		if !found {
			return 0, bad
		}
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("size %q is too large", in)
	}
	return Size(n * mult), nil
}
