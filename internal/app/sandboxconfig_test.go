package app

import (
	"testing"

	"github.com/wabridge/wabridge/internal/config"
)

// The simulator gets the load knobs of [sandbox] as configured.
func TestSandboxConfigLoadKnobs(t *testing.T) {
	cfg := config.Default()
	cfg.Sandbox.WebhookWorkers = 48
	cfg.Sandbox.StatusBatch = 5
	cfg.Sandbox.Statuses = "delivered"
	cfg.Sandbox.ErrorPercent = 25
	sc := SandboxConfig(cfg)
	if sc.WebhookWorkers != 48 || sc.StatusBatch != 5 || sc.Statuses != "delivered" || sc.ErrorRate != 0.25 {
		t.Errorf("SandboxConfig: webhook workers %d, status batch %d, statuses %q, error rate %v",
			sc.WebhookWorkers, sc.StatusBatch, sc.Statuses, sc.ErrorRate)
	}
	if d := SandboxConfig(config.Default()); d.WebhookWorkers != 16 {
		t.Errorf("default webhook workers %d, want 16", d.WebhookWorkers)
	}
}
