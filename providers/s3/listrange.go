package s3

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ListRanges is List with the key space under prefix cut into ranges that up to
// workers goroutines list at once. S3 lists in byte order, so the keys k with
// after < k <= upto are one ListObjectsV2 walk from StartAfter=after, stopped at the
// first key past upto; no delimiter or common prefix is needed, and a bucket whose keys
// all share one prefix is split as well as any.
//
// The ranges are found while listing (work stealing): one worker lists the first page;
// every worker left without a range then takes the back part of the busiest range, cut
// at a point estimated from the keys its owner has seen so far. A range the owner
// still has a lot of (far more than its pages so far suggest) is cut close to where the
// owner is, a few pages ahead, and further cuts of the part left behind home in on
// where the keys are; a range with a few dozen pages left is cut in the middle. A range
// that holds nothing costs one request. A cut is made only between two positions of
// one range, under a lock, and the owner drops the keys of a page in flight that now
// belong to the range after the cut, so every key is listed exactly once. A range
// that ends within a page, by its owner's keys, asks for about twice the keys it has
// left rather than a whole page, whose rest the next range lists again (pageKeys).
//
// workers is a cap, not a level: how many ranges are listed at once follows the pages'
// latency (see ramp). Where the server is far away (R2: hundreds of milliseconds a page)
// a page takes as long with sixteen in flight as with one, and the level reaches the
// cap within a few pages; where the server's CPU is the limit (loopback) more pages at
// once only make each slower, and the level stays low, with fewer pages held in memory.
//
// fn is called from one goroutine at a time, in no particular order of keys, and never
// again after it returned an error (which ListRanges returns). A page that is not in
// byte order (a server that does not keep S3's promise) is an error: ranges could then
// miss keys. workers <= 1 is List.
func (b *Bucket) ListRanges(ctx context.Context, prefix string, workers int, fn func(key string, size int64, etag string, modified time.Time) error) error {
	if workers <= 1 {
		return b.List(ctx, prefix, fn)
	}
	return b.listRanges(ctx, prefix, &ramp{limit: 1, max: workers}, listPageSize, nil, fn)
}

// listRanges is ListRanges with pages of pageSize keys, at most level.max ranges at
// once, as many as level allows; cuts, if set, is told every cut point (for tests).
func (b *Bucket) listRanges(ctx context.Context, prefix string, level *ramp, pageSize int, cuts func(string), fn func(key string, size int64, etag string, modified time.Time) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := level.max
	l := &rangeLister{b: b, prefix: prefix, pageSize: pageSize, cuts: cuts, fn: fn, level: level}
	l.cond = sync.NewCond(&l.mu)
	// The first range is the whole prefix; it starts owned, so that the others wait for
	// its first page before cutting it.
	first := &keyRange{after: "", upto: "", open: true, owned: true}
	if prefix != "" {
		// Keys under prefix sort after every proper prefix of it: the prefix itself with
		// its last byte dropped is a StartAfter before all of them.
		first.after = prefix[:len(prefix)-1]
	}
	l.ranges = []*keyRange{first}
	// Counted before any worker starts: a worker that found no range active and none
	// pending would return at once, leaving the listing to fewer workers.
	l.active = 1
	seedCtx, seedCancel := context.WithCancel(ctx)
	seeded := make(chan struct{})
	go func() {
		defer close(seeded)
		l.seed(seedCtx)
	}()
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r *keyRange
			if i == 0 {
				r = first
			}
			l.work(ctx, r, cancel)
		}()
	}
	wg.Wait()
	seedCancel()
	<-seeded
	return l.err
}

