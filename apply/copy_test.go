package apply

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/r2plan/r2plan/plan"
)

// copyBucket is memBucket with copies that record the order in which they start.
type copyBucket struct {
	*memBucket
	mu      sync.Mutex
	started []string
}

func (b *copyBucket) CopyAbsent(ctx context.Context, src, dst, srcETag string, size int64) (string, error) {
	b.mu.Lock()
	b.started = append(b.started, src)
	b.mu.Unlock()
	time.Sleep(time.Millisecond) // let the copies of two chunks overlap, if they may
	b.memBucket.mu.Lock()
	defer b.memBucket.mu.Unlock()
	b.objs[dst] = objStat{size, srcETag}
	return srcETag, nil
}

// movePlan is a plan of moves held in memory.
type movePlan struct{ moves []plan.Move }

func (p *movePlan) ID() string           { return "plan1" }
func (p *movePlan) Header() *plan.Header { return &plan.Header{} }
func (p *movePlan) Entries(fn func(plan.Entry) error) error {
	for i := range p.moves {
		if err := fn(plan.Entry{Move: &p.moves[i]}); err != nil {
			return err
		}
	}
	return nil
}

// copyJournal journals copies and has no rows to rewrite.
type copyJournal struct {
	Journal
	mu     sync.Mutex
	copies int
}

func (j *copyJournal) RecordCopies(ctx context.Context, planID string, copies []plan.Copied) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.copies += len(copies)
	return nil
}

// The copies of a chunk start only when every copy of the chunk before has started:
// the older chunk gets the pacer's slots first and finishes as early as it can, while
// the next one's listing is done ahead.
func TestCopiesStartInChunkOrder(t *testing.T) {
	const chunks, size = 12, 20
	b := &copyBucket{memBucket: &memBucket{objs: map[string]objStat{}}}
	var moves []plan.Move
	chunkOf := map[string]int{}
	for i := range chunks * size {
		key := fmt.Sprintf("characters/c%04d.webp", i)
		b.objs[key] = objStat{10, "e" + key}
		moves = append(moves, plan.Move{Key: key, Target: "dev/" + key, Size: 10, ETag: "e" + key, Copy: true})
		chunkOf[key] = i / size
	}
	j := &copyJournal{}
	res, err := Run(t.Context(), &movePlan{moves}, Deps{Bucket: b, Journal: j}, Options{Parallelism: 8, ChunkSize: size})
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != len(moves) || j.copies != len(moves) {
		t.Fatalf("copied %d, journaled %d, want %d", res.Copied, j.copies, len(moves))
	}
	last := 0
	for i, key := range b.started {
		if c := chunkOf[key]; c < last {
			t.Fatalf("copy %d (%s) of chunk %d started after a copy of chunk %d", i, key, c, last)
		} else {
			last = c
		}
	}
}
