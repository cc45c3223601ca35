package plan

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// keys streams n moves, keys k0000…, then fails with err if it is not nil.
func keys(n int, err error) func(func(Entry) error) error {
	return func(fn func(Entry) error) error {
		for i := range n {
			if ferr := fn(Entry{Move: &Move{Key: fmt.Sprintf("k%04d", i)}}); ferr != nil {
				return ferr
			}
		}
		return err
	}
}

// read reads stream to its end, or to its reader's error after stopAfter entries (-1:
// never), and returns the keys it saw.
func read(stream func(func(Entry) error) error, stopAfter int) ([]string, error) {
	var got []string
	err := stream(func(e Entry) error {
		if len(got) == stopAfter {
			return errors.New("reader stops")
		}
		got = append(got, e.Key())
		return nil
	})
	return got, err
}

func TestTeeEveryStreamGetsEveryEntryInOrder(t *testing.T) {
	n := 3*teeBatch + 7 // a short last batch
	var want []string
	keys(n, nil)(func(e Entry) error { want = append(want, e.Key()); return nil })
	streams, done := Tee(keys(n, nil), 2)
	var wg sync.WaitGroup
	got := make([][]string, 2)
	for i := range 2 {
		wg.Go(func() {
			defer done(i)
			var err error
			if got[i], err = read(streams[i], -1); err != nil {
				t.Errorf("stream %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i := range 2 {
		if !slices.Equal(got[i], want) {
			t.Errorf("stream %d: %d entries, want %d in order", i, len(got[i]), len(want))
		}
	}
}

// A reader that stops early, or never reads, must not hold up the other.
func TestTeeReaderGoneDoesNotBlockTheOther(t *testing.T) {
	n := 20 * teeBatch
	for _, stopAfter := range []int{0, teeBatch + 1, -2} { // -2: the stream is never read
		streams, done := Tee(keys(n, nil), 2)
		var wg sync.WaitGroup
		wg.Go(func() {
			defer done(1)
			if stopAfter == -2 {
				return
			}
			got, err := read(streams[1], stopAfter)
			if err == nil || len(got) != stopAfter {
				t.Errorf("stopAfter %d: the stopping reader got %d entries, %v", stopAfter, len(got), err)
			}
		})
		got, err := read(streams[0], -1)
		done(0)
		wg.Wait()
		if err != nil || len(got) != n {
			t.Errorf("stopAfter %d: the other reader got %d of %d entries, %v", stopAfter, len(got), n, err)
		}
	}
}

func TestTeeEntriesErrorReachesEveryStream(t *testing.T) {
	boom := errors.New("spill unreadable")
	streams, done := Tee(keys(teeBatch+3, boom), 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			defer done(i)
			if got, err := read(streams[i], -1); !errors.Is(err, boom) || len(got) != teeBatch+3 {
				t.Errorf("stream %d: %d entries, %v; want all and %v", i, len(got), err, boom)
			}
		})
	}
	wg.Wait()
}