// seed lists the first level under the prefix (delimiter "/") beside the first page and
// cuts the ranges where each folder but the first begins, into ranges that wait for a
// worker: a bucket of a few folders is listed folder by folder from the second round on,
// where estimates from the first page alone (which sees only the first folder) could
// only guess where the keys end. Then, one request each and at once, the second level
// of those folders, and the same for each that holds a few folders (at most
// seedSubfolders entries, not cut short): "dev/" of dev/characters/, dev/curated/ and
// dev/stories/, or the "prod/" that holds a whole bucket after its move, whose keys an
// estimate from the first subfolder's would place in that subfolder alone. At most as
// many cuts as workers at each level, spread over the folders. It is a hint: an error
// leaves the ranges as they are.
//
// A level listed in full also bounds the ranges (splitAll): a range that can hold keys
// of one of its folders only is listed with that folder as the prefix, so that the
// server stops at the folder's end instead of reading on into the next range's keys.
func (l *rangeLister) seed(ctx context.Context) {
	start := time.Now()
	top, err := l.folders(ctx, l.prefix, l.pageSize)
	if err != nil || len(top.folders) == 0 {
		return
	}
	// An answer that slow says the server is far: its ranges need not wait for the
	// first page's to say it too.
	l.mu.Lock()
	l.level.far(time.Since(start))
	l.mu.Unlock()
	l.splitAll(top.folders[1:], top)
	if len(top.folders) > l.level.max {
		return
	}
	subs := make([]folderLevel, len(top.folders))
	var wg sync.WaitGroup
	for i, f := range top.folders {
		wg.Go(func() {
			if sub, err := l.folders(ctx, f, seedSubfolders); err == nil && sub.complete {
				subs[i] = sub
			}
		})
	}
	wg.Wait()
	var more []string
	for _, sub := range subs {
		if len(sub.folders) > 1 {
			more = append(more, sub.folders[1:]...)
		}
	}
	// The first level again: it bounds the ranges these cuts made.
	l.splitAll(more, append([]folderLevel{top}, subs...)...)
}

// seedSubfolders is the most entries (keys and folders) a folder's first level may have
// for seed to cut at its folders.
const seedSubfolders = 100

// folderLevel is the first level under a prefix, as a listing with delimiter "/" gives
// it: every key under the prefix is one of keys or lies under one of folders, if
// complete.
type folderLevel struct {
	prefix   string
	folders  []string
	keys     []string
	complete bool // the listing was not cut short
}

// folders lists the first level under prefix, in a request of at most max entries.
func (l *rangeLister) folders(ctx context.Context, prefix string, max int) (folderLevel, error) {
	page, err := l.b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:    aws.String(l.b.opts.Bucket),
		Prefix:    aws.String(prefix),
		Delimiter: aws.String("/"),
		MaxKeys:   aws.Int32(int32(max)),
	})
	if err != nil {
		return folderLevel{}, err
	}
	lv := folderLevel{prefix: prefix, complete: !aws.ToBool(page.IsTruncated)}
	for _, cp := range page.CommonPrefixes {
		lv.folders = append(lv.folders, aws.ToString(cp.Prefix))
	}
	for _, o := range page.Contents {
		lv.keys = append(lv.keys, aws.ToString(o.Key))
	}
	return lv, nil
}

// only is the folder of lv that the keys of (after, upto] (no upper end if open) all
// lie under, if lv says so: the range holds none of lv's keys and can hold keys of one
// of its folders only. The range's keys must all be under lv.prefix.
func (lv folderLevel) only(after, upto string, open bool) (string, bool) {
	if !lv.complete {
		return "", false
	}
	for _, k := range lv.keys {
		if k > after && (open || k <= upto) {
			return "", false
		}
	}
	var only string
	n := 0
	for _, f := range lv.folders {
		// The keys under f are f followed by anything: all above upto when f is, all
		// below after when after sorts past f without being under it.
		if !open && f > upto || after > f && !strings.HasPrefix(after, f) {
			continue
		}
		only = f
		n++
	}
	if n != 1 {
		return "", false
	}
	return only, true
}

// splitAll cuts the ranges where each of folders begins (at most as many as workers,
// spread over them), bounds every range by the levels listed in full, and wakes the
// workers.
func (l *rangeLister) splitAll(folders []string, levels ...folderLevel) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(len(folders), l.level.max)
	for i := range n {
		p := folders[i*len(folders)/n]
		// Every key of the folder sorts after the folder's name without its "/".
		l.split(p[:len(p)-1])
	}
	for _, lv := range levels {
		for _, r := range l.ranges {
			if r.done || !strings.HasPrefix(l.pagePrefix(r), lv.prefix) {
				continue // it may hold keys that lv does not describe
			}
			if f, ok := lv.only(r.after, r.upto, r.open); ok {
				r.within = f
			}
		}
	}
	l.cond.Broadcast()
}

