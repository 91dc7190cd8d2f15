package smppload

import (
	"bufio"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// FakeSMSC is a trivial in-process SMSC for measuring the client itself:
// it accepts any bind_transceiver, answers every submit_sm at once (or after
// RespDelay) with a fresh message_id, and sends the final receipt right
// after the response.
type FakeSMSC struct {
	RespDelay     time.Duration // delay before each submit_sm_resp
	ThrottleEvery int64         // every Nth submit_sm is answered ESME_RTHROTTLED
	DropEvery     int64         // every Nth accepted message gets no receipt
	ReceiptFirst  bool          // send the receipt before the submit_sm_resp
	Stat          string        // receipt stat (default DELIVRD)

	ln          net.Listener
	ids         atomic.Uint64
	submits     atomic.Int64
	throttled   atomic.Int64
	receipts    atomic.Int64
	drResps     atomic.Int64
	maxInflight atomic.Int64
	wg          sync.WaitGroup
	mu          sync.Mutex
	conns       []net.Conn
}

// Start listens on 127.0.0.1 (a free port) and returns the address.
func (f *FakeSMSC) Start() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	f.ln = ln
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
			}()
		}
	}()
	return ln.Addr().String(), nil
}

// Close stops the listener and every session.
func (f *FakeSMSC) Close() {
	if f.ln != nil {
		f.ln.Close()
	}
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *FakeSMSC) serve(nc net.Conn) {
	defer nc.Close()
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	out := make(chan []byte, 4096)
	done := make(chan struct{})
	defer close(done)
	go func() {
		w := bufio.NewWriterSize(nc, 64<<10)
		for {
			select {
			case p := <-out:
				if _, err := w.Write(p); err != nil {
					return
				}
				if len(out) == 0 && w.Flush() != nil {
					return
				}
			case <-done:
				return
			}
		}
	}()
	send := func(p []byte) {
		select {
		case out <- p:
		case <-done:
		}
	}
	stat := f.Stat
	if stat == "" {
		stat = "DELIVRD"
	}
	state := byte(2)
	for i, n := range stateNames {
		if n == stat {
			state = byte(i)
		}
	}
	var inflight atomic.Int64
	var seq atomic.Uint32
	r := bufio.NewReaderSize(nc, 64<<10)
	var buf []byte
	for {
		h, body, err := readPDU(r, buf)
		buf = body
		if err != nil {
			return
		}
		switch h.id {
		case cmdBindTransceiver:
			send(appendResp(nil, cmdBindTRXResp, 0, h.seq, "fake", true))
		case cmdSubmitSM:
			n := f.submits.Add(1)
			for in := inflight.Add(1); ; {
				m := f.maxInflight.Load()
				if in <= m || f.maxInflight.CompareAndSwap(m, in) {
					break
				}
			}
			src, dst := addrs(body)
			answer := func() {
				inflight.Add(-1)
				if f.ThrottleEvery > 0 && n%f.ThrottleEvery == 0 {
					f.throttled.Add(1)
					send(appendResp(nil, cmdSubmitSMResp, statusThrottled, h.seq, "", false))
					return
				}
				id := strconv.FormatUint(f.ids.Add(1), 36)
				p := make([]byte, 0, 256)
				rcpt := !(f.DropEvery > 0 && n%f.DropEvery == 0)
				if rcpt && f.ReceiptFirst {
					p = appendReceipt(p, seq.Add(1), src, dst, id, stat, state)
				}
				p = appendResp(p, cmdSubmitSMResp, 0, h.seq, id, true)
				if rcpt && !f.ReceiptFirst {
					p = appendReceipt(p, seq.Add(1), src, dst, id, stat, state)
				}
				if rcpt {
					f.receipts.Add(1)
				}
				send(p)
			}
			if f.RespDelay > 0 {
				time.AfterFunc(f.RespDelay, answer)
			} else {
				answer()
			}
		case cmdDeliverSMResp:
			f.drResps.Add(1)
		case cmdEnquireLink:
			send(appendResp(nil, cmdEnquireLinkResp, 0, h.seq, "", false))
		case cmdUnbind:
			send(appendResp(nil, cmdUnbindResp, 0, h.seq, "", false))
			time.Sleep(20 * time.Millisecond)
			return
		}
	}
}

// addrs returns submit_sm's source and destination addresses.
func addrs(body []byte) (string, string) {
	off := 0
	if _, ok := cstring(body, &off); !ok {
		return "", ""
	}
	off += 2
	src, _ := cstring(body, &off)
	off += 2
	dst, _ := cstring(body, &off)
	return string(src), string(dst)
}
