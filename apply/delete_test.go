package apply

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/r2plan/r2plan/plan"
)

// memBucket is an in-memory bucket for the deletion pipeline's bookkeeping (the request
// path is tested against versitygw by the deletion scripts). It records how many
// DeleteObjects requests were in flight at once.
type memBucket struct {
	Bucket
	mu       sync.Mutex
	objs     map[string]objStat
	inFlight int
	maxSeen  int
}

func (b *memBucket) ListFrom(ctx context.Context, prefix, startAfter string, fn func(string, int64, string, time.Time) error) error {
	b.mu.Lock()
	keys := slices.Sorted(maps.Keys(b.objs))
	objs := maps.Clone(b.objs)
	b.mu.Unlock()
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) || k <= startAfter {
			continue
		}
		if err := fn(k, objs[k].size, objs[k].etag, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

func (b *memBucket) Delete(ctx context.Context, keys []string) (map[string]error, error) {
	b.mu.Lock()
	b.inFlight++
	b.maxSeen = max(b.maxSeen, b.inFlight)
	b.mu.Unlock()
	time.Sleep(time.Millisecond) // let other requests overlap
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight--
	for _, k := range keys {
		delete(b.objs, k)
	}
	return nil, nil
}

// memRefs answers Referenced from a fixed set of rows, key -> row, and counts its reads.
type memRefs struct {
	rows  map[string]string
	reads int
	mu    sync.Mutex
}

func (m *memRefs) Referenced(ctx context.Context, keys []string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	found := map[string]string{}
	for _, k := range keys {
		if row, ok := m.rows[k]; ok {
			found[k] = row
		}
	}
	return found, nil
}

// memJournal records the journaled deletions.
type memJournal struct {
	Journal
	mu      sync.Mutex
	deleted []string
}

func (j *memJournal) RecordDeletes(ctx context.Context, planID string, deleted []plan.Deleted) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, d := range deleted {
		j.deleted = append(j.deleted, d.Key)
	}
	return nil
}

// deletionWorld is n moved sources, each with its copy under dev/, planned for
// deletion, and a few that drifted since the plan.
func deletionWorld(n int) (*memBucket, []plan.Deletion, map[string]string) {
	b := &memBucket{objs: map[string]objStat{}}
	var dels []plan.Deletion
	for i := range n {
		key := fmt.Sprintf("characters/c%05d.webp", i)
		target := "dev/" + key
		b.objs[key] = objStat{int64(100 + i), "e" + key}
		b.objs[target] = objStat{int64(100 + i), "e" + key}
		dels = append(dels, plan.Deletion{Key: key, Reason: plan.ReasonMoved, Size: int64(100 + i), ETag: "e" + key, Target: target, TargetETag: "e" + key})
	}
	rows := map[string]string{dels[3].Key: "image.key[3]"}
	b.objs[dels[1500].Key] = objStat{1, "changed"}
	delete(b.objs, dels[2000].Target)
	b.objs[dels[2100].Target] = objStat{dels[2100].Size, "other"}
	delete(b.objs, dels[10].Key)
	delete(b.objs, dels[1200].Key)
	return b, dels, rows
}

// memPlan is a plan of deletions held in memory.
type memPlan struct {
	header plan.Header
	dels   []plan.Deletion
}

func (p *memPlan) ID() string           { return "plan1" }
func (p *memPlan) Header() *plan.Header { return &p.header }
func (p *memPlan) Entries(fn func(plan.Entry) error) error {
	for i := range p.dels {
		if err := fn(plan.Entry{Delete: &p.dels[i]}); err != nil {
			return err
		}
	}
	return nil
}

