package apply

import (
	"context"
	"sync"
	"time"
)

// pacer bounds the copies in flight by a limit that adapts to what the server does,
// between a floor and the cap (Options.Parallelism): additive increase, multiplicative
// decrease. Every window of as many answers as the limit (about one round trip of
// every copy in flight) it compares the copy rate with the window before:
//
//   - a throttling answer (429, 503 SlowDown) in the window halves the limit, down to
//     the floor;
//   - otherwise, while the rate holds or grows, the limit rises by pacerStep, up to
//     the cap;
//   - a mean rate, over the windows in the current band of limits, well below the best
//     mean of a lower band (more copies in flight only slow a saturated server) takes
//     a step back. Means, not single windows: on a busy server one window's rate
//     scatters by tens of percent, and the best single window is a rate the server
//     does not keep, so comparing with it held the limit far below where the rate
//     stopped growing.
//
// On a server far away (R2: tens of milliseconds a copy) the rate grows with the
// copies in flight and the limit climbs to the cap unless the server pushes back; where
// the server's CPU is the limit the rate stops growing, the limit drifts up while it
// holds, and steps back where more copies in flight make it fall.
type pacer struct {
	mu       sync.Mutex
	cond     *sync.Cond
	inflight int
	limit    float64
	floor    float64
	cap      float64
	// throttled reads the bucket's count of throttling answers (nil: none known).
	throttled func() int64
	now       func() time.Time

	// The current window.
	winStart  time.Time
	winDone   int
	winThrott int64
	lastRate  float64
	rates     map[int]*meanRate // the windows' rates by band of limits (limit / pacerBand)
	peak      int               // the highest limit reached
}

// meanRate is the mean of the rates of the windows in one band of limits.
type meanRate struct {
	sum float64
	n   int
}

func (m *meanRate) mean() float64 { return m.sum / float64(m.n) }

const (
	pacerStep  = 4
	pacerFloor = 4
	// pacerFall: where the mean rate of the windows in the band of the current limit
	// is below this share of the best mean of a lower band, the limit takes a step
	// back. Means of at least pacerSamples windows, in bands of pacerBand limits: one
	// window's rate scatters by tens of percent on a busy server, and the best of many
	// single windows is a rate the server does not keep.
	pacerFall    = 0.85
	pacerSamples = 3
	pacerBand    = 16
	// pacerStart is the first limit (or the cap, when lower).
	pacerStart = 32
)

func newPacer(cap int, throttled func() int64) *pacer {
	p := &pacer{
		cap:       float64(cap),
		floor:     float64(min(cap, pacerFloor)),
		limit:     float64(min(cap, pacerStart)),
		throttled: throttled,
		now:       time.Now,
		rates:     map[int]*meanRate{},
	}
	p.cond = sync.NewCond(&p.mu)
	p.winStart = p.now()
	if throttled != nil {
		p.winThrott = throttled()
	}
	p.peak = int(p.limit)
	return p
}

// acquire waits for room under the limit; false when ctx ended first.
func (p *pacer) acquire(ctx context.Context) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() {
			p.mu.Lock()
			p.cond.Broadcast()
			p.mu.Unlock()
		})
		defer stop()
	}
	for p.inflight >= int(p.limit) {
		if ctx.Err() != nil {
			return false
		}
		p.cond.Wait()
	}
	if ctx.Err() != nil {
		return false
	}
	p.inflight++
	return true
}

// release ends a copy and, at the end of a window, adjusts the limit.
func (p *pacer) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	p.winDone++
	defer p.cond.Broadcast()
	if p.winDone < int(p.limit) {
		return
	}
	now := p.now()
	el := now.Sub(p.winStart).Seconds()
	if el <= 0 {
		return
	}
	rate := float64(p.winDone) / el
	var thr int64
	if p.throttled != nil {
		thr = p.throttled()
	}
	band := int(p.limit) / pacerBand
	at := p.rates[band]
	if at == nil {
		at = &meanRate{}
		p.rates[band] = at
	}
	at.sum += rate
	at.n++
	switch {
	case thr > p.winThrott:
		p.limit = max(p.floor, p.limit/2)
	case at.n >= pacerSamples && at.mean() < pacerFall*p.bestBelow(band):
		p.limit = max(p.floor, p.limit-pacerStep)
	case rate >= 0.97*p.lastRate:
		p.limit = min(p.cap, p.limit+pacerStep)
	}
	p.peak = max(p.peak, int(p.limit))
	p.lastRate = rate
	p.winStart, p.winDone, p.winThrott = now, 0, thr
}

// bestBelow is the best mean rate of a band of limits below band, among those seen in
// at least pacerSamples windows.
func (p *pacer) bestBelow(band int) float64 {
	var b float64
	for l, r := range p.rates {
		if l < band && r.n >= pacerSamples {
			b = max(b, r.mean())
		}
	}
	return b
}

// level is the current limit.
func (p *pacer) level() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.limit)
}
