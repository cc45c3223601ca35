package apply

import (
	"context"
	"testing"
	"time"
)

// run drives a pacer through windows: each window completes as many copies as the
// limit, taking the time rate(limit) says, with throttling answers when throttle says.
func drive(p *pacer, clock *time.Time, windows int, rate func(limit int) float64, throttle func(limit int) int64, thr *int64) []int {
	var limits []int
	for range windows {
		lim := p.level()
		for range lim {
			if !p.acquire(context.Background()) {
				panic("acquire")
			}
		}
		*clock = clock.Add(time.Duration(float64(lim) / rate(lim) * float64(time.Second)))
		*thr += throttle(lim)
		for range lim {
			p.release()
		}
		limits = append(limits, p.level())
	}
	return limits
}

func TestPacer(t *testing.T) {
	tests := map[string]struct {
		cap       int
		rate      func(int) float64 // copies per second at a limit
		throttle  func(int) int64   // throttling answers per window at a limit
		wantFinal func(int) bool
		wantDesc  string
	}{
		"latency bound: climbs to the cap": {
			cap:       128,
			rate:      func(l int) float64 { return float64(l) / 0.06 },
			throttle:  func(int) int64 { return 0 },
			wantFinal: func(l int) bool { return l == 128 },
			wantDesc:  "128",
		},
		"server bound at 40: stays near it": {
			cap:       256,
			rate:      func(l int) float64 { return float64(min(l, 40)) / 0.01 * (1 - float64(max(0, l-60))/200) },
			throttle:  func(int) int64 { return 0 },
			wantFinal: func(l int) bool { return l >= 36 && l <= 100 },
			wantDesc:  "36..100",
		},
		"throttled above 48: stays below it": {
			cap:  256,
			rate: func(l int) float64 { return float64(l) / 0.06 },
			throttle: func(l int) int64 {
				if l > 48 {
					return 5
				}
				return 0
			},
			wantFinal: func(l int) bool { return l <= 52 && l >= 4 },
			wantDesc:  "4..52",
		},
		"cap below the start": {
			cap:       8,
			rate:      func(l int) float64 { return float64(l) / 0.06 },
			throttle:  func(int) int64 { return 0 },
			wantFinal: func(l int) bool { return l == 8 },
			wantDesc:  "8",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			clock := time.Unix(0, 0)
			var thr int64
			p := newPacer(tt.cap, func() int64 { return thr })
			p.now = func() time.Time { return clock }
			p.winStart = clock
			limits := drive(p, &clock, 200, tt.rate, tt.throttle, &thr)
			if last := limits[len(limits)-1]; !tt.wantFinal(last) {
				t.Errorf("limit after 200 windows = %d, want %s; limits: %v", last, tt.wantDesc, limits)
			}
			for _, l := range limits {
				if l < 1 || l > tt.cap {
					t.Fatalf("limit %d outside [1, %d]", l, tt.cap)
				}
			}
		})
	}
}

func TestPacerAcquireCancelled(t *testing.T) {
	p := newPacer(1, nil)
	if !p.acquire(context.Background()) {
		t.Fatal("first acquire failed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- p.acquire(ctx) }()
	cancel()
	if <-done {
		t.Error("acquire over the limit succeeded after its context was cancelled")
	}
}
