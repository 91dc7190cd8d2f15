package smsc

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/wabridge/wabridge/bridge"
)

// testWait bounds every wait in these tests: generous, for loaded machines.
const testWait = 20 * time.Second

// logBuf collects log output.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// recorder is a handle function that records the events it stores. hook,
// when set, runs first and may fail the call.
type recorder struct {
	mu     sync.Mutex
	events []bridge.SMSEvent
	hook   func(events []bridge.SMSEvent) error
	calls  chan []bridge.SMSEvent
}

func newRecorder() *recorder { return &recorder{calls: make(chan []bridge.SMSEvent, 256)} }

func (r *recorder) handle(_ context.Context, events []bridge.SMSEvent) error {
	r.mu.Lock()
	hook := r.hook
	r.mu.Unlock()
	if hook != nil {
		if err := hook(events); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.events = append(r.events, events...)
	r.mu.Unlock()
	r.calls <- events
	return nil
}

func (r *recorder) setHook(h func([]bridge.SMSEvent) error) {
	r.mu.Lock()
	r.hook = h
	r.mu.Unlock()
}

// next returns the next stored event.
func (r *recorder) next(t *testing.T) bridge.SMSEvent {
	t.Helper()
	for {
		r.mu.Lock()
		if len(r.events) > 0 {
			ev := r.events[0]
			r.events = r.events[1:]
			r.mu.Unlock()
			return ev
		}
		r.mu.Unlock()
		select {
		case <-r.calls:
		case <-time.After(testWait):
			t.Fatal("no event stored")
		}
	}
}

func testConfig(f *fakeSMSC) Config {
	return Config{
		Name: "op1", Host: "127.0.0.1", Port: f.port(), SystemID: "wabridge", Password: "secret",
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond,
		ThrottleMin: 10 * time.Millisecond, ThrottleMax: 100 * time.Millisecond,
		ResponseTimeout: testWait / 2, ConcatHold: testWait / 2,
	}
}

// startClient starts a client on the fake with cfg adjusted by mod.
func startClient(t *testing.T, f *fakeSMSC, rec *recorder, mod func(*Config)) (*Client, *logBuf) {
	t.Helper()
	cfg := testConfig(f)
	if mod != nil {
		mod(&cfg)
	}
	logs := &logBuf{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if rec == nil {
		rec = newRecorder()
	}
	c, err := New(cfg, rec.handle, log)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testWait)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("client log:\n%s", logs.String())
		}
	})
	return c, logs
}

// eventually polls cond until it holds (or fails the test after testWait).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func submit(t *testing.T, c *Client, m bridge.SMS) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	return c.SubmitSMS(ctx, m)
}

// rawCoding is a data_coding gosmpp does not know, for building PDUs.
type rawCoding byte

func (r rawCoding) Encode(s string) ([]byte, error) { return []byte(s), nil }
func (r rawCoding) Decode(b []byte) (string, error) { return string(b), nil }
func (r rawCoding) DataCoding() byte                { return byte(r) }

// deliverSM builds a deliver_sm carrying sm as is.
func deliverSM(src, dst string, esm, dc byte, sm []byte, tlvs ...pdu.Field) *pdu.DeliverSM {
	p := pdu.NewDeliverSM().(*pdu.DeliverSM)
	p.SourceAddr, _ = pdu.NewAddressWithTonNpiAddr(1, 1, src)
	p.DestAddr, _ = pdu.NewAddressWithTonNpiAddr(1, 1, dst)
	p.EsmClass = esm
	p.Message, _ = pdu.NewBinaryShortMessageWithEncoding(sm, rawCoding(dc))
	for _, f := range tlvs {
		p.RegisterOptionalParam(f)
	}
	return p
}

func marshalPDU(p pdu.PDU) []byte {
	buf := pdu.NewBuffer(nil)
	p.Marshal(buf)
	return buf.Bytes()
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func tlv(tag uint16, v []byte) pdu.Field { return pdu.Field{Tag: pdu.Tag(tag), Data: v} }

// ucs2 encodes s as UTF-16BE.
func ucs2(s string) []byte {
	var b []byte
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			b = append(b, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
			continue
		}
		b = append(b, byte(r>>8), byte(r))
	}
	return b
}

// splitPDU splits a whole PDU's bytes into a rawPDU (for the fuzz target
// and tests).
func splitPDU(b []byte) (rawPDU, error) {
	if len(b) < 16 {
		return rawPDU{}, errBadLength
	}
	return rawPDU{
		cmd:    data.CommandIDType(binary.BigEndian.Uint32(b[4:])),
		status: data.CommandStatusType(binary.BigEndian.Uint32(b[8:])),
		seq:    int32(binary.BigEndian.Uint32(b[12:])),
		body:   b[16:],
	}, nil
}
