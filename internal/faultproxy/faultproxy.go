// Package faultproxy is an HTTP reverse proxy, for tests, that sits between r2plan and a
// real S3 server and injects the faults a real service produces under load: 503
// SlowDown, 500 InternalError, 429, connection resets, slow answers and listing pages cut
// short, on a schedule or at random from a seed.
//
// Requests are forwarded unchanged, Host header included, so SigV4 signatures made for
// the proxy's address still verify on the server behind it.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is what an S3 request does, as far as fault rules care.
type Kind uint8

const (
	KindOther  Kind = iota
	KindList        // GET on the bucket with list-type=2 (ListObjectsV2)
	KindHead        // HEAD (HeadObject, HeadBucket)
	KindCopy        // PUT with x-amz-copy-source (CopyObject, UploadPartCopy)
	KindDelete      // POST ?delete (DeleteObjects)
	numKinds
)

// Kinds lists every kind, in order.
var Kinds = []Kind{KindList, KindHead, KindCopy, KindDelete, KindOther}

func (k Kind) String() string {
	switch k {
	case KindList:
		return "list"
	case KindHead:
		return "head"
	case KindCopy:
		return "copy"
	case KindDelete:
		return "delete"
	case KindOther:
		return "other"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is one injected misbehaviour.
type Fault uint8

const (
	None Fault = iota
	// SlowDown503 answers 503 with an S3 SlowDown error body; the server is not asked.
	SlowDown503
	// Internal500 answers 500 with an S3 InternalError body; the server is not asked.
	Internal500
	// TooMany429 answers 429 with a SlowDown error body; the server is not asked.
	TooMany429
	// Reset closes the client's connection (TCP RST) before the server is asked.
	Reset
	// ResetAfter forwards the request, lets the server act on it, and then resets the
	// client's connection instead of answering: the client cannot know it succeeded.
	ResetAfter
	// Delay holds the request for a random time up to Options.MaxDelay, then forwards it.
	Delay
	// ShortList forwards a ListObjectsV2 request and cuts the answer's body in the
	// middle of its XML, then closes the connection (on other kinds it acts as Reset).
	ShortList
	// Denied403 answers 403 with an S3 AccessDenied body, as a server does to a token
	// without the permission; the server is not asked. Unlike the others it is not
	// transient (no retry gets past it), so Faults leaves it out.
	Denied403
	numFaults
)

// Faults lists every transient fault, in order: every fault but None and Denied403.
var Faults = []Fault{SlowDown503, Internal500, TooMany429, Reset, ResetAfter, Delay, ShortList}

func (f Fault) String() string {
	switch f {
	case None:
		return "none"
	case SlowDown503:
		return "503"
	case Internal500:
		return "500"
	case TooMany429:
		return "429"
	case Reset:
		return "reset"
	case ResetAfter:
		return "reset-after"
	case Delay:
		return "delay"
	case ShortList:
		return "short-list"
	case Denied403:
		return "403"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// Rates gives each fault a probability per request (their sum at most 1).
type Rates map[Fault]float64

// Options configure a Proxy.
type Options struct {
	// Target is the real server, e.g. "http://127.0.0.1:7070".
	Target string
	// Seed makes the random choices reproducible (for a given order of requests).
	Seed uint64
	// Rates per request kind; a kind not present gets no random faults.
	Rates map[Kind]Rates
	// MaxDelay bounds the Delay fault (default 200ms).
	MaxDelay time.Duration
	// Schedule, if set, is asked first for every request with the request, its kind and
	// its sequence number among requests of that kind (from 1); a fault other than None
	// is injected as is, None falls through to the storm and the rates. It must not read
	// the request's body.
	Schedule func(r *http.Request, kind Kind, n int64) Fault
}

// Stats counts what the proxy saw and did.
type Stats struct {
	Requests [numKinds]int64            // per kind
	Retries  [numKinds]int64            // requests the SDK marks as a repeated attempt (amz-sdk-request: attempt=N>1)
	Faults   [numKinds][numFaults]int64 // injected, per kind and fault
}

// TotalRequests is the number of requests of every kind.
func (s Stats) TotalRequests() int64 { return sum(s.Requests[:]) }

// TotalRetries is the number of repeated attempts of every kind.
func (s Stats) TotalRetries() int64 { return sum(s.Retries[:]) }

// TotalFaults is the number of faults of every kind injected.
func (s Stats) TotalFaults() int64 {
	var n int64
	for k := range s.Faults {
		for f := 1; f < int(numFaults); f++ {
			n += s.Faults[k][f]
		}
	}
	return n
}

// FaultsOf counts the injections of one fault over every kind.
func (s Stats) FaultsOf(f Fault) int64 {
	var n int64
	for k := range s.Faults {
		n += s.Faults[k][f]
	}
	return n
}

// String is a short summary: "requests=… retries=… faults=503:3,reset:1".
func (s Stats) String() string {
	var parts []string
	for _, f := range append(Faults, Denied403) {
		if n := s.FaultsOf(f); n > 0 {
			parts = append(parts, fmt.Sprintf("%s:%d", f, n))
		}
	}
	return fmt.Sprintf("requests=%d retries=%d faults=%s", s.TotalRequests(), s.TotalRetries(), strings.Join(parts, ","))
}

// Sub is s minus an earlier snapshot.
func (s Stats) Sub(old Stats) Stats {
	for k := range s.Requests {
		s.Requests[k] -= old.Requests[k]
		s.Retries[k] -= old.Retries[k]
		for f := range s.Faults[k] {
			s.Faults[k][f] -= old.Faults[k][f]
		}
	}
	return s
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}

// Proxy is a running fault-injecting proxy. Its methods are safe for concurrent use.
type Proxy struct {
	target *url.URL
	rp     *httputil.ReverseProxy
	srv    *http.Server
	ln     net.Listener
	url    string

	mu          sync.Mutex
	rnd         *rand.Rand
	rates       map[Kind]Rates
	schedule    func(*http.Request, Kind, int64) Fault
	maxDelay    time.Duration
	stormUntil  time.Time // zero: no storm
	stormOpen   bool      // a storm without an end
	stormFaults []Fault
	stormKinds  map[Kind]bool // nil: every kind
	seq         [numKinds]int64
	stats       Stats

	inflight atomic.Int64
	maxIn    atomic.Int64
}

// Start listens on 127.0.0.1 (a free port) and serves until Close.
func Start(o Options) (*Proxy, error) {
	target, err := url.Parse(o.Target)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("faultproxy: bad target %q", o.Target)
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 200 * time.Millisecond
	}
	p := &Proxy{
		target:   target,
		rnd:      rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		rates:    map[Kind]Rates{},
		schedule: o.Schedule,
		maxDelay: o.MaxDelay,
	}
	for k, r := range o.Rates {
		p.rates[k] = clone(r)
	}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // never add an Accept-Encoding the client did not send
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.target)
			// SetURL sets Host to the target's; the client signed the Host it sent.
			r.Out.Host = r.In.Host
			// Keep the path byte for byte (SetURL joins paths; the target has none).
			r.Out.URL.Path = r.In.URL.Path
			r.Out.URL.RawPath = r.In.URL.RawPath
		},
		Transport:     transport,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.url = "http://" + p.ln.Addr().String()
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go p.srv.Serve(p.ln)
	return p, nil
}

func clone(r Rates) Rates {
	c := make(Rates, len(r))
	for f, v := range r {
		c[f] = v
	}
	return c
}

// URL is the proxy's address, "http://127.0.0.1:PORT": the endpoint to give r2plan.
func (p *Proxy) URL() string { return p.url }

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.srv.Shutdown(ctx); err != nil {
		return p.srv.Close()
	}
	return nil
}

