package config

import (
	"bytes"
	"fmt"

	"github.com/BurntSushi/toml"
)

// String renders the effective configuration as TOML with every secret shown
// as "<secret>" (for `wabridge check-config -v`).
func (c *Config) String() string {
	var b bytes.Buffer
	if !c.WhatsApp.GraphURLSet && c.Sandbox.Enabled {
		b.WriteString("# whatsapp.graph_url is not set: the daemon uses the sandbox\n")
	}
	if c.UsesTwilio() && c.Sandbox.Enabled && !c.Twilio.APIURLSet {
		b.WriteString("# twilio.api_url and content_url are not set: the daemon uses the Twilio simulator\n")
	}
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return fmt.Sprintf("config: cannot render: %v", err)
	}
	return b.String()
}