func runDeletions(t *testing.T, b *memBucket, refs *memRefs, j *memJournal, dels []plan.Deletion, o Options) *Result {
	t.Helper()
	res, err := Run(t.Context(), &memPlan{dels: dels}, Deps{Bucket: b, Journal: j, Referrers: refs}, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDeletions(t *testing.T) {
	b, dels, rows := deletionWorld(2500)
	refs := &memRefs{rows: rows}
	j := &memJournal{}
	res := runDeletions(t, b, refs, j, dels, Options{DeleteChunk: 1200})

	var drift []string
	for _, d := range res.Drift {
		drift = append(drift, d.String())
	}
	wantDrift := []string{
		`object "characters/c00003.webp": referenced again by row image.key[3]; not deleted`,
		`object "characters/c01500.webp": changed since the plan (ETag changed, 1 bytes); not deleted`,
		`object "characters/c02000.webp": its copy "dev/characters/c02000.webp" is missing; not deleted`,
		`object "characters/c02100.webp": its copy "dev/characters/c02100.webp" changed (ETag other, 2200 bytes); not deleted`,
	}
	if diff := cmp.Diff(wantDrift, drift); diff != "" {
		t.Errorf("drift in plan order (-want +got):\n%s", diff)
	}
	if res.Deleted != 2500-4-2 || res.Gone != 2 || res.Pending != 0 || len(res.Failed) != 0 {
		t.Errorf("deleted %d, gone %d, pending %d, failed %v", res.Deleted, res.Gone, res.Pending, res.Failed)
	}
	// What was journaled is exactly what is gone; what drifted is still there.
	slices.Sort(j.deleted)
	var want []string
	for i, d := range dels {
		if !slices.Contains([]int{3, 10, 1200, 1500, 2000, 2100}, i) {
			want = append(want, d.Key)
		}
	}
	if diff := cmp.Diff(want, j.deleted); diff != "" {
		t.Errorf("journaled (-want +got):\n%s", diff)
	}
	for _, i := range []int{3, 1500, 2000, 2100} {
		if _, ok := b.objs[dels[i].Key]; !ok {
			t.Errorf("%s drifted but was deleted", dels[i].Key)
		}
	}
	if refs.reads != 3 {
		t.Errorf("%d reads of the references for 3 chunks", refs.reads)
	}
	if b.maxSeen > maxDeleteRequests {
		t.Errorf("%d DeleteObjects requests in flight, the bound is %d", b.maxSeen, maxDeleteRequests)
	}
}

// An interrupt starts no further batch and lets those started finish (an interrupt
// after the last batch started leaves nothing pending); every deletion is counted once:
// deleted, gone, drift or pending.
func TestDeletionsInterrupted(t *testing.T) {
	for name, at := range map[string]int{"before": 0, "first delete": 1, "third delete": 3} {
		t.Run(name, func(t *testing.T) {
			b, dels, rows := deletionWorld(2500)
			j := &memJournal{}
			stop := make(chan struct{})
			var once sync.Once
			n := 0
			if at == 0 {
				close(stop)
			}
			var mu sync.Mutex
			hook := func(p string) {
				mu.Lock()
				defer mu.Unlock()
				if p == "deleted" {
					if n++; n == at {
						once.Do(func() { close(stop) })
					}
				}
			}
			res := runDeletions(t, b, &memRefs{rows: rows}, j, dels, Options{DeleteChunk: 1200, Parallelism: 2, Stop: stop, Hook: hook})
			if res.Pending > 0 && !res.Interrupted {
				t.Errorf("%d pending, yet not reported interrupted", res.Pending)
			}
			if got := res.Deleted + res.Gone + len(res.Drift) + res.Pending; got != len(dels) {
				t.Errorf("deleted %d + gone %d + drift %d + pending %d = %d, want %d", res.Deleted, res.Gone, len(res.Drift), res.Pending, got, len(dels))
			}
			if res.Deleted != len(j.deleted) {
				t.Errorf("%d deleted, %d journaled", res.Deleted, len(j.deleted))
			}
			if at == 1 && res.Pending == 0 {
				t.Error("interrupted at the first delete, yet nothing pending")
			}
			if at == 0 && res.Pending != len(dels) {
				t.Errorf("interrupted before the start, yet %d of %d pending", res.Pending, len(dels))
			}
		})
	}
}
