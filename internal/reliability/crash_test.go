package reliability

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	fp "github.com/r2plan/r2plan/internal/faultproxy"
)

// TestRandomKills SIGKILLs apply at seeded random instants over the run: a random hook
// point (after a copy, after a verify, before, inside or after a rewrite transaction)
// and a random count of its occurrences. The hooks fire for work an earlier run already
// did too, so every kill lands, at a deterministic place, whatever the machine's speed.
// The checker runs after every kill; a final clean run completes, and the end state
// equals one uninterrupted run's.
func TestRandomKills(t *testing.T) {
	n := size()
	kills := 22
	seedList := []uint64{11}
	if long {
		kills = 30
		seedList = []uint64{11, 12, 13}
	}
	// Each point with the most occurrences one run is sure to reach: every move is
	// copied (or found copied) and verified; the rows make at least n/5 batches of 5.
	points := []struct {
		name string
		max  int
	}{{"copied", n / 2}, {"verified", n / 2}, {"rewrite-tx", n / 5}, {"in-rewrite-tx", n / 5}, {"rewritten", n / 5}}
	for _, seed := range seedList {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rnd := rand.New(rand.NewPCG(seed, 7))
			w := newWorld(t, fmt.Sprintf("crash: %d seeded SIGKILLs, seed=%d", kills, seed), n, fp.Options{})
			w.plan()
			killed, completed := 0, 0
			for i := 0; i < kills; i++ {
				p := points[rnd.IntN(len(points))]
				spec := fmt.Sprintf("R2PLAN_TEST_CRASH=%s:%d", p.name, 1+rnd.IntN(p.max))
				r := w.apply(0, []string{spec}, "--parallelism=4", "--batch-size=5")
				w.check()
				if r.killed {
					killed++
					w.sum.Faults++
				} else if r.code == 0 {
					completed++
				} else {
					t.Logf("apply %d exited %d without being killed:\n%s", i+1, r.code, tail(r.stderr, 800))
				}
			}
			t.Logf("%d applies killed, %d completed before their kill", killed, completed)
			if killed < 20 {
				t.Errorf("only %d of %d applies were killed mid-run", killed, kills)
			}
			r := w.apply(0, nil)
			if r.code != 0 {
				t.Fatalf("the final apply: %s", r)
			}
			w.noChanges()
			w.finish(n, true)
			if strings.Contains(r.stderr, "Drift") {
				t.Errorf("drift after kills: %s", r.stderr)
			}
		})
	}
}
