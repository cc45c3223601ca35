package plan

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRowsAheadReadsBackEveryRow(t *testing.T) {
	refs := []Reference{
		{Name: "image", Table: "CharacterImage", PrimaryKey: "id", KeyColumn: "key", URLColumn: "url"},
		{Name: "story", Table: "Story", PrimaryKey: "id", URLColumn: "coverImage"},
		{Name: "empty", Table: "Nothing", PrimaryKey: "id", KeyColumn: "k"},
	}
	long := strings.Repeat("é/", 70_000) // longer than the read buffer
	want := map[string][]Row{
		"image": {
			{PK: "1", Values: []*string{ptr("characters/1/a.webp"), ptr("https://media.charhub.app/characters/1/a.webp")}},
			{PK: "", Values: []*string{nil, ptr("")}}, // an empty key, a NULL and an empty string
			{PK: "3", Values: []*string{ptr(long), nil}, Outside: true},
		},
		"story": {{PK: "s1", Values: []*string{ptr("https://media.charhub.app/a b+c.webp")}}},
	}
	a := startRowsAhead(refs, func(_ context.Context, ref Reference, yield func(Row) error) error {
		for _, r := range want[ref.Name] {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	})
	defer a.stop()
	rows := a.rows()
	if rows == nil {
		t.Fatalf("the early read failed: %v", a.err)
	}
	for i, ref := range refs {
		var got []Row
		if err := rows(i, func(r Row) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[ref.Name], got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", ref.Name, diff)
		}
	}
	if err := rows(0, func(Row) error { return nil }); err == nil {
		t.Error("a reference read back out of order: no error")
	}
}

// An early read that fails, or that holds too much, gives way to a read after the
// listing, and the plan is the same; one that succeeds is the only read.
func TestMakeRowsAheadDropped(t *testing.T) {
	objects := []Object{
		{Key: "characters/1/a.webp", Size: 3, ETag: `"e1"`},
		{Key: "a b+c.webp", Size: 4, ETag: `"e2"`},
		{Key: "dev/b.webp", Size: 5, ETag: `"e3"`},
	}
	refs := map[string][]Row{
		"image": {
			{PK: "1", Values: []*string{ptr("characters/1/a.webp"), ptr("https://media.charhub.app/characters/1/a.webp?v=1")}},
			{PK: "2", Values: []*string{nil, ptr("https://media.charhub.app/a%20b%2Bc.webp")}},
			{PK: "3", Values: []*string{ptr("gone.webp"), nil}},
		},
		"story": {{PK: "s1", Values: []*string{ptr("https://media.charhub.app/dev/b.webp")}}},
	}
	want, err := makeInMemory(t, inputs(objects, refs))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		maxBytes  int64
		failOnce  bool
		wantCalls int32
	}{
		{name: "used", maxBytes: rowsAheadMaxBytes, wantCalls: 2},
		{name: "fails", maxBytes: rowsAheadMaxBytes, failOnce: true, wantCalls: 3},
		{name: "too much", maxBytes: 40, wantCalls: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(n int64) { rowsAheadMaxBytes = n }(rowsAheadMaxBytes)
			rowsAheadMaxBytes = tc.maxBytes
			in := inputs(objects, refs)
			read := in.Rows
			var calls atomic.Int32
			in.Rows = func(ctx context.Context, ref Reference, yield func(Row) error) error {
				if calls.Add(1) == 1 && tc.failOnce {
					return errors.New("connection reset")
				}
				return read(ctx, ref, yield)
			}
			got, err := makeInMemory(t, in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.Moves, got.Moves); diff != "" {
				t.Errorf("moves (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want.Dangling, got.Dangling); diff != "" {
				t.Errorf("dangling (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want.Header.Summary, got.Header.Summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			if n := calls.Load(); n != tc.wantCalls {
				t.Errorf("Rows called %d times, want %d (the early read, then each reference again if it was dropped)", n, tc.wantCalls)
			}
		})
	}
}