// pagePrefix is the longest prefix that every key of r is known to have: the listing's,
// the folder of r's keys (within), or the bytes that r's ends share (any string
// between two strings with a common prefix has it too). A page of r is asked for with
// it, so that the server stops where no key of r can follow.
func (l *rangeLister) pagePrefix(r *keyRange) string {
	p := l.prefix
	if len(r.within) > len(p) {
		p = r.within
	}
	if !r.open {
		// Whole characters: a prefix is echoed in the XML answer, as StartAfter is.
		if c := runeStart(r.after, commonPrefixLen(r.after, r.upto)); c > len(p) {
			p = r.after[:c]
		}
	}
	return p
}

// runeStart is the largest i <= n at which s[:i] ends between two UTF-8 characters.
func runeStart(s string, n int) int {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// split cuts the range that holds at, if its owner has not passed at, and queues the
// back part for a worker. l.mu is held.
func (l *rangeLister) split(at string) {
	for _, r := range l.ranges {
		if r.done || r.after >= at || !r.open && at >= r.upto {
			continue
		}
		nr := &keyRange{after: at, upto: r.upto, open: r.open, within: r.within}
		r.upto, r.open = at, false
		l.ranges = append(l.ranges, nr)
		l.pending = append(l.pending, nr)
		return
	}
}

// keyRange is the keys k with after < k <= upto (no upper end when open), of which the
// owner has listed those up to after.
type keyRange struct {
	after string // StartAfter of the owner's next page
	upto  string
	open  bool // no upper end
	owned bool
	done  bool
	// A folder that every key of the range lies under, as a listing of its level says
	// (seed), or "".
	within string
	// What the owner has seen in this range, to estimate what is left.
	first   string // its first key
	seen    int    // keys it has listed
	classes shapes // the kinds of bytes its keys have, by position
	// The key space of classes last built (space), and the keys seen then: every
	// steal and every page estimates from it, and building it costs thousands of steps.
	ks     *keySpace
	ksSeen int
}

// space is r.classes.space(c), built again only when r has seen more keys.
func (r *keyRange) space(c int) *keySpace {
	if r.ks == nil || r.ks.c != c || r.ksSeen != r.seen {
		r.ks, r.ksSeen = r.classes.space(c), r.seen
	}
	return r.ks
}

type rangeLister struct {
	b        *Bucket
	prefix   string
	pageSize int
	cuts     func(string)
	fn       func(key string, size int64, etag string, modified time.Time) error

	mu      sync.Mutex
	cond    *sync.Cond
	level   *ramp // how many ranges may be owned at once
	ranges  []*keyRange
	active  int         // ranges owned and not done
	listed  int         // pages listed, all ranges
	pending []*keyRange // ranges cut by seed, waiting for a worker
	err     error       // the first error; stops everything

	emit sync.Mutex // fn is called by one worker at a time
}

// work lists r (if not nil, already counted active), then steals ranges until none is
// left.
func (l *rangeLister) work(ctx context.Context, r *keyRange, cancel context.CancelFunc) {
	for {
		if r == nil {
			if r = l.steal(); r == nil {
				return
			}
		}
		if err := l.listRange(ctx, r); err != nil {
			l.mu.Lock()
			if l.err == nil {
				l.err = err
			}
			if !r.done {
				r.done = true
				l.active--
			}
			l.cond.Broadcast()
			l.mu.Unlock()
			cancel()
			return
		}
		r = nil
	}
}

// steal waits until some range can be cut and returns its back part, owned; nil when
// every range is listed or an error stopped the listing.
func (l *rangeLister) steal() *keyRange {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.err != nil || l.active == 0 && len(l.pending) == 0 {
			return nil
		}
		if l.active >= l.level.limit {
			l.cond.Wait()
			continue
		}
		if len(l.pending) > 0 {
			r := l.pending[0]
			l.pending = l.pending[1:]
			r.owned = true
			l.active++
			return r
		}
		if r := l.cut(); r != nil {
			l.ranges = append(l.ranges, r)
			l.active++
			return r
		}
		l.cond.Wait()
	}
}

