package smsc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// fakeSMSC is an SMSC for tests: it accepts binds, answers submit_sm as
// told by onSubmit, sends deliver_sm and records what it reads. It speaks
// SMPP with gosmpp's pdu package.
type fakeSMSC struct {
	t  *testing.T
	ln net.Listener

	password      atomic.Value // string
	answerEnquire atomic.Bool
	bindAttempts  atomic.Int32
	binds         atomic.Int32
	enquires      atomic.Int32
	unbinds       atomic.Int32
	ids           atomic.Int64

	mu       sync.Mutex
	conns    []*fakeConn
	submits  []fakeSubmit
	onSubmit func(fc *fakeConn, s fakeSubmit, n int) submitAction

	bound chan *fakeConn
	wg    sync.WaitGroup
}

// fakeSubmit is a submit_sm as the fake read it.
type fakeSubmit struct {
	conn           int
	srcTON, srcNPI byte
	src            string
	dstTON, dstNPI byte
	dst            string
	esm, rd, dc    byte
	udh            []byte // with its UDHL octet; nil when none
	data           []byte // short_message after the UDH
	id             string // the id answered, "" when none
}

// seq is the part number from the UDH (1 for a single message).
func (s fakeSubmit) seq() int {
	if len(s.udh) == 6 {
		return int(s.udh[5])
	}
	return 1
}

// submitAction is how the fake answers a submit_sm.
type submitAction struct {
	status    data.CommandStatusType
	noAnswer  bool
	closeConn bool
	bodyless  bool // an error response without message_id
}

// fakeConn is one ESME connection to the fake.
type fakeConn struct {
	f    *fakeSMSC
	n    int
	conn net.Conn
	wmu  sync.Mutex
	seq  atomic.Int32

	deliverResps chan fakeResp
	enquireResps chan int32
	closed       chan struct{}
}

type fakeResp struct {
	seq    int32
	status data.CommandStatusType
}

func newFakeSMSC(t *testing.T) *fakeSMSC { return newFakeSMSCOn(t, nil) }

// newFakeSMSCOn is newFakeSMSC with the listener wrapped (TLS).
func newFakeSMSCOn(t *testing.T, wrap func(net.Listener) net.Listener) *fakeSMSC {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	f := &fakeSMSC{t: t, ln: ln, bound: make(chan *fakeConn, 64)}
	f.password.Store("secret")
	f.answerEnquire.Store(true)
	f.wg.Add(1)
	go f.accept()
	t.Cleanup(f.close)
	return f
}

func (f *fakeSMSC) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fakeSMSC) close() {
	_ = f.ln.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		_ = c.conn.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// dropAll closes every connection (the listener stays).
func (f *fakeSMSC) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		_ = c.conn.Close()
	}
}

func (f *fakeSMSC) setOnSubmit(fn func(fc *fakeConn, s fakeSubmit, n int) submitAction) {
	f.mu.Lock()
	f.onSubmit = fn
	f.mu.Unlock()
}

func (f *fakeSMSC) allSubmits() []fakeSubmit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeSubmit(nil), f.submits...)
}

// waitBound returns the next connection that binds.
func (f *fakeSMSC) waitBound() *fakeConn {
	f.t.Helper()
	select {
	case c := <-f.bound:
		return c
	case <-time.After(testWait):
		f.t.Fatal("no bind")
		return nil
	}
}

func (f *fakeSMSC) accept() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		c := &fakeConn{f: f, n: len(f.conns) + 1, conn: conn, deliverResps: make(chan fakeResp, 64),
			enquireResps: make(chan int32, 64), closed: make(chan struct{})}
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer close(c.closed)
			defer conn.Close()
			c.serve()
		}()
	}
}

func (c *fakeConn) write(p pdu.PDU) {
	buf := pdu.NewBuffer(nil)
	p.Marshal(buf)
	c.writeRaw(buf.Bytes())
}

func (c *fakeConn) writeRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, _ = c.conn.Write(b)
}

// send sends a request (deliver_sm, enquire_link, unbind) with the next
// sequence number, which it returns.
func (c *fakeConn) send(p pdu.PDU) int32 {
	seq := c.seq.Add(1)
	p.SetSequenceNumber(seq)
	c.write(p)
	return seq
}

// deliverResp waits for the response to the deliver_sm with seq.
func (c *fakeConn) deliverResp(t *testing.T, seq int32) data.CommandStatusType {
	t.Helper()
	select {
	case r := <-c.deliverResps:
		if r.seq != seq {
			t.Fatalf("deliver_sm_resp for seq %d, want %d", r.seq, seq)
		}
		return r.status
	case <-time.After(testWait):
		t.Fatalf("no deliver_sm_resp for seq %d", seq)
		return 0
	}
}

