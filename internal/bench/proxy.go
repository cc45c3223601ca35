package main

import (
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// countingProxy is a reverse proxy on 127.0.0.1 in front of the S3 server that counts
// requests by S3 operation and measures the time during which at least one request was
// in flight (the "S3-busy" time of a phase).
type countingProxy struct {
	Endpoint string // http://127.0.0.1:PORT
	srv      *http.Server
	ln       net.Listener

	mu        sync.Mutex
	counts    map[string]int64
	inflight  int
	busySince time.Time
	busy      time.Duration
	// area is the integral of the requests in flight over time since the last take:
	// area / busy is the mean number in flight while any was.
	area       float64
	lastChange time.Time
	lastMean   float64 // area / busy of the last take
	throttled  int64   // 429 and 503 answers since the last take
	lastThrott int64   // throttled of the last take
	// Fixed delays before a request is forwarded (the latency mode): listDelay for
	// ListObjectsV2, opDelay for every other request.
	listDelay, opDelay time.Duration
}

// setDelays makes every ListObjectsV2 wait list and every other request op before it
// is forwarded, as a server far away would (0, 0: none).
func (p *countingProxy) setDelays(list, op time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listDelay, p.opDelay = list, op
}

// delay is the fixed delay of an operation.
func (p *countingProxy) delay(op string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if op == "ListObjectsV2" {
		return p.listDelay
	}
	return p.opDelay
}

func startProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{Endpoint: "http://" + ln.Addr().String(), ln: ln, counts: map[string]int64{}}
	tr := &http.Transport{
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// The client signed the Host it sent (this proxy's); keep it.
			pr.Out.Host = pr.In.Host
		},
		Transport: tr,
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := operation(r)
		p.begin(op)
		defer p.end()
		if d := p.delay(op); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		sw := &statusWriter{ResponseWriter: w}
		rp.ServeHTTP(sw, r)
		if sw.status == http.StatusTooManyRequests || sw.status == http.StatusServiceUnavailable {
			p.mu.Lock()
			p.throttled++
			p.mu.Unlock()
		}
	}), ReadHeaderTimeout: 30 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

func (p *countingProxy) Close() {
	_ = p.srv.Close()
}

func (p *countingProxy) begin(op string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[op]++
	now := time.Now()
	if p.inflight == 0 {
		p.busySince = now
	} else {
		p.area += float64(p.inflight) * now.Sub(p.lastChange).Seconds()
	}
	p.lastChange = now
	p.inflight++
}

func (p *countingProxy) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.area += float64(p.inflight) * now.Sub(p.lastChange).Seconds()
	p.lastChange = now
	p.inflight--
	if p.inflight == 0 {
		p.busy += now.Sub(p.busySince)
	}
}

// take returns the counts and the busy time since the last take, and resets them; it
// keeps the mean number in flight of that time in lastMean.
func (p *countingProxy) take() (map[string]int64, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, b := maps.Clone(p.counts), p.busy
	now := time.Now()
	area := p.area + float64(p.inflight)*now.Sub(p.lastChange).Seconds()
	if p.inflight > 0 {
		b += now.Sub(p.busySince)
		p.busySince = now
	}
	p.lastMean = 0
	if b > 0 {
		p.lastMean = area / b.Seconds()
	}
	p.lastThrott, p.throttled = p.throttled, 0
	p.counts, p.busy, p.area, p.lastChange = map[string]int64{}, 0, 0, now
	return c, b
}

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// operation names the S3 operation of a path-style request.
func operation(r *http.Request) string {
	q := r.URL.Query()
	bucketOnly := !strings.Contains(strings.Trim(r.URL.Path, "/"), "/")
	copySource := r.Header.Get("X-Amz-Copy-Source") != ""
	switch r.Method {
	case http.MethodHead:
		if bucketOnly {
			return "HeadBucket"
		}
		return "HeadObject"
	case http.MethodGet:
		switch {
		case q.Has("list-type"):
			return "ListObjectsV2"
		case bucketOnly && q.Has("uploads"):
			return "ListMultipartUploads"
		case bucketOnly && q.Has("versions"):
			return "ListObjectVersions"
		case bucketOnly:
			return "ListObjects"
		}
		return "GetObject"
	case http.MethodPut:
		switch {
		case copySource && q.Has("partNumber"):
			return "UploadPartCopy"
		case copySource:
			return "CopyObject"
		case q.Has("partNumber"):
			return "UploadPart"
		case bucketOnly:
			return "CreateBucket"
		}
		return "PutObject"
	case http.MethodPost:
		switch {
		case q.Has("delete"):
			return "DeleteObjects"
		case q.Has("uploads"):
			return "CreateMultipartUpload"
		case q.Has("uploadId"):
			return "CompleteMultipartUpload"
		}
		return "POST"
	case http.MethodDelete:
		if q.Has("uploadId") {
			return "AbortMultipartUpload"
		}
		if bucketOnly {
			return "DeleteBucket"
		}
		return "DeleteObject"
	}
	return r.Method
}

// r2Class is the R2 billing class of an operation: "A", "B" or "free".
func r2Class(op string) string {
	switch op {
	case "HeadObject", "HeadBucket", "GetObject":
		return "B"
	case "DeleteObject", "DeleteObjects", "AbortMultipartUpload", "DeleteBucket":
		return "free"
	}
	return "A"
}