// cut splits the range with the most pages left (by its owner's keys so far), if any
// has more than minCutPages, and returns the new back part. l.mu is held.
func (l *rangeLister) cut() *keyRange {
	var best *keyRange
	var bestPages float64
	var bestAt string
	live := l.ranges[:0]
	for _, r := range l.ranges {
		if r.done {
			continue
		}
		live = append(live, r)
		if r.seen < 2 {
			continue // nothing to estimate from yet
		}
		pages, at := cutPoint(r, l.prefix, l.pageSize, max(minAhead, float64(l.listed)))
		if at != "" && pages > bestPages {
			best, bestPages, bestAt = r, pages, at
		}
	}
	l.ranges = live
	if best == nil || bestPages < minCutPages {
		return nil
	}
	nr := &keyRange{after: bestAt, upto: best.upto, open: best.open, owned: true, within: best.within}
	best.upto, best.open = bestAt, false
	if l.cuts != nil {
		l.cuts(bestAt)
	}
	return nr
}

// minAhead is the least reach of a cut past its range's owner, in pages.
const minAhead = 4

// minCutPages: a range estimated to hold fewer pages than this is not cut; the owner
// lists it alone.
const minCutPages = 2

// cutDigits is how many bytes past the common prefix of a range's ends the estimates
// look at.
const cutDigits = 48

// cutPoint estimates how many pages are left in r and where to cut it: in the middle
// when that is at most midCutPages, else about sqrt(pages) pages past the owner, but no
// more than ahead pages: an estimate from a page or two can be off by any factor (the
// first page of a bucket says nothing of where its keys end), so the cuts reach out
// only as far as the whole listing has come, doubling as it goes. The point is in r
// (after < at < upto, "" when there is no such key of printable ASCII).
func cutPoint(r *keyRange, prefix string, pageSize int, ahead float64) (pages float64, at string) {
	e, ok := r.estimate(prefix)
	if !ok {
		return 0, ""
	}
	pages = e.left / float64(pageSize)
	if pages < minCutPages {
		return pages, ""
	}
	var step *big.Float
	if pages <= midCutPages {
		step = new(big.Float).Quo(e.width, big.NewFloat(2))
	} else {
		keep := min(math.Sqrt(pages), ahead) * float64(pageSize)
		step = new(big.Float).Mul(e.perKey, big.NewFloat(keep))
	}
	si, _ := step.Int(nil)
	m := new(big.Int).Add(e.pos, si)
	if m.Cmp(e.end) >= 0 {
		m.Add(e.pos, new(big.Int).Rsh(new(big.Int).Sub(e.end, e.pos), 1))
	}
	at = printableCut(e.ks.key(e.hi[:e.ks.c], m), r.after, e.hi)
	return pages, at
}

// rangeEstimate is what is left of a range, by the keys its owner has seen: the keys
// between the owner's position and the range's end.
type rangeEstimate struct {
	ks       *keySpace
	hi       string   // the range's end (a string above every key of an open one)
	pos, end *big.Int // the owner's position and hi, as numbers of ks
	width    *big.Float
	perKey   *big.Float // the numbers between two keys, on average
	left     float64    // keys; +Inf when too many to count
}

// estimate says how many keys are left in r from the keys its owner has seen; false
// before it has seen two, or when no room is left.
func (r *keyRange) estimate(prefix string) (rangeEstimate, bool) {
	if r.seen < 2 {
		return rangeEstimate{}, false
	}
	hi := r.upto
	if r.open {
		hi = openEnd(prefix)
	}
	ks := r.space(commonPrefixLen(r.first, hi))
	pos, lo, end := ks.number(r.after), ks.number(r.first), ks.number(hi)
	span := new(big.Float).SetInt(new(big.Int).Sub(pos, lo))
	width := new(big.Float).SetInt(new(big.Int).Sub(end, pos))
	if width.Sign() <= 0 {
		return rangeEstimate{}, false
	}
	if span.Sign() <= 0 {
		span.SetInt64(1)
	}
	// keys left ≈ width / span · (seen−1)
	perKey := new(big.Float).Quo(span, big.NewFloat(float64(r.seen-1)))
	left, _ := new(big.Float).Quo(width, perKey).Float64()
	if math.IsNaN(left) {
		left = math.Inf(1)
	}
	return rangeEstimate{ks: ks, hi: hi, pos: pos, end: end, width: width, perKey: perKey, left: left}, true
}

