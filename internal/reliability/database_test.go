package reliability

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	fp "github.com/r2plan/r2plan/internal/faultproxy"
	"github.com/r2plan/r2plan/plan"
	"os"
)

// planned reads the plan's rewrites: "Table.column[pk]" → old and new value.
func (w *world) planned() map[string][2]string {
	f, err := os.Open(w.planPath)
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	out := map[string][2]string{}
	var hdr plan.Header
	hdr, _, err = plan.Read(f, func(e plan.Entry) error {
		if e.Move != nil {
			for _, rw := range e.Move.Rewrites {
				out[rw.Reference+"."+rw.Column+"["+rw.PK+"]"] = [2]string{rw.Old, rw.New}
			}
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	_ = hdr
	return out
}

var tableOf = map[string]string{"character_image": "CharacterImage", "story_cover": "Story", "curated_image": "CuratedImage"}

// checkBatches checks that no batch is half applied: every planned rewrite's row holds
// its old or its new value, and a journal rewrite entry exists exactly for those that
// hold the new one (a batch and its journal entries commit together or not at all).
func (w *world) checkBatches(skip map[string]bool) {
	t := w.t
	ctx := t.Context()
	journaled := map[string]bool{}
	rows, err := w.db.QueryContext(ctx, `SELECT reference, column_name, e->>0 FROM r2plan_journal, json_array_elements(batch_rows::json) AS e WHERE action = 'rewrites'`)
	if err != nil {
		t.Fatalf("journal: %v", err)
	}
	for rows.Next() {
		var ref, col, pk string
		rows.Scan(&ref, &col, &pk)
		journaled[ref+"."+col+"["+pk+"]"] = true
	}
	rows.Close()
	half := 0
	for id, ov := range w.planned() {
		if skip[id] {
			continue
		}
		ref, rest, _ := strings.Cut(id, ".")
		col, pk, _ := strings.Cut(rest, "[")
		pk = strings.TrimSuffix(pk, "]")
		var v sql.NullString
		if err := w.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT "%s" FROM "%s" WHERE "id" = $1`, col, tableOf[ref]), pk).Scan(&v); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		switch {
		case v.String == ov[1] && !journaled[id]:
			half++
			t.Errorf("HALF-APPLIED: %s holds the new value with no journal entry", id)
		case v.String == ov[0] && journaled[id]:
			half++
			t.Errorf("HALF-APPLIED: %s has a journal entry but still holds the old value", id)
		case v.String != ov[0] && v.String != ov[1]:
			t.Errorf("%s holds %q, neither the old nor the new value", id, v.String)
		}
	}
	if half > 0 {
		w.sum.Dangling += 0 // reported above; the table counts references
	}
}

// TestPostgresRestart restarts PostgreSQL in the middle of an apply, and in another run
// terminates its connections repeatedly: the apply fails or completes, no batch is half
// applied, the checker finds nothing dangling, and a rerun completes to a fault-free
// run's end state.
func TestPostgresRestart(t *testing.T) {
	n := size()
	for _, mode := range []string{"restart", "terminate"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t, "database: "+mode+" PostgreSQL mid-apply", n, fp.Options{
				// Slow the copies a little so the database fault lands mid-run.
				Rates: map[fp.Kind]fp.Rates{fp.KindCopy: {fp.Delay: 1}, fp.KindHead: {fp.Delay: 1}}, MaxDelay: 10 * time.Millisecond,
			})
			w.plan()
			done := make(chan result, 1)
			go func() { done <- w.apply(0, nil, "--parallelism=4", "--batch-size=5") }()
			ctx := t.Context()
			// Wait for the first committed batch, then strike.
			deadline := time.Now().Add(60 * time.Second)
			for time.Now().Before(deadline) {
				var c int
				if w.db.QueryRowContext(ctx, `SELECT count(*) FROM r2plan_journal WHERE action = 'rewrites'`).Scan(&c) == nil && c > 0 {
					break
				}
				if w.px.Stats().Requests[fp.KindCopy] > 40 && mode == "restart" {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			switch mode {
			case "restart":
				if err := pgsrv.Restart(ctx, 300*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				w.sum.Faults++
			case "terminate":
				for range 5 {
					k, err := pgsrv.TerminateBackends(ctx, "")
					if err != nil {
						t.Fatal(err)
					}
					w.sum.Faults += int64(k)
					time.Sleep(100 * time.Millisecond)
				}
			}
			r := <-done
			t.Logf("apply with the database fault exited %d:\n%s", r.code, tail(r.stderr, 1200))
			w.db.Close()
			w.db = reopen(t, w.dbURL)
			w.check()
			w.checkBatches(nil)
			w.px.SetAllRates(nil)
			w.applyUntilDone(2)
			w.checkBatches(nil)
			w.noChanges()
			w.finish(n, true)
		})
	}
}

func reopen(t *testing.T, u string) *sql.DB {
	db := openDB(u)
	t.Cleanup(func() { db.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for db.PingContext(t.Context()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the database does not come back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return db
}

// TestApplicationKeepsWriting runs apply while the application inserts new rows with
// dev/ keys and updates planned rows: the inserts are untouched, the updated rows keep
// the application's values (reported as drift, exit 1), and everything else is applied.
func TestApplicationKeepsWriting(t *testing.T) {
	n := size()
	w := newWorld(t, "database: the application writes during apply", n, fp.Options{
		Rates: map[fp.Kind]fp.Rates{fp.KindCopy: {fp.Delay: 1}}, MaxDelay: 10 * time.Millisecond,
	})
	w.plan()
	planned := w.planned()
	var targets []string // CharacterImage rows with a planned key rewrite
	for id := range planned {
		if strings.HasPrefix(id, "character_image.key[") {
			targets = append(targets, strings.TrimSuffix(strings.TrimPrefix(id, "character_image.key["), "]"))
		}
	}
	if len(targets) < 10 {
		t.Fatalf("only %d planned key rewrites", len(targets))
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	inserted := map[string]string{} // id → key
	updated := map[string]string{}
	var mu sync.Mutex
	wg.Go(func() {
		for i := 0; ctx.Err() == nil && i < 200; i++ {
			key := fmt.Sprintf("dev/characters/new%d/avatars/fresh %d.webp", i, i)
			if err := w.direct.Put(ctx, key, []byte("new "+key), "image/webp", "", nil); err != nil {
				return
			}
			id := fmt.Sprintf("new%04d", i)
			if _, err := w.db.ExecContext(ctx, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES ($1, 'new', $2, $3)`,
				id, publicURL+"/"+escapeKey(key), key); err != nil {
				return
			}
			mu.Lock()
			inserted[id] = key
			if i%5 == 0 && i/5 < len(targets) { // the app re-uploads a planned row's image
				pk := targets[i/5]
				if _, err := w.db.ExecContext(ctx, `UPDATE "CharacterImage" SET "key" = $1, "url" = $2 WHERE "id" = $3`,
					key, publicURL+"/"+escapeKey(key), pk); err == nil {
					updated[pk] = key
				}
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	})
	r := w.apply(0, nil, "--parallelism=4", "--batch-size=5")
	cancel()
	wg.Wait()
	t.Logf("apply while the application writes exited %d; %d rows inserted, %d planned rows updated:\n%s",
		r.code, len(inserted), len(updated), tail(r.stderr, 1500))
	w.check()
	if len(updated) > 0 && r.code == 0 {
		t.Logf("no updated row reached drift before the apply rewrote it (all updates came after)")
	}
	for id, key := range inserted {
		var got string
		w.db.QueryRowContext(t.Context(), `SELECT "key" FROM "CharacterImage" WHERE "id" = $1`, id).Scan(&got)
		if _, isUpdated := updated[id]; !isUpdated && got != key {
			t.Errorf("CLOBBERED: inserted row %s holds %q, the application wrote %q", id, got, key)
		}
	}
	for pk, key := range updated {
		var got string
		w.db.QueryRowContext(t.Context(), `SELECT "key" FROM "CharacterImage" WHERE "id" = $1`, pk).Scan(&got)
		if got != key {
			t.Errorf("CLOBBERED: row %s was updated by the application to %q and now holds %q", pk, key, got)
		}
	}
	skip := map[string]bool{}
	for pk := range updated {
		skip["character_image.key["+pk+"]"] = true
		skip["character_image.url["+pk+"]"] = true
	}
	w.checkBatches(skip)
	if len(updated) > 0 && r.code == 0 && !strings.Contains(r.stderr, "rift") {
		t.Logf("note: apply reported no drift for %d updated rows", len(updated))
	}
	w.sum.Faults += int64(len(inserted) + len(updated))
	w.finish(n, false)
}
