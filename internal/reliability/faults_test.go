package reliability

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	fp "github.com/r2plan/r2plan/internal/faultproxy"
)

// size is the number of objects (about) of the seeded case.
func size() int {
	if long {
		return 600
	}
	return 200
}

func seeds() []uint64 {
	if long {
		return []uint64{1, 2, 3}
	}
	return []uint64{1}
}

// TestFaultMixes plans and applies through the proxy under each mix of faults, on every
// kind of request. The apply completes (after at most one rerun), the checker finds no
// dangling reference and no lost object after every run, the end state equals a
// fault-free run's, and a fresh plan has no changes.
func TestFaultMixes(t *testing.T) {
	n := size()
	all := func(r fp.Rates) map[fp.Kind]fp.Rates {
		m := map[fp.Kind]fp.Rates{}
		for _, k := range fp.Kinds {
			m[k] = r
		}
		return m
	}
	mixes := []struct {
		name  string
		rates map[fp.Kind]fp.Rates
	}{
		{"503 SlowDown", all(fp.Rates{fp.SlowDown503: 0.15})},
		{"500 InternalError", all(fp.Rates{fp.Internal500: 0.15})},
		{"429", all(fp.Rates{fp.TooMany429: 0.15})},
		{"connection resets", all(fp.Rates{fp.Reset: 0.08, fp.ResetAfter: 0.08})},
		{"delays", all(fp.Rates{fp.Delay: 0.3})},
		// 0.3, not 0.5: a listing request fails for good after 10 attempts, which at
		// 0.5 is 1 in 1,024 requests, and a plan sends a few dozen (the seed lists the
		// first folders' folders too): a run then failed by chance, not by a lost key.
		{"short listing pages", map[fp.Kind]fp.Rates{fp.KindList: {fp.ShortList: 0.3}}},
		{"everything at once", all(fp.Rates{fp.SlowDown503: 0.04, fp.Internal500: 0.04, fp.TooMany429: 0.04,
			fp.Reset: 0.03, fp.ResetAfter: 0.03, fp.Delay: 0.05, fp.ShortList: 0.3})},
	}
	for _, mix := range mixes {
		for _, seed := range seeds() {
			name := fmt.Sprintf("%s/seed=%d", mix.name, seed)
			t.Run(name, func(t *testing.T) {
				w := newWorld(t, "faults: "+name, n, fp.Options{Seed: seed, Rates: mix.rates, MaxDelay: 50 * time.Millisecond})
				w.plan()
				w.check()
				w.applyUntilDone(2, "--parallelism=8", "--batch-size=10")
				w.px.SetAllRates(nil)
				w.noChanges()
				w.finish(n, true)
			})
		}
	}
}

// TestStormAcrossAllWorkers storms every request with 429/503 for a while in the
// middle of an apply with 16 workers: the run slows down together and completes,
// without "retry quota exceeded", with every invariant holding.
func TestStormAcrossAllWorkers(t *testing.T) {
	n := size()
	w := newWorld(t, "storm: 429/503 on every request for 1.5s mid-apply", n, fp.Options{Seed: 5})
	w.plan()
	done := make(chan result, 1)
	go func() { done <- w.apply(0, nil, "--parallelism=16", "--batch-size=10") }()
	// Start the storm once copies are under way.
	deadline := time.Now().Add(30 * time.Second)
	for w.px.Stats().Requests[fp.KindCopy] < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	before := w.px.Stats()
	w.px.Storm(1500*time.Millisecond, []fp.Fault{fp.SlowDown503, fp.TooMany429})
	time.Sleep(1500 * time.Millisecond)
	during := w.px.Stats().Sub(before)
	r := <-done
	if r.code != 0 {
		t.Fatalf("apply under a storm: %s", r)
	}
	t.Logf("during the 1.5s storm: %s (%.1f requests/s)", during, float64(during.TotalRequests())/1.5)
	if during.TotalFaults() == 0 {
		t.Log("the apply finished before the storm began")
	} else if rate := float64(during.TotalRequests()) / 1.5; rate > 100 {
		t.Errorf("%.0f requests/s during the storm: the workers did not slow down together", rate)
	}
	w.noChanges()
	w.finish(n, true)
}

// TestFaultPastRetryBound fails every copy of some objects with 500 for good: the apply
// ends with exit 1 and lists the failed changes, the other changes are applied, the
// checker finds nothing dangling, and a rerun without the fault finishes.
func TestFaultPastRetryBound(t *testing.T) {
	n := size()
	poisoned := func(r *http.Request) bool {
		src, _ := url.PathUnescape(r.Header.Get("X-Amz-Copy-Source"))
		return strings.Contains(src, "café") || strings.Contains(src, "what?")
	}
	w := newWorld(t, "persistent 500 on some copies, then a clean rerun", n, fp.Options{Seed: 9,
		Schedule: func(r *http.Request, k fp.Kind, _ int64) fp.Fault {
			if k == fp.KindCopy && poisoned(r) {
				return fp.Internal500
			}
			return fp.None
		}})
	w.plan()
	r := w.apply(0, nil, "--parallelism=8", "--batch-size=10")
	if r.code != 1 {
		t.Fatalf("apply with copies failing for good exited %d, want 1: %s", r.code, r)
	}
	if !strings.Contains(r.stderr, "Failed:") || !strings.Contains(r.stderr, "café") {
		t.Errorf("the failed changes are not listed:\n%s", tail(r.stderr, 3000))
	}
	if strings.Contains(r.stdout, "Apply complete") {
		t.Error("apply says complete")
	}
	w.check()
	// The poisoned objects' rows still point at the originals.
	var stuck int
	if err := w.db.QueryRowContext(t.Context(), `SELECT count(*) FROM "CharacterImage" WHERE "key" LIKE 'characters/%café%'`).Scan(&stuck); err != nil {
		t.Fatal(err)
	}
	if stuck == 0 {
		t.Error("a row of a failed copy was rewritten")
	}
	w.px.SetSchedule(nil) // the fault ends
	w.applyUntilDone(1, "--parallelism=8", "--batch-size=10")
	w.noChanges()
	w.finish(n, true)
}
