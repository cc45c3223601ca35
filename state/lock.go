package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"syscall"
	"time"

	"github.com/uptrace/bun"

	"github.com/r2plan/r2plan/providers/sqldb"
)

// LockInfo is one holder of the apply lock: a row of r2plan_lock.
type LockInfo struct {
	bun.BaseModel `bun:"table:r2plan_lock"`

	ID        int64     `bun:"id,pk,autoincrement"`
	PlanID    string    `bun:"plan_id,notnull"`
	Shard     string    `bun:"shard,notnull"` // "all" or "i/n"
	Holder    string    `bun:"holder,notnull"`
	Host      string    `bun:"host,notnull"`
	PID       int       `bun:"pid,notnull"`
	StartedAt time.Time `bun:"started_at,notnull"`
	Heartbeat int64     `bun:"heartbeat_unix,notnull"` // seconds since the epoch
}

func (l *LockInfo) String() string {
	return fmt.Sprintf("plan %s (shard %s) applied by %s on %s (pid %d) since %s, last seen %s ago",
		l.PlanID, l.Shard, l.Holder, l.Host, l.PID, l.StartedAt.UTC().Format(time.RFC3339),
		time.Since(time.Unix(l.Heartbeat, 0)).Round(time.Second))
}

// overlaps reports whether two holders may not apply at once: only shards of one plan
// may.
func (l *LockInfo) overlaps(planID, shard string) bool {
	return l.PlanID != planID || l.Shard == shard || l.Shard == "all" || shard == "all"
}

// stale reports whether a holder is gone: its heartbeat is older than ttl, or it ran on
// this host and its process no longer exists.
func (l *LockInfo) stale(ttl time.Duration, host string) bool {
	if time.Since(time.Unix(l.Heartbeat, 0)) > ttl {
		return true
	}
	if l.Host == host {
		err := syscall.Kill(l.PID, 0)
		return errors.Is(err, syscall.ESRCH)
	}
	return false
}

// A LockedError says who holds the lock.
type LockedError struct{ Holder LockInfo }

func (e *LockedError) Error() string { return "another apply holds the lock: " + e.Holder.String() }

// Lock is a held apply lock; its heartbeat runs until Release.
type Lock struct {
	db   *sqldb.DB
	id   int64
	stop chan struct{}
	done chan struct{}
}

// Acquire takes the apply lock for a plan's shard ("all" for a whole plan), or returns a
// *LockedError naming the holder. Holders whose heartbeat is older than ttl, or whose
// process on this host is gone, are removed first: a killed apply does not block the
// next one.
func Acquire(ctx context.Context, db *sqldb.DB, planID, shard string, ttl time.Duration) (*Lock, error) {
	if err := ensureTables(ctx, db); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	now := time.Now()
	me := LockInfo{PlanID: planID, Shard: shard, Holder: who, Host: host, PID: os.Getpid(), StartedAt: now.UTC(), Heartbeat: now.Unix()}
	err := db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := serialise(ctx, db, tx); err != nil {
			return err
		}
		var holders []LockInfo
		if err := tx.NewSelect().Model(&holders).Scan(ctx); err != nil {
			return err
		}
		for _, h := range holders {
			if h.stale(ttl, host) {
				if _, err := tx.NewDelete().Model((*LockInfo)(nil)).Where("id = ?", h.ID).Exec(ctx); err != nil {
					return err
				}
				continue
			}
			if h.overlaps(planID, shard) {
				return &LockedError{Holder: h}
			}
		}
		_, err := tx.NewInsert().Model(&me).Returning("id").Exec(ctx)
		return err
	})
	if err != nil {
		var le *LockedError
		if errors.As(err, &le) {
			return nil, le
		}
		return nil, fmt.Errorf("take the apply lock: %w", err)
	}
	l := &Lock{db: db, id: me.ID, stop: make(chan struct{}), done: make(chan struct{})}
	go l.heartbeat(ttl / 4)
	return l, nil
}

func (l *Lock) heartbeat(every time.Duration) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			l.db.Bun().NewUpdate().Model((*LockInfo)(nil)).Set("heartbeat_unix = ?", time.Now().Unix()).Where("id = ?", l.id).Exec(ctx)
			cancel()
		}
	}
}

// Release gives the lock up.
func (l *Lock) Release(ctx context.Context) error {
	close(l.stop)
	<-l.done
	_, err := l.db.Bun().NewDelete().Model((*LockInfo)(nil)).Where("id = ?", l.id).Exec(ctx)
	return err
}

// Break removes every holder of the lock, for an operator who knows they are dead, and
// returns them.
func Break(ctx context.Context, db *sqldb.DB) ([]LockInfo, error) {
	var holders []LockInfo
	if ok, err := tableExists(ctx, db, "r2plan_lock"); err != nil || !ok {
		return nil, err
	}
	err := db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewSelect().Model(&holders).Scan(ctx); err != nil {
			return err
		}
		_, err := tx.NewDelete().Model((*LockInfo)(nil)).Where("1 = 1").Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("break the apply lock: %w", err)
	}
	return holders, nil
}