// pageKeys is how many keys r's next page asks for: a page, or, where r ends within a
// page by its estimate, twice the keys left and a twentieth of a page more. The keys a
// page holds past its range's end belong to the next range, which lists them again:
// read twice, and a server spends its time on each key it lists (versitygw reads each
// one's metadata from disk). An estimate too low costs the range one more page.
func (r *keyRange) pageKeys(prefix string, pageSize int) int {
	if r.open {
		return pageSize
	}
	e, ok := r.estimate(prefix)
	if !ok || e.left >= float64(pageSize) {
		return pageSize
	}
	return min(pageSize, int(math.Ceil(2*e.left))+max(1, pageSize/20))
}

// midCutPages: a range with at most this many pages left is cut in the middle.
const midCutPages = 64

// openEnd is a string above every key under prefix.
func openEnd(prefix string) string {
	return prefix + strings.Repeat("\xff", cutDigits+1)
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// shapes records, for each of the first shapePositions bytes of a range's keys, which
// kinds of byte (digit, lower case, upper case, other ASCII, ≥ 0x80) the keys seen there
// have: a key space of ids and timestamps is cut between digits, not in the gaps of the
// byte space between them, where no key is. A position where every key seen has the
// same byte, other than a digit, is read as holding only that byte: the "c" of ids
// "c123" and the "s" of "stories/s…", which the keys after the owner's most likely
// have too (a digit is not: the first thousand ids in byte order, 1, 10, 100, 1000 to
// 1899, all start with 1).
type shapes struct {
	kinds [shapePositions]uint8
	one   [shapePositions]byte // the byte of the first key that reached the position
	many  [shapePositions]bool // keys have different bytes there
}

const shapePositions = 256

const (
	shapeDigit uint8 = 1 << iota
	shapeLower
	shapeUpper
	shapeOther // any other byte below 0x80
	shapeHigh  // 0x80 and above (UTF-8)
)

func shapeOf(c byte) uint8 {
	switch {
	case '0' <= c && c <= '9':
		return shapeDigit
	case 'a' <= c && c <= 'z':
		return shapeLower
	case 'A' <= c && c <= 'Z':
		return shapeUpper
	case c >= 0x80:
		return shapeHigh
	}
	return shapeOther
}

// add records the bytes of k.
func (s *shapes) add(k string) {
	for i := range min(len(k), shapePositions) {
		switch c := k[i]; {
		case s.kinds[i] == 0:
			s.one[i] = c
		case c != s.one[i]:
			s.many[i] = true
		}
		s.kinds[i] |= shapeOf(k[i])
	}
}

// A keySpace reads the cutDigits bytes of keys past position c as a number in mixed
// radix: at each position, a byte's rank among the bytes of the kinds seen there (0 for
// the end of the key), so that an estimate's arithmetic spends no room on bytes that no
// key has. The reading keeps order (k1 ≤ k2 gives n1 ≤ n2) for keys that share their
// first c bytes.
type keySpace struct {
	c      int
	digits [cutDigits][]byte // the bytes each position may have, ascending
}

// space is the key space past c of the keys s describes; a position past
// shapePositions, or that no key reached, takes any byte.
func (s *shapes) space(c int) *keySpace {
	ks := &keySpace{c: c}
	for i := range ks.digits {
		mask := uint8(0xff)
		if p := c + i; p < shapePositions && s.kinds[p] != 0 {
			if !s.many[p] && s.kinds[p] != shapeDigit {
				ks.digits[i] = []byte{s.one[p]}
				continue
			}
			mask = s.kinds[p]
		}
		for b := 0; b < 256; b++ {
			if shapeOf(byte(b))&mask != 0 {
				ks.digits[i] = append(ks.digits[i], byte(b))
			}
		}
	}
	return ks
}

// number is k's number in ks.
func (ks *keySpace) number(k string) *big.Int {
	n := new(big.Int)
	past := false // k has had a byte of no kind seen there: it sorts after every key
	// with that byte's floor followed by anything, so the rest reads as the top
	for i, d := range ks.digits {
		rank := 0
		switch p := ks.c + i; {
		case past:
			rank = len(d)
		case p < len(k):
			// 1 + the index of the largest byte of d not above k[p].
			rank = sortSearchBytes(d, k[p])
			past = rank == 0 || d[rank-1] != k[p]
		}
		n.Mul(n, big.NewInt(int64(len(d)+1)))
		n.Add(n, big.NewInt(int64(rank)))
	}
	return n
}

// sortSearchBytes is how many bytes of d (ascending) are ≤ c.
func sortSearchBytes(d []byte, c byte) int {
	lo, hi := 0, len(d)
	for lo < hi {
		m := (lo + hi) / 2
		if d[m] <= c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// key is number's inverse: head followed by the bytes of m's ranks, the trailing ends
// dropped. A rank 0 before a later byte (an end of key inside a key) becomes the byte
// below the position's first, or its first.
func (ks *keySpace) key(head string, m *big.Int) string {
	ranks := make([]int, cutDigits)
	m = new(big.Int).Set(m)
	r := new(big.Int)
	for i := cutDigits - 1; i >= 0; i-- {
		m.QuoRem(m, big.NewInt(int64(len(ks.digits[i])+1)), r)
		ranks[i] = int(r.Int64())
	}
	n := len(ranks)
	for n > 0 && ranks[n-1] == 0 {
		n--
	}
	buf := []byte(head)
	for i, rank := range ranks[:n] {
		d := ks.digits[i]
		switch {
		case rank > 0:
			buf = append(buf, d[rank-1])
		case d[0] > 0x20:
			buf = append(buf, d[0]-1)
		default:
			buf = append(buf, d[0])
		}
	}
	return string(buf)
}

// printableCut turns a cut point into one whose bytes past the common prefix with after
// are printable ASCII (StartAfter is echoed in the XML answer, where control bytes and
// broken UTF-8 do not belong), rounding down; "" unless after < at < hi.
func printableCut(at, after, hi string) string {
	c := commonPrefixLen(at, after)
	for i := c; i < len(at); i++ {
		if x := at[i]; x < 0x20 {
			at = at[:i]
			break
		} else if x > 0x7e {
			at = at[:i] + "~~~~"
			break
		}
	}
	if at <= after || at >= hi {
		return ""
	}
	return at
}

// listRange lists r page by page until it passes r.upto (which a thief may lower
// meanwhile) or the keys end.
func (l *rangeLister) listRange(ctx context.Context, r *keyRange) error {
	for {
		l.mu.Lock()
		after, prefix := r.after, l.pagePrefix(r)
		keys := l.pageSize
		if !r.open && !pastPrefix(r.upto, prefix) {
			keys = r.pageKeys(l.prefix, l.pageSize)
		}
		l.mu.Unlock()
		start := time.Now()
		page, err := l.b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket:     aws.String(l.b.opts.Bucket),
			Prefix:     aws.String(prefix),
			StartAfter: aws.String(after),
			MaxKeys:    aws.Int32(int32(keys)),
		})
		took := time.Since(start)
		if err != nil {
			return fmt.Errorf("list %q after %q in %s: %w", prefix, after, l.b.identity, err)
		}
		prev := after
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if k <= prev || !strings.HasPrefix(k, prefix) {
				what := fmt.Sprintf("%q after %q", k, prev)
				if k > prev {
					what = fmt.Sprintf("%q, not under the prefix", k)
				}
				return fmt.Errorf("list %q after %q in %s: %w (%s); list with list_concurrency = 1", prefix, after, l.b.identity, errUnordered, what)
			}
			prev = k
		}
		// Keep the keys that are still this range's, under the lock a thief cuts with.
		l.mu.Lock()
		if keys == l.pageSize {
			l.level.observe(took) // a shorter page is no measure of a full one
		}
		l.listed++
		n := len(page.Contents)
		if !r.open {
			for i, o := range page.Contents {
				if aws.ToString(o.Key) > r.upto {
					n = i
					break
				}
			}
		}
		keep := page.Contents[:n]
		last := n < len(page.Contents) || !aws.ToBool(page.IsTruncated) || len(page.Contents) == 0
		if n > 0 {
			if r.seen == 0 {
				r.first = aws.ToString(keep[0].Key)
			}
			for _, o := range keep {
				r.classes.add(aws.ToString(o.Key))
			}
			r.seen += n
			r.after = aws.ToString(keep[n-1].Key)
		}
		if !r.open && r.after >= r.upto {
			last = true
		}
		if last {
			r.done = true
			l.active--
		}
		stopped := l.err != nil
		l.cond.Broadcast()
		l.mu.Unlock()
		if stopped {
			return nil
		}
		if err := l.deliver(keep); err != nil {
			return err
		}
		if last {
			return nil
		}
	}
}