// SetRates replaces the random fault rates of one kind (nil: no faults).
func (p *Proxy) SetRates(k Kind, r Rates) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r == nil {
		delete(p.rates, k)
		return
	}
	p.rates[k] = clone(r)
}

// SetAllRates gives every kind the same rates (nil: no random faults at all).
func (p *Proxy) SetAllRates(r Rates) {
	for _, k := range Kinds {
		p.SetRates(k, r)
	}
}

// Storm makes every request (of the given kinds; all kinds if none) fail for d with
// one of faults chosen at random (SlowDown503 and TooMany429 if none are given). A
// d <= 0 storms until StopStorm.
func (p *Proxy) Storm(d time.Duration, faults []Fault, kinds ...Kind) {
	if len(faults) == 0 {
		faults = []Fault{SlowDown503, TooMany429}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stormFaults = append([]Fault(nil), faults...)
	p.stormOpen = d <= 0
	p.stormUntil = time.Now().Add(d)
	p.stormKinds = nil
	if len(kinds) > 0 {
		p.stormKinds = map[Kind]bool{}
		for _, k := range kinds {
			p.stormKinds[k] = true
		}
	}
}

// SetSchedule replaces Options.Schedule (nil: no schedule).
func (p *Proxy) SetSchedule(fn func(r *http.Request, kind Kind, n int64) Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.schedule = fn
}

// StopStorm ends a storm at once.
func (p *Proxy) StopStorm() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stormOpen = false
	p.stormUntil = time.Time{}
}

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// MaxInFlight is the largest number of requests the proxy held at once.
func (p *Proxy) MaxInFlight() int64 { return p.maxIn.Load() }

