package plan

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestActionText(t *testing.T) {
	for a := ActionCopy; a <= ActionDangling; a++ {
		b, err := a.MarshalText()
		if err != nil || string(b) != a.String() {
			t.Errorf("%d.MarshalText() = %q, %v; want %q", a, b, err, a.String())
		}
		var back Action
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", b, back, err, a)
		}
	}
	if _, err := Action(0).MarshalText(); err == nil {
		t.Error("the zero Action marshalled")
	}
	var a Action
	if err := a.UnmarshalText([]byte("move")); err == nil {
		t.Error(`UnmarshalText("move") succeeded`)
	}
}

// Every kind of entry has one action, and the JSON of an entry is its plan file line,
// read back the same.
func TestEntryCodec(t *testing.T) {
	modified := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]struct {
		e      Entry
		action Action
		line   string
	}{
		"copy": {Entry{Move: &Move{Key: "a<b>&c", Target: "dev/a<b>&c", Size: 3, ETag: "e", Copy: true,
			Rewrites: []Rewrite{{Reference: "r", Column: "k", PK: "1", Old: "a<b>&c", New: "dev/a<b>&c"}}}}, ActionCopy,
			`{"type":"move","key":"a<b>&c","target":"dev/a<b>&c","size":3,"etag":"e","copy":true,"rewrites":[{"reference":"r","column":"k","pk":"1","old":"a<b>&c","new":"dev/a<b>&c"}]}`},
		"rewrite only": {Entry{Move: &Move{Key: "a", Target: "dev/a", Size: 1, ETag: "e", TargetETag: "e"}}, ActionRewrite,
			`{"type":"move","key":"a","target":"dev/a","size":1,"etag":"e","copy":false,"target_etag":"e"}`},
		"delete": {Entry{Delete: &Deletion{Key: "a", Reason: ReasonOrphan, Size: 1, ETag: "e", Modified: modified}}, ActionDelete,
			`{"type":"delete","key":"a","reason":"orphan","size":1,"etag":"e","modified":"2026-01-02T03:04:05Z"}`},
		"conflict": {Entry{Conflict: &Conflict{Key: "a", Target: "dev/a", Reason: ReasonTargetDiffers}}, ActionConflict,
			`{"type":"conflict","key":"a","target":"dev/a","reason":"target exists with different content","size":0,"etag":"","target_size":0,"target_etag":"","rows":0}`},
		"dangling": {Entry{Dangling: &Dangling{Reference: "r", Column: "k", PK: "1", Value: "x", Key: "x"}}, ActionDangling,
			`{"type":"dangling","reference":"r","column":"k","pk":"1","value":"x","key":"x"}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.e.Action(); got != tc.action {
				t.Errorf("Action() = %v, want %v", got, tc.action)
			}
			b, err := tc.e.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.line, string(b)); diff != "" {
				t.Errorf("line (-want +got):\n%s", diff)
			}
			var back Entry
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.e, back); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := (Entry{}).MarshalJSON(); err == nil {
		t.Error("an empty entry marshalled")
	}
}