// errUnordered is a listing page out of byte order, or with keys not under the prefix
// asked for.
var errUnordered = errors.New("the server does not list keys in byte order under the prefix")

// pastPrefix says that s sorts after every key under prefix: a range that ends at s,
// listed with prefix, has all its pages' keys (which the server stops giving at the
// prefix's end) and may ask for whole pages.
func pastPrefix(s, prefix string) bool {
	return s > prefix && !strings.HasPrefix(s, prefix)
}

// deliver calls fn for each object, one worker at a time.
func (l *rangeLister) deliver(objs []types.Object) error {
	l.emit.Lock()
	defer l.emit.Unlock()
	l.mu.Lock()
	stopped := l.err != nil
	l.mu.Unlock()
	if stopped {
		return nil
	}
	for _, o := range objs {
		if err := l.fn(aws.ToString(o.Key), aws.ToInt64(o.Size), unquote(aws.ToString(o.ETag)), aws.ToTime(o.LastModified)); err != nil {
			return err
		}
	}
	return nil
}

// far takes the level to max if d, the first answer's latency, says the server is far
// (rampFar); true when observe has nothing left to do with d: the level is held, or d
// took it to max. An answer of less work than a page (a folder's first level) tells a
// far server as well as a page does, but is no measure of a page's time.
func (r *ramp) far(d time.Duration) bool {
	if r.hold || r.fastest != 0 || d < rampFar {
		return r.hold
	}
	r.fastest, r.limit = d, r.max
	return true
}

