package plan

import (
	"errors"
	"sync"
)

// teeBatch is how many entries Tee hands over at once.
const teeBatch = 256

// errReadersGone stops Tee's reading once no stream is read any more.
var errReadersGone = errors.New("plan: no stream is read")

// Tee reads entries once, in a goroutine of its own, and hands every entry to each of n
// streams, in order: a plan's moves are rebuilt from the spill there, while each
// stream's reader (the plan file's writer, a view) does its own work on them. Each
// stream is read by one goroutine, at most once; it returns entries' error, or its
// reader's. done(i) says that stream i will not be read (any further): every reader
// calls it, even one that never read its stream, and the entries left skip it.
func Tee(entries func(func(Entry) error) error, n int) (streams []func(func(Entry) error) error, done func(i int)) {
	chans := make([]chan []Entry, n)
	gone := make([]chan struct{}, n)
	once := make([]sync.Once, n)
	for i := range n {
		chans[i] = make(chan []Entry, 4)
		gone[i] = make(chan struct{})
	}
	done = func(i int) { once[i].Do(func() { close(gone[i]) }) }
	var err error // set before chans close
	go func() {
		batch := make([]Entry, 0, teeBatch)
		flush := func() error {
			live := 0
			for i, ch := range chans {
				select {
				case ch <- batch:
					live++
				case <-gone[i]:
				}
			}
			batch = make([]Entry, 0, teeBatch)
			if live == 0 {
				return errReadersGone
			}
			return nil
		}
		err = entries(func(e Entry) error {
			if batch = append(batch, e); len(batch) == teeBatch {
				return flush()
			}
			return nil
		})
		if len(batch) > 0 && !errors.Is(err, errReadersGone) {
			if ferr := flush(); err == nil {
				err = ferr
			}
		}
		for _, ch := range chans {
			close(ch)
		}
	}()
	streams = make([]func(func(Entry) error) error, n)
	for i := range n {
		streams[i] = func(fn func(Entry) error) error {
			defer done(i)
			for batch := range chans[i] {
				for _, e := range batch {
					if ferr := fn(e); ferr != nil {
						return ferr
					}
				}
			}
			return err
		}
	}
	return streams, done
}
