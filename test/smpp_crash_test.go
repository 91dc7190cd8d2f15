package test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// tryCall is call without failing the test: the connection may die.
func (e *esme) tryCall(p pdu.PDU) (pdu.PDU, error) {
	ch := make(chan pdu.PDU, 1)
	e.mu.Lock()
	e.resps[p.GetSequenceNumber()] = ch
	e.mu.Unlock()
	if _, err := e.conn.WritePDU(p); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("timeout")
	case <-e.closed:
		return nil, fmt.Errorf("closed")
	}
}

// startSMPPCrashEnv is startCrashEnv with an SMPP listener and the account
// acme/secret1 for the crash business number; it returns the SMPP address.
func startSMPPCrashEnv(t *testing.T) (*crashEnv, string) {
	smppAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	return startCrashEnv(t, fmt.Sprintf(`
[smpp]
listen = %q
bind_fail_delay = "0s"
[[smpp.accounts]]
system_id = "acme"
password = "secret1"
numbers = [%q]
`, smppAddr, crashBusiness)), smppAddr
}

// Kill -9 the daemon during a burst of 2,000 submit_sm from two sessions,
// with the daemon and the sandbox as separate processes. The ESMEs rebind
// after the restart and resubmit what got no answer, as ESMEs do. Every
// message that got a submit_sm_resp reaches the sandbox exactly once and
// gets a final receipt; a receipt in flight at the kill may come twice
// (SMPP has no acknowledgement of our acknowledgement) and is counted.
func TestSMPPCrashDuringBurst(t *testing.T) {
	ce, smppAddr := startSMPPCrashEnv(t)
	base, sandboxURL := ce.base, ce.sandbox
	ce.openWindow(t)

	const perSession = 1000
	var (
		mu       sync.Mutex
		accepted = map[string]bool{}
		sessions []*esme
		acks     atomic.Int64
		restart  = make(chan struct{})
	)
	bind := func() *esme {
		for deadline := time.Now().Add(30 * time.Second); ; {
			e, err := bindESME(t, smppAddr, "acme", "secret1", pdu.Transceiver)
			if err == nil {
				mu.Lock()
				sessions = append(sessions, e)
				mu.Unlock()
				return e
			}
			if time.Now().After(deadline) {
				t.Errorf("rebind: %v", err)
				return nil
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for s := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := bind()
			for i := 0; i < perSession; {
				p := textPart(fmt.Sprintf("session %d message %04d", s, i))
				p.RegisteredDelivery = 1
				r, err := e.tryCall(p)
				if err != nil {
					<-restart // the daemon died: wait for it, rebind, resubmit
					if e = bind(); e == nil {
						return
					}
					continue
				}
				if resp, ok := r.(*pdu.SubmitSMResp); ok && resp.CommandStatus == data.ESME_ROK {
					mu.Lock()
					accepted[resp.MessageID] = true
					mu.Unlock()
					acks.Add(1)
					i++
				} else if ok && resp.CommandStatus == data.ESME_RTHROTTLED {
					time.Sleep(10 * time.Millisecond)
				} else {
					t.Errorf("submit_sm: %+v", r)
					return
				}
			}
		}()
	}
	atKill := ce.killAndResume(t, &acks, 600, restart, &wg)
	if t.Failed() {
		return
	}
	t.Logf("killed after %d acknowledged submit_sm; %d acknowledged in all", atKill, len(accepted))
	if len(accepted) != 2*perSession {
		t.Fatalf("%d of %d submissions acknowledged", len(accepted), 2*perSession)
	}
	waitOutboxEmpty(t, base)

	// Exactly once at "WhatsApp".
	perID := map[string]int{}
	all := sandboxMessages(t, sandboxURL, "")
	for _, m := range all {
		perID[m.CallbackData]++
	}
	for id := range accepted {
		if perID[id] != 1 {
			t.Errorf("message %s reached the sandbox %d times", id, perID[id])
			break
		}
	}
	t.Logf("sandbox holds %d messages for %d acknowledged (extra ones were in flight unanswered at the kill and resubmitted)",
		len(all), len(accepted))
	if extra := len(all) - len(accepted); extra < 0 || extra > 2 {
		t.Errorf("%d sends beyond the acknowledged ones", extra)
	}

	// A final receipt for every acknowledged message.
	finals := func() map[string]int {
		out := map[string]int{}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range sessions {
			for _, d := range e.delivers() {
				if d.EsmClass&0x04 != 0 && strings.Contains(receiptText(d), "stat:DELIVRD") {
					out[strings.TrimRight(string(tlvOf(d, pdu.TagReceiptedMessageID)), "\x00")]++
				}
			}
		}
		return out
	}
	var got map[string]int
	for deadline := time.Now().Add(60 * time.Second); ; {
		got = finals()
		missing := 0
		for id := range accepted {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			shown := 0
			for id := range accepted {
				if got[id] == 0 && shown < 3 {
					shown++
					m := apiMessage{}
					do(t, "GET", base+"/api/v1/messages/"+id, crashToken, nil, &m)
					var texts []string
					mu.Lock()
					for _, e := range sessions {
						for _, d := range e.delivers() {
							if strings.Contains(receiptText(d), id) {
								texts = append(texts, fmt.Sprintf("esm=%#x %s", d.EsmClass, receiptText(d)))
							}
						}
					}
					mu.Unlock()
					t.Logf("missing %s: status %s history %v receipts %q", id, m.Status, statuses(m), texts)
				}
			}
			t.Fatalf("%d acknowledged messages never got a final receipt", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
	twice := 0
	for id := range accepted {
		if got[id] > 1 {
			twice++
		}
	}
	t.Logf("final receipts: %d messages, %d of them received twice (in flight at the kill)", len(accepted), twice)
	if twice > 2 {
		t.Errorf("%d messages got more than one final receipt", twice)
	}
}

// The same kill with pipelined ESMEs: two sessions each keep 25 submit_sm
// in flight (answered in the background while the next are read). What got
// a submit_sm_resp reaches the sandbox exactly once; what was in flight
// unanswered is resubmitted after the restart and may reach it twice at
// most once each (it was committed, its answer lost).
func TestSMPPCrashDuringPipelinedBurst(t *testing.T) {
	ce, smppAddr := startSMPPCrashEnv(t)
	ce.openWindow(t)

	const perSession, window = 1000, 25
	var (
		mu       sync.Mutex
		accepted = map[string]string{} // id → text
		acks     atomic.Int64
		restart  = make(chan struct{})
	)
	bind := func() *esme {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if e, err := bindESME(t, smppAddr, "acme", "secret1", pdu.Transceiver); err == nil {
				return e
			}
		}
		t.Error("could not rebind")
		return nil
	}
	// session submits texts with up to window unanswered, and returns
	// those that got no ROK (the connection died under them).
	session := func(e *esme, texts []string) (unanswered []string) {
		slots := make(chan struct{}, window)
		var wg sync.WaitGroup
		var umu sync.Mutex
		for _, text := range texts {
			slots <- struct{}{}
			p := textPart(text)
			p.RegisteredDelivery = 1
			ch := make(chan pdu.PDU, 1)
			e.mu.Lock()
			e.resps[p.GetSequenceNumber()] = ch
			e.mu.Unlock()
			_, err := e.conn.WritePDU(p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				var r pdu.PDU
				if err == nil {
					select {
					case r = <-ch:
					case <-e.closed:
					case <-time.After(15 * time.Second):
					}
				}
				if resp, ok := r.(*pdu.SubmitSMResp); ok && resp.CommandStatus == data.ESME_ROK {
					mu.Lock()
					accepted[resp.MessageID] = text
					mu.Unlock()
					acks.Add(1)
					return
				}
				umu.Lock()
				unanswered = append(unanswered, text)
				umu.Unlock()
			}()
		}
		wg.Wait()
		return unanswered
	}
	var wg sync.WaitGroup
	for s := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var texts []string
			for i := range perSession {
				texts = append(texts, fmt.Sprintf("pipelined %d message %04d", s, i))
			}
			for e := bind(); e != nil && len(texts) > 0; {
				if texts = session(e, texts); len(texts) > 0 {
					<-restart // the daemon died: wait for it, rebind, resubmit
					e = bind()
				}
			}
		}()
	}
	atKill := ce.killAndResume(t, &acks, 600, restart, &wg)
	if t.Failed() {
		return
	}
	t.Logf("killed after %d acknowledged submit_sm; %d acknowledged in all", atKill, len(accepted))
	if len(accepted) != 2*perSession {
		t.Fatalf("%d of %d submissions acknowledged", len(accepted), 2*perSession)
	}
	waitOutboxEmpty(t, ce.base)
	perID, perText := map[string]int{}, map[string]int{}
	all := sandboxMessages(t, ce.sandbox, "")
	for _, m := range all {
		perID[m.CallbackData]++
		perText[m.Text]++
	}
	for id, text := range accepted {
		if perID[id] != 1 {
			t.Errorf("acknowledged message %s (%q) reached the sandbox %d times", id, text, perID[id])
		}
	}
	twice := 0
	for text, n := range perText {
		if n > 2 {
			t.Errorf("%q reached the sandbox %d times", text, n)
		}
		if n == 2 {
			twice++
		}
	}
	t.Logf("sandbox holds %d messages; %d texts twice (committed, answer lost at the kill, resubmitted)", len(all), twice)
	if twice > 2*window {
		t.Errorf("%d texts sent twice, more than were in flight (%d)", twice, 2*window)
	}
}