// ramp is how many ranges are listed at once, from the pages' latency. It starts at one
// and, after each round (as many pages as the level), grows rampGrowth-fold while the
// round's pages took on average at most rampSlack × the fastest page seen (more pages
// in flight cost nothing: the wait is the network's), up to max; a round slower than
// rampBack × the fastest halves it (more pages in flight only queue at the server). A
// first page slower than rampFar comes from a server far away (R2 answers a page in
// hundreds of milliseconds; a server on the same machine or network in tens), and the
// level goes straight to max: a round at four would cost a whole page's wait.
type ramp struct {
	limit, max int
	hold       bool // the level stays at limit (tests)
	fastest    time.Duration
	pages      int           // of this round
	sum        time.Duration // their latencies
}

const (
	rampGrowth = 4
	rampSlack  = 1.5
	rampBack   = 3
	rampFar    = 150 * time.Millisecond
)

// observe counts one page that took d.
func (r *ramp) observe(d time.Duration) {
	if r.far(d) {
		return
	}
	if r.fastest == 0 || d < r.fastest {
		r.fastest = max(d, time.Nanosecond)
	}
	r.pages++
	r.sum += d
	if r.pages < r.limit {
		return
	}
	mean := float64(r.sum) / float64(r.pages)
	switch {
	case mean <= rampSlack*float64(r.fastest):
		r.limit = min(r.max, r.limit*rampGrowth)
	case mean > rampBack*float64(r.fastest):
		r.limit = max(1, r.limit/2)
	}
	r.pages, r.sum = 0, 0
}
