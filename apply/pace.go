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
//   - a rate well below the best seen at a lower limit (more copies in flight only
//     queue at a saturated server) takes a step back.
//
// On a server far away (R2: tens of milliseconds a copy) the rate grows with the
// copies in flight and the limit climbs to the cap unless the server pushes back; on
// loopback the server's CPU is the limit and it settles where the rate stops growing.
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
	best      map[int]float64 // best rate seen at each limit
	peak      int             // the highest limit reached
}

const (
	pacerStep  = 4
	pacerFloor = 4
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
		best:      map[int]float64{},
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
	lim := int(p.limit)
	switch {
	case thr > p.winThrott:
		p.limit = max(p.floor, p.limit/2)
	case p.lastRate > 0 && rate < 0.8*p.bestBelow(lim):
		p.limit = max(p.floor, p.limit-pacerStep)
	case rate >= 0.97*p.lastRate:
		p.limit = min(p.cap, p.limit+pacerStep)
	}
	p.best[lim] = max(p.best[lim], rate)
	p.peak = max(p.peak, int(p.limit))
	p.lastRate = rate
	p.winStart, p.winDone, p.winThrott = now, 0, thr
}

// bestBelow is the best rate seen at a limit below lim.
func (p *pacer) bestBelow(lim int) float64 {
	var b float64
	for l, r := range p.best {
		if l < lim {
			b = max(b, r)
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
