package sqldb

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type scanned struct {
	PK     string
	Values []*string
}

func scanAll(t *testing.T, db *DB, table Table, pk string, columns []string, where string) ([]scanned, error) {
	t.Helper()
	var got []scanned
	err := db.Scan(t.Context(), table, pk, columns, where, func(pk string, values []*string) error {
		got = append(got, scanned{pk, values})
		return nil
	})
	slices.SortFunc(got, func(a, b scanned) int { return strings.Compare(a.PK, b.PK) })
	return got, err
}

func TestScan(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *DB) {
		truth := "true"
		if db.Dialect() == SQLite {
			truth = "1"
		}
		insertRows(t, db, Table{Name: "CuratedImage"}, []string{"id", "r2Url", "r2Key", "uploadedToR2"}, [][]any{
			{"a", "https://cdn/x/a.png", "x/a.png", true},
			{"b", nil, nil, false},
			{"c", "https://cdn/x/c.png", nil, true},
			{"d", "https://cdn/x/d.png", "x/d.png", false},
		})
		mustExec(t, db, `CREATE TABLE "Weird ""Name""" ("the ""id""" INTEGER PRIMARY KEY, "imageUrl" TEXT)`)
		insertRows(t, db, Table{Name: `Weird "Name"`}, []string{`the "id"`, "imageUrl"}, [][]any{{7, "u7"}, {42, nil}})

		tests := map[string]struct {
			table   Table
			pk      string
			columns []string
			where   string
			want    []scanned
		}{
			"all rows with NULLs": {
				table: Table{Name: "CuratedImage"}, pk: "id", columns: []string{"r2Url", "r2Key"},
				want: []scanned{
					{"a", []*string{ptr("https://cdn/x/a.png"), ptr("x/a.png")}},
					{"b", []*string{nil, nil}},
					{"c", []*string{ptr("https://cdn/x/c.png"), nil}},
					{"d", []*string{ptr("https://cdn/x/d.png"), ptr("x/d.png")}},
				},
			},
			"filter": {
				table: Table{Name: "CuratedImage"}, pk: "id", columns: []string{"r2Key", "uploadedToR2"},
				where: `"uploadedToR2" = true`,
				want: []scanned{
					{"a", []*string{ptr("x/a.png"), ptr(truth)}},
					{"c", []*string{nil, ptr(truth)}},
				},
			},
			"filter naming the alias": {
				table: Table{Name: "CuratedImage"}, pk: "id", columns: []string{"r2Key"},
				where: `r2t."uploadedToR2" = false AND r2t."r2Key" IS NOT NULL`,
				want:  []scanned{{"d", []*string{ptr("x/d.png")}}},
			},
			"filter with a trailing comment": {
				table: Table{Name: "CuratedImage"}, pk: "id", columns: []string{"r2Key"},
				where: `"r2Key" IS NOT NULL -- only keyed rows`,
				want: []scanned{
					{"a", []*string{ptr("x/a.png")}},
					{"d", []*string{ptr("x/d.png")}},
				},
			},
			"integer pk, quoted names": {
				table: Table{Name: `Weird "Name"`}, pk: `the "id"`, columns: []string{"imageUrl"},
				want: []scanned{
					{"42", []*string{nil}},
					{"7", []*string{ptr("u7")}},
				},
			},
			"no columns": {
				table: Table{Name: `Weird "Name"`}, pk: `the "id"`, where: `"imageUrl" IS NULL`,
				want: []scanned{{"42", []*string{}}},
			},
		}
		for name, tt := range tests {
			t.Run(name, func(t *testing.T) {
				got, err := scanAll(t, db, tt.table, tt.pk, tt.columns, tt.where)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Scan mismatch (-want +got):\n%s", diff)
				}
				// ScanMarked visits every row and marks those Scan returns.
				all, err := scanAll(t, db, tt.table, tt.pk, tt.columns, "")
				if err != nil {
					t.Fatal(err)
				}
				var visited, selected []scanned
				err = db.ScanMarked(t.Context(), tt.table, tt.pk, tt.columns, tt.where, func(pk string, values []*string, sel bool) error {
					visited = append(visited, scanned{pk, values})
					if sel {
						selected = append(selected, scanned{pk, values})
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				byPK := func(a, b scanned) int { return strings.Compare(a.PK, b.PK) }
				slices.SortFunc(visited, byPK)
				slices.SortFunc(selected, byPK)
				if diff := cmp.Diff(all, visited); diff != "" {
					t.Errorf("ScanMarked rows (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.want, selected, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("ScanMarked selected (-want +got):\n%s", diff)
				}
			})
		}

		t.Run("bad where", func(t *testing.T) {
			_, err := scanAll(t, db, Table{Name: "CuratedImage"}, "id", []string{"nope"}, "")
			if err == nil || !strings.Contains(err.Error(), `scan table "CuratedImage"`) {
				t.Errorf("Scan = %v", err)
			}
		})
	})
}

func TestScanStreams(t *testing.T) {
	const n = 5000
	forEachDialect(t, func(t *testing.T, db *DB) {
		rows := make([][]any, n)
		for i := range rows {
			rows[i] = []any{fmt.Sprintf("img%05d", i), fmt.Sprintf("char%d", i%7), fmt.Sprintf("https://cdn/images/%05d.webp", i), fmt.Sprintf("images/%05d.webp", i)}
		}
		insertRows(t, db, Table{Name: "CharacterImage"}, []string{"id", "characterId", "url", "key"}, rows)

		seen := make(map[string]bool, n)
		err := db.Scan(t.Context(), Table{Name: "CharacterImage"}, "id", []string{"url", "key"}, "", func(pk string, values []*string) error {
			if seen[pk] {
				return fmt.Errorf("pk %s twice", pk)
			}
			seen[pk] = true
			i := strings.TrimPrefix(pk, "img")
			want := []*string{ptr("https://cdn/images/" + i + ".webp"), ptr("images/" + i + ".webp")}
			if diff := cmp.Diff(want, values); diff != "" {
				return fmt.Errorf("row %s (-want +got):\n%s", pk, diff)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != n {
			t.Errorf("scanned %d rows, want %d", len(seen), n)
		}

		// fn's error stops the scan at once and comes back unchanged.
		stop := errors.New("stop")
		calls := 0
		err = db.Scan(t.Context(), Table{Name: "CharacterImage"}, "id", []string{"url"}, "", func(string, []*string) error {
			calls++
			if calls == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 10 {
			t.Errorf("Scan = %v after %d calls, want stop after 10", err, calls)
		}

		// The connection is free again: the pool still answers.
		if err := db.Check(t.Context(), Table{Name: "CharacterImage"}, "id", []string{"url"}); err != nil {
			t.Error(err)
		}
	})
}
