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

// lockTable is the table of LockInfo.
const lockTable = "r2plan_lock"

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
		l.lastSeen())
}

// overlaps reports whether two holders may not apply at once: only shards of one plan
// may.
func (l *LockInfo) overlaps(planID, shard string) bool {
	return l.PlanID != planID || l.Shard == shard || l.Shard == "all" || shard == "all"
}

// stale reports whether a holder is gone: its heartbeat is older than ttl, or it ran on
// this host and its process no longer exists.
func (l *LockInfo) stale(ttl time.Duration, host string) bool {
	if !l.seenWithin(ttl) {
		return true
	}
	return l.Host == host && !pidAlive(l.PID)
}

// seenWithin reports whether the holder's heartbeat is at most ttl old.
func (l *LockInfo) seenWithin(ttl time.Duration) bool {
	return time.Since(time.Unix(l.Heartbeat, 0)) <= ttl
}

// live reports whether a holder may still be applying, and why: on this host, its
// process exists (whatever its heartbeat: a process that cannot reach the database is
// still running); on another host, it was seen within ttl.
func (l *LockInfo) live(ttl time.Duration, host string) (bool, string) {
	if l.Host == host && l.PID > 0 {
		if pidAlive(l.PID) {
			return true, fmt.Sprintf("its process (pid %d) is running on this host", l.PID)
		}
		return false, ""
	}
	if l.seenWithin(ttl) {
		return true, fmt.Sprintf("it was seen %s ago, less than %s ago", l.lastSeen(), ttl)
	}
	return false, ""
}

func (l *LockInfo) lastSeen() time.Duration {
	return time.Since(time.Unix(l.Heartbeat, 0)).Round(time.Second)
}

// pidAlive reports whether a process of this host has the id pid. Signal 0 checks
// without sending: EPERM means it exists but belongs to another user.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false // not a process id (0 and -1 would address groups)
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// A LockedError says who holds the lock.
type LockedError struct{ Holder LockInfo }

func (e *LockedError) Error() string {
	return fmt.Sprintf("another apply holds the lock (id %d): %s", e.Holder.ID, e.Holder.String())
}

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

// Release gives the lock up. A lock broken meanwhile (unlock --force) is already gone:
// that is no error.
func (l *Lock) Release(ctx context.Context) error {
	close(l.stop)
	<-l.done
	_, err := l.db.Bun().NewDelete().Model((*LockInfo)(nil)).Where("id = ?", l.id).Exec(ctx)
	return err
}

// Holders returns the holders of the apply lock, by id; none if no apply ever took it.
// It never writes.
func Holders(ctx context.Context, db *sqldb.DB) ([]LockInfo, error) {
	var holders []LockInfo
	if ok, err := tableExists(ctx, db, lockTable); err != nil || !ok {
		return nil, err
	}
	if err := db.Bun().NewSelect().Model(&holders).Order("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("read the apply lock: %w", err)
	}
	return holders, nil
}

// A LiveError says why a holder may still be applying, so its lock stays.
type LiveError struct {
	Holder LockInfo
	Why    string
}

func (e *LiveError) Error() string {
	return fmt.Sprintf("lock %d may belong to a live apply: %s; %s", e.Holder.ID, e.Why, e.Holder.String())
}

// An UnknownLockError says no holder has the id.
type UnknownLockError struct{ ID int64 }

func (e *UnknownLockError) Error() string {
	return fmt.Sprintf("no apply holds a lock with id %d", e.ID)
}

// Break removes the lock with the given id and returns its holder, for an operator who
// knows that apply is dead. It refuses, with a *LiveError, while the holder may still
// be applying: its process runs on this host, or (on another host) it was seen within
// ttl; force removes it anyway. An id no holder has is an *UnknownLockError.
//
// A live apply whose lock was forced away keeps running: its heartbeat and its release
// then match no row, and another apply may start beside it.
func Break(ctx context.Context, db *sqldb.DB, id int64, ttl time.Duration, force bool) (LockInfo, error) {
	var h LockInfo
	if ok, err := tableExists(ctx, db, lockTable); err != nil {
		return h, err
	} else if !ok {
		return h, &UnknownLockError{ID: id}
	}
	host, _ := os.Hostname()
	err := db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := serialise(ctx, db, tx); err != nil {
			return err
		}
		var found []LockInfo
		if err := tx.NewSelect().Model(&found).Where("id = ?", id).Scan(ctx); err != nil {
			return err
		}
		if len(found) == 0 {
			return &UnknownLockError{ID: id}
		}
		h = found[0]
		if live, why := h.live(ttl, host); live && !force {
			return &LiveError{Holder: h, Why: why}
		}
		_, err := tx.NewDelete().Model((*LockInfo)(nil)).Where("id = ?", id).Exec(ctx)
		return err
	})
	var le *LiveError
	var ue *UnknownLockError
	switch {
	case errors.As(err, &le):
		return h, le
	case errors.As(err, &ue):
		return h, ue
	case err != nil:
		return h, fmt.Errorf("break the apply lock: %w", err)
	}
	return h, nil
}

// Live reports whether a holder may still be applying (see Break), and why.
func (l *LockInfo) Live(ttl time.Duration) (bool, string) {
	host, _ := os.Hostname()
	return l.live(ttl, host)
}