// KindOf classifies an S3 request.
func KindOf(r *http.Request) Kind {
	q := r.URL.Query()
	switch r.Method {
	case http.MethodHead:
		return KindHead
	case http.MethodGet:
		if q.Get("list-type") == "2" {
			return KindList
		}
	case http.MethodPut:
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			return KindCopy
		}
	case http.MethodPost:
		if q.Has("delete") {
			return KindDelete
		}
	}
	return KindOther
}

// attempt reads the SDK's "amz-sdk-request: attempt=N; max=M" header (1 if absent).
func attempt(r *http.Request) int {
	for _, part := range strings.Split(r.Header.Get("Amz-Sdk-Request"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "attempt="); ok {
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return 1
}

// decide picks the fault for one request and counts it.
func (p *Proxy) decide(r *http.Request) (Kind, Fault, time.Duration) {
	k := KindOf(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq[k]++
	p.stats.Requests[k]++
	if attempt(r) > 1 {
		p.stats.Retries[k]++
	}
	f := None
	if p.schedule != nil {
		f = p.schedule(r, k, p.seq[k])
	}
	if f == None && (p.stormOpen || time.Now().Before(p.stormUntil)) && (p.stormKinds == nil || p.stormKinds[k]) {
		f = p.stormFaults[p.rnd.IntN(len(p.stormFaults))]
	}
	if f == None {
		if rates := p.rates[k]; len(rates) > 0 {
			x := p.rnd.Float64()
			for _, cand := range Faults { // fixed order: reproducible for a seed
				if x < rates[cand] {
					f = cand
					break
				}
				x -= rates[cand]
			}
		}
	}
	if f == ShortList && k != KindList {
		f = Reset
	}
	var delay time.Duration
	if f == Delay {
		delay = time.Duration(p.rnd.Int64N(int64(p.maxDelay)) + 1)
	}
	p.stats.Faults[k][f]++
	return k, f, delay
}

// ServeHTTP injects the fault chosen for r, or forwards it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.inflight.Add(1)
	defer p.inflight.Add(-1)
	for {
		m := p.maxIn.Load()
		if n <= m || p.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	_, f, delay := p.decide(r)
	switch f {
	case SlowDown503:
		writeError(w, r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case Internal500:
		writeError(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case TooMany429:
		writeError(w, r, http.StatusTooManyRequests, "SlowDown", "Please reduce your request rate.")
	case Denied403:
		writeError(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
	case Reset:
		reset(w)
	case ResetAfter:
		rec := &discard{h: http.Header{}}
		p.rp.ServeHTTP(rec, r)
		reset(w)
	case Delay:
		t := time.NewTimer(delay)
		select {
		case <-t.C:
			p.rp.ServeHTTP(w, r)
		case <-r.Context().Done():
			t.Stop()
		}
	case ShortList:
		p.rp.ServeHTTP(&cutter{ResponseWriter: w}, r)
		// The body was cut; abort so the client sees the connection end early.
		panic(http.ErrAbortHandler)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	body := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>faultproxy</RequestId></Error>`,
		code, msg, xmlEscape(r.URL.Path))
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("X-Faultproxy", code)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// reset closes the client's connection with a TCP RST, without an answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// discard is a ResponseWriter that throws the answer away.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// cutter passes the status and headers (Content-Length included) and about half of the
// body, cut inside the XML, and drops the rest.
type cutter struct {
	http.ResponseWriter
	status  int
	limit   int64 // bytes still to pass; -1 until headers are known
	started bool
}

func (c *cutter) WriteHeader(status int) {
	c.status = status
	c.limit = -1
	if n, err := strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64); err == nil && n > 1 {
		c.limit = n / 2
	}
	c.started = true
	c.ResponseWriter.WriteHeader(status)
}

func (c *cutter) Write(b []byte) (int, error) {
	if !c.started {
		c.WriteHeader(http.StatusOK)
	}
	if c.limit < 0 {
		// No length known: pass the first 64 bytes only.
		c.limit = 64
	}
	if c.limit == 0 {
		return 0, errors.New("faultproxy: body cut")
	}
	n := len(b)
	if int64(n) > c.limit {
		n = int(c.limit)
	}
	c.limit -= int64(n)
	w, err := c.ResponseWriter.Write(b[:n])
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	if err == nil && w < len(b) {
		err = errors.New("faultproxy: body cut")
	}
	return w, err
}

func (c *cutter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
