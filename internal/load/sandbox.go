package load

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// SandboxSends is the embedded WhatsApp sandbox's count of sends it
// accepted (GET base/sandbox/v1/stats, key "sends"), base being the
// sandbox's URL.
func SandboxSends(client *http.Client, base string) (int64, error) {
	resp, err := client.Get(base + "/sandbox/v1/stats")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("sandbox stats: %s", resp.Status)
	}
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, fmt.Errorf("sandbox stats: %w", err)
	}
	v, ok := st["sends"].(float64)
	if !ok {
		return 0, fmt.Errorf("sandbox stats: no sends counter")
	}
	return int64(v), nil
}

// AwaitSandboxSends polls the sandbox until it has counted want sends, or
// max has passed; it returns how long that took and whether it happened.
// A front door that acknowledges before it sends (SMTP, REST) reports with
// it how long its queue took to drain.
func AwaitSandboxSends(client *http.Client, base string, want int64, max time.Duration) (time.Duration, bool) {
	start := time.Now()
	for {
		if n, err := SandboxSends(client, base); err == nil && n >= want {
			return time.Since(start), true
		}
		if time.Since(start) > max {
			return time.Since(start), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