func (c *fakeConn) serve() {
	for {
		p, err := pdu.Parse(c.conn)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.f.t.Logf("fake SMSC conn %d: %v", c.n, err)
			}
			return
		}
		switch req := p.(type) {
		case *pdu.BindRequest:
			c.f.bindAttempts.Add(1)
			resp := pdu.NewBindResp(*req)
			resp.SystemID = "fake"
			resp.SetSequenceNumber(req.GetSequenceNumber())
			if req.Password != c.f.password.Load().(string) || req.BindingType != pdu.Transceiver ||
				req.InterfaceVersion != 0x34 {
				resp.CommandStatus = data.ESME_RINVPASWD
				c.write(resp)
				continue
			}
			c.write(resp)
			c.f.binds.Add(1)
			c.f.bound <- c
		case *pdu.EnquireLink:
			c.f.enquires.Add(1)
			if c.f.answerEnquire.Load() {
				r := req.GetResponse()
				c.write(r)
			}
		case *pdu.EnquireLinkResp:
			c.enquireResps <- req.GetSequenceNumber()
		case *pdu.Unbind:
			c.f.unbinds.Add(1)
			c.write(req.GetResponse())
			return
		case *pdu.UnbindResp:
			return
		case *pdu.DeliverSMResp:
			c.deliverResps <- fakeResp{req.GetSequenceNumber(), req.CommandStatus}
		case *pdu.DataSMResp:
			c.deliverResps <- fakeResp{req.GetSequenceNumber(), req.CommandStatus}
		case *pdu.SubmitSM:
			if !c.submit(req) {
				return
			}
		default:
			c.f.t.Logf("fake SMSC: unexpected %T", p)
		}
	}
}

// submit records and answers a submit_sm; false closes the connection.
func (c *fakeConn) submit(req *pdu.SubmitSM) bool {
	raw, _ := req.Message.GetMessageData()
	s := fakeSubmit{conn: c.n, srcTON: req.SourceAddr.Ton(), srcNPI: req.SourceAddr.Npi(), src: req.SourceAddr.Address(),
		dstTON: req.DestAddr.Ton(), dstNPI: req.DestAddr.Npi(), dst: req.DestAddr.Address(),
		esm: req.EsmClass, rd: req.RegisteredDelivery, data: bytes.Clone(raw)}
	if enc := req.Message.Encoding(); enc != nil {
		s.dc = enc.DataCoding()
	}
	if u := req.Message.UDH(); u != nil && u.UDHL() > 0 {
		s.udh, _ = u.MarshalBinary()
	}
	c.f.mu.Lock()
	n := len(c.f.submits) + 1
	fn := c.f.onSubmit
	c.f.mu.Unlock()
	var act submitAction
	if fn != nil {
		act = fn(c, s, n)
	}
	resp := req.GetResponse().(*pdu.SubmitSMResp)
	resp.SetSequenceNumber(req.GetSequenceNumber())
	if act.status == data.ESME_ROK && !act.noAnswer && !act.closeConn {
		s.id = "id-" + strconv.FormatInt(c.f.ids.Add(1), 16)
		resp.MessageID = s.id
	}
	c.f.mu.Lock()
	c.f.submits = append(c.f.submits, s)
	c.f.mu.Unlock()
	switch {
	case act.closeConn:
		return false
	case act.noAnswer:
		return true
	case act.bodyless:
		var b [16]byte
		putHeader(b[:], 16, data.SUBMIT_SM_RESP, act.status, req.GetSequenceNumber())
		c.writeRaw(b[:])
	default:
		resp.CommandStatus = act.status
		c.write(resp)
	}
	return true
}

func putHeader(b []byte, n int, cmd data.CommandIDType, st data.CommandStatusType, seq int32) {
	be := func(i int, v uint32) { b[i], b[i+1], b[i+2], b[i+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v) }
	be(0, uint32(n))
	be(4, uint32(cmd))
	be(8, uint32(st))
	be(12, uint32(seq))
}

func (s fakeSubmit) String() string {
	return fmt.Sprintf("conn %d %s→%s esm %#x dc %d udh % x id %q (%d octets)", s.conn, s.src, s.dst, s.esm, s.dc, s.udh, s.id, len(s.data))
}

// newFakeSMSCTLS is the fake behind TLS with a fresh self-signed
// certificate for 127.0.0.1; it returns the pool trusting it.
func newFakeSMSCTLS(t *testing.T) (*fakeSMSC, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fake smsc"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	f := newFakeSMSCOn(t, func(ln net.Listener) net.Listener {
		return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	})
	return f, pool
}
