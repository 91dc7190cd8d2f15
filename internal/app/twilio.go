package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/wabridge/wabridge/adapters/twilio"
	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/config"
	"github.com/wabridge/wabridge/internal/httpd"
	"github.com/wabridge/wabridge/internal/twiliosim"
)

// mediaLinkTTL is how long a /media/ link handed to Twilio stays valid.
// Twilio fetches media when it sends; a retried send reuses the link.
const mediaLinkTTL = 24 * time.Hour

// twilioWebhookURL is where Twilio posts to this daemon: public_url, or
// the HTTP listener's own address (the sandbox's simulator is local).
func (a *App) twilioWebhookURL() string {
	return a.publicBase() + "/webhooks/twilio"
}

// publicBase is http.public_url, or scheme://<listener address>.
func (a *App) publicBase() string {
	if u := a.cfg.HTTP.PublicURL; u != "" {
		return strings.TrimRight(u, "/")
	}
	scheme := "http"
	if a.cfg.HTTP.CertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + a.httpLn.Addr().String()
}

// mediaKey signs /media/ links; derived from the auth token so links stay
// valid across restarts and nobody without the token can make one.
func mediaKey(cfg *config.Config) []byte {
	if !cfg.UsesTwilio() || cfg.Twilio.AuthToken == "" {
		return nil
	}
	mac := hmac.New(sha256.New, []byte(cfg.Twilio.AuthToken.Value()))
	mac.Write([]byte("wabridge media links v1"))
	return mac.Sum(nil)
}

// mediaURL is a link Twilio fetches a stored file from (twilio.Config.MediaURL).
func (a *App) mediaURL(_ context.Context, f *bridge.File) (string, error) {
	key := a.mediaKey
	if key == nil || f == nil || f.ID == "" {
		return "", errors.New("no media link can be made")
	}
	return httpd.MediaURL(key, a.publicBase(), f.ID, time.Now().Add(mediaLinkTTL)), nil
}

// twilioClient builds the Twilio REST client for the provider and SMS routes.
func (a *App) twilioClient(apiURL, contentURL string) (*twilio.Client, error) {
	t := a.cfg.Twilio
	numbers := []string{}
	if a.cfg.WhatsApp.Provider == "twilio" {
		numbers = a.cfg.BusinessNumbers()
	}
	token := t.AuthToken.Value()
	if t.APIKeySID != "" {
		token = "" // the API key authenticates REST calls; the token only checks webhooks
	}
	return twilio.NewClient(twilio.Config{
		APIURL: apiURL, ContentURL: contentURL,
		AccountSID: t.AccountSID, AuthToken: token,
		APIKeySID: t.APIKeySID, APIKeySecret: t.APIKeySecret.Value(),
		SubaccountSID: t.SubaccountSID, MessagingServiceSID: t.MessagingServiceSID,
		Numbers: numbers, StatusCallback: a.twilioWebhookURL(), MediaHosts: t.MediaHosts,
		MediaURL: a.mediaURL, Timeout: t.Timeout.D(), Conns: upstreamConns(a.cfg),
		Observe: func(op string, d time.Duration, code int, err error) {
			a.metrics.ObserveUpstream("twilio", op, d, code, err)
		},
	}, a.log.With("component", "twilio"))
}

// upstreamConns is how many keep-alive connections a provider client
// keeps to its API host: one per outbox sender, the SMS senders and the
// media transfers, so that no concurrent call has to dial.
func upstreamConns(cfg *config.Config) int {
	return cfg.Outbox.Workers + 8
}

// twilioSMSRoute builds a [[sms.routes]] entry of type twilio.
func (a *App) twilioSMSRoute(r config.SMSRoute) (bridge.SMSRoute, error) {
	return a.twilio.SMSRoute(twilio.SMSRouteConfig{
		Name: r.Name, From: r.From, MessagingServiceSID: r.MessagingServiceSID,
		StatusCallback:     a.twilioWebhookURL() + "?route=" + r.Name,
		AlphanumericSource: r.AlphanumericSource,
	})
}

// twilioSMSRouteFor names the Twilio route an inbound SMS to number came
// in on: the route sending from that number, else the first Twilio route.
func twilioSMSRouteFor(cfg *config.Config) func(to string) string {
	return func(to string) string {
		first := ""
		for _, r := range cfg.SMS.Routes {
			if r.Type != "twilio" {
				continue
			}
			if r.From == to {
				return r.Name
			}
			if first == "" {
				first = r.Name
			}
		}
		return first
	}
}

// twilioTokens are the tokens that may sign Twilio's webhooks.
func twilioTokens(cfg *config.Config) []string {
	if !cfg.UsesTwilio() {
		return nil
	}
	var out []string
	for _, t := range []config.Secret{cfg.Twilio.AuthToken, cfg.Twilio.SubaccountAuthToken} {
		if t != "" {
			out = append(out, t.Value())
		}
	}
	return out
}

// TwilioSimConfig maps the daemon's configuration to the Twilio
// simulator's: the same account, senders and secrets, so each side
// accepts the other.
func TwilioSimConfig(cfg *config.Config, webhookURL string) twiliosim.Config {
	t := cfg.Twilio
	sc := twiliosim.Config{
		Listen: cfg.Sandbox.TwilioListen, AccountSID: t.AccountSID, AuthToken: t.AuthToken.Value(),
		WebhookURL: webhookURL, NotOnWhatsApp: cfg.Sandbox.NotOnWhatsApp, StatusDelay: cfg.Sandbox.StatusDelay.D(),
		NoAutoRead: !cfg.Sandbox.AutoRead, ContentReviewDelay: cfg.Sandbox.TemplateReviewDelay.D(),
		CallbackRetryInitial: cfg.Sandbox.WebhookRetryInitial.D(), CallbackRetryMax: cfg.Sandbox.WebhookRetryMax.D(),
		MessagingServices: map[string][]string{},
	}
	if t.APIKeySID != "" {
		sc.APIKeys = map[string]string{t.APIKeySID: t.APIKeySecret.Value()}
	}
	if t.SubaccountSID != "" {
		sc.SubaccountSIDs = []string{t.SubaccountSID}
	}
	numbers := cfg.BusinessNumbers()
	if cfg.WhatsApp.Provider == "twilio" {
		sc.WhatsAppSenders = numbers
		if t.MessagingServiceSID != "" {
			sc.MessagingServices[t.MessagingServiceSID] = numbers
		}
	}
	sc.SMSSenders = append([]string(nil), numbers...)
	for _, r := range cfg.SMS.Routes {
		if r.Type != "twilio" {
			continue
		}
		if r.From != "" {
			sc.SMSSenders = append(sc.SMSSenders, r.From)
		}
		if r.MessagingServiceSID != "" {
			sc.MessagingServices[r.MessagingServiceSID] = numbers
		}
	}
	for _, tp := range cfg.Sandbox.Templates {
		sc.Contents = append(sc.Contents, twiliosim.Content{
			Name: tp.Name, Language: tp.Language, Category: tp.Category,
			Status: strings.ToLower(tp.Status), Body: tp.Body,
		})
	}
	return sc
}
