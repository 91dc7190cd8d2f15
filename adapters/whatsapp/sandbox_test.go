package whatsapp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wabridge/wabridge/bridge"
	"github.com/wabridge/wabridge/internal/sandbox"
)

// TestAgainstSandbox runs the client and the webhook side against the
// repository's Cloud API simulator over real HTTP: an inbound message, a
// reply whose statuses come back with biz_opaque_callback_data, a template
// send, mark-as-read and the template listing.
func TestAgainstSandbox(t *testing.T) {
	const (
		secret = "sandbox-app-secret"
		token  = "sandbox-token"
		waba   = "100000000000001"
		phone  = "+4915112345678"
	)
	numbers := []Number{{PhoneNumberID: "200000000000001", BusinessNumber: "+15550100001"}}

	events := make(chan bridge.Event, 64)
	parser := NewParser(numbers)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !VerifySignature(secret, body, r.Header.Get("X-Hub-Signature-256")) {
			t.Errorf("webhook with a bad signature: %s", body)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		evs, err := parser.Parse(body)
		if err != nil {
			t.Errorf("Parse: %v: %s", err, body)
		}
		checkEventInvariants(t, evs)
		for _, e := range evs {
			events <- e
		}
	}))
	defer hook.Close()

	sb, err := sandbox.New(sandbox.Config{
		WebhookURL:  hook.URL,
		AppSecret:   secret,
		AccessToken: token,
		WABAID:      waba,
		Numbers:     []sandbox.Number{{PhoneNumberID: numbers[0].PhoneNumberID, BusinessNumber: numbers[0].BusinessNumber}},
		StatusDelay: 10 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	defer sb.Close(context.Background())

	c, err := NewClient(Config{GraphURL: sb.URL(), WABAID: waba, AccessToken: token, Numbers: numbers, Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	next := func(what string) bridge.Event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
		return bridge.Event{}
	}

	// The customer writes first: the window opens.
	resp, err := http.Post(sb.URL()+"/sandbox/v1/inbound", "application/json",
		bytes.NewReader([]byte(`{"from":"`+phone+`","to":"+15550100001","name":"Jo","text":"hi there"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	in := next("inbound").Inbound
	if in == nil || in.Kind != bridge.KindText || in.Content.Text != "hi there" || in.Customer.Phone != phone ||
		in.Business != "+15550100001" || in.ProfileName != "Jo" || in.WAMID == "" {
		t.Fatalf("inbound = %+v", in)
	}
	if err := c.MarkRead(ctx, "+15550100001", in.WAMID); err != nil {
		t.Fatalf("MarkRead: %v", err)
	}

	// A reply: sent, delivered, read come back with our message id.
	reply := &bridge.Message{ID: "msg-42", Business: "+15550100001", Customer: bridge.Customer{Phone: phone},
		Kind: bridge.KindText, Content: bridge.Content{Text: "hello back", Context: &bridge.Context{WAMID: in.WAMID}}}
	wamid, err := c.Send(ctx, reply)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	seen := map[bridge.Status]bool{}
	for len(seen) < 3 {
		st := next("status").Status
		if st == nil || st.WAMID != wamid || st.CallbackData != "msg-42" || st.Recipient.Phone != phone {
			t.Fatalf("status = %+v", st)
		}
		seen[st.Status] = true
	}
	if !seen[bridge.StatusSent] || !seen[bridge.StatusDelivered] || !seen[bridge.StatusRead] {
		t.Errorf("statuses = %v", seen)
	}

	// Templates: list them, then send a positional and a named one.
	tpls, err := c.ListTemplates(ctx)
	if err != nil || len(tpls) == 0 {
		t.Fatalf("ListTemplates = %d, %v", len(tpls), err)
	}
	for _, tpl := range []*bridge.Template{
		{Name: "order_update", Language: "en_US", Params: []string{"A-1", "Monday"}},
		{Name: "welcome_named", Language: "en_US", NamedParams: map[string]string{"first_name": "Jo", "shop": "Lucky Shrub"}},
	} {
		m := &bridge.Message{ID: "msg-t", Business: "+15550100001", Customer: bridge.Customer{Phone: phone},
			Kind: bridge.KindTemplate, Content: bridge.Content{Template: tpl}}
		if _, err := c.Send(ctx, m); err != nil {
			t.Errorf("Send template %s: %v", tpl.Name, err)
		}
	}
	// A parameter count mismatch is classified as a template error.
	bad := &bridge.Message{ID: "msg-bad", Business: "+15550100001", Customer: bridge.Customer{Phone: phone},
		Kind: bridge.KindTemplate, Content: bridge.Content{Template: &bridge.Template{Name: "order_update", Language: "en_US", Params: []string{"only one"}}}}
	_, err = c.Send(ctx, bad)
	if se := bridge.AsSendError(err); err == nil || se.Action != bridge.ActionTemplateInvalid {
		t.Errorf("mismatched template: %v", err)
	}
}
