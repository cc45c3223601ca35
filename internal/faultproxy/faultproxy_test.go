package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/r2plan/r2plan/internal/testenv"
	"github.com/r2plan/r2plan/providers/s3"
)

var server *testenv.S3Server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "r2plan-faultproxy-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	server, err = testenv.StartS3(ctx, dir, "", "")
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start versitygw:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

var seq int

// setup makes a bucket with n objects on the real server and returns it, a proxy in
// front of the server, and a Bucket that talks through the proxy with maxAttempts.
func setup(t *testing.T, n, maxAttempts int, o Options) (*s3.Bucket, *Proxy, *s3.Bucket) {
	t.Helper()
	seq++
	name := fmt.Sprintf("fp%d-%d", seq, time.Now().UnixNano()%1e6)
	direct, err := s3.Open(t.Context(), s3.Options{Endpoint: server.Endpoint, Bucket: name, PathStyle: true,
		AccessKeyID: server.AccessKey, SecretAccessKey: server.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := direct.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		key := fmt.Sprintf("characters/c%03d/avatars/a %d+%%.webp", i, i)
		if err := direct.Put(t.Context(), key, []byte("body "+key), "image/webp", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	o.Target = server.Endpoint
	px, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close() })
	via, err := s3.Open(t.Context(), s3.Options{Endpoint: px.URL(), Bucket: name, PathStyle: true, MaxAttempts: maxAttempts,
		AccessKeyID: server.AccessKey, SecretAccessKey: server.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return direct, px, via
}

func list(ctx context.Context, b *s3.Bucket) ([]string, error) {
	var keys []string
	err := b.List(ctx, "", func(key string, size int64, etag string, modified time.Time) error {
		keys = append(keys, key)
		return nil
	})
	return keys, err
}

// TestForwardsSignedRequests checks that signed requests of every kind pass unchanged
// (the server verifies their SigV4 signatures against the proxy's Host) and are counted
// by kind.
func TestForwardsSignedRequests(t *testing.T) {
	direct, px, via := setup(t, 3, 1, Options{})
	ctx := t.Context()
	keys, err := list(ctx, via)
	if err != nil || len(keys) != 3 {
		t.Fatalf("list through the proxy: %v, %v", keys, err)
	}
	size, etag, err := via.Head(ctx, keys[0])
	if err != nil {
		t.Fatalf("head through the proxy: %v", err)
	}
	if _, copied, err := via.Copy(ctx, keys[0], "dev/"+keys[0], etag, size); err != nil || !copied {
		t.Fatalf("copy through the proxy: %v, %v", copied, err)
	}
	if _, _, err := direct.Head(ctx, "dev/"+keys[0]); err != nil {
		t.Fatalf("the copy is not on the server: %v", err)
	}
	if failed, err := via.Delete(ctx, []string{"dev/" + keys[0]}); err != nil || len(failed) > 0 {
		t.Fatalf("delete through the proxy: %v, %v", failed, err)
	}
	st := px.Stats()
	for _, k := range []Kind{KindList, KindHead, KindCopy, KindDelete} {
		if st.Requests[k] == 0 {
			t.Errorf("no %s request counted: %+v", k, st.Requests)
		}
	}
	if st.TotalFaults() != 0 || st.TotalRetries() != 0 {
		t.Errorf("faults or retries without any fault configured: %s", st)
	}
}

// TestEachFault schedules one fault on the first request of a kind: with one attempt the
// call fails, and with retries it succeeds and the proxy sees the repeated attempt.
func TestEachFault(t *testing.T) {
	t.Setenv("R2PLAN_TEST_BACKOFF_SCALE", "0.01")
	for _, f := range Faults {
		t.Run(f.String(), func(t *testing.T) {
			first := func(_ *http.Request, k Kind, n int64) Fault {
				if n == 1 && (k == KindHead || k == KindList) {
					return f
				}
				return None
			}
			wantFail := f != Delay
			for _, attempts := range []int{1, 4} {
				_, px, via := setup(t, 30, attempts, Options{Schedule: first, MaxDelay: 20 * time.Millisecond})
				var err error
				if f == ShortList {
					var keys []string
					keys, err = list(t.Context(), via)
					if err == nil && len(keys) != 30 {
						t.Fatalf("listed %d keys", len(keys))
					}
				} else {
					_, _, err = via.Head(t.Context(), "characters/c001/avatars/a 1+%.webp")
				}
				st := px.Stats()
				if st.TotalFaults() != 1 {
					t.Errorf("attempts=%d: %d faults injected, want 1: %s", attempts, st.TotalFaults(), st)
				}
				switch {
				case attempts == 1 && wantFail && err == nil:
					t.Errorf("one attempt through %s succeeded", f)
				case attempts == 1 && !wantFail && err != nil:
					t.Errorf("one attempt through %s: %v", f, err)
				case attempts > 1 && err != nil:
					t.Errorf("%d attempts through %s: %v", attempts, f, err)
				case attempts > 1 && wantFail && st.TotalRetries() != 1:
					t.Errorf("%d retries seen, want 1: %s", st.TotalRetries(), st)
				}
				if err != nil && strings.Contains(err.Error(), server.SecretKey) {
					t.Error("an error holds the secret key")
				}
			}
		})
	}
}

// TestResetAfterActs checks that ResetAfter lets the server act although the client
// sees a broken connection.
func TestResetAfterActs(t *testing.T) {
	direct, _, via := setup(t, 0, 1, Options{Schedule: func(_ *http.Request, k Kind, n int64) Fault {
		if k == KindOther {
			return ResetAfter
		}
		return None
	}})
	err := via.Put(t.Context(), "new.webp", []byte("x"), "", "", nil)
	if err == nil {
		t.Fatal("put through reset-after succeeded")
	}
	if _, _, err := direct.Head(t.Context(), "new.webp"); err != nil {
		t.Fatalf("the server did not act on the request: %v", err)
	}
}

// TestSeededRatesAreReproducible sends the same sequence of requests twice with one
// seed and gets the same faults; a different seed gets different ones. (Plain HTTP
// requests: the rates are the proxy's, whatever the server answers.)
func TestSeededRatesAreReproducible(t *testing.T) {
	run := func(seed uint64) Stats {
		px, err := Start(Options{Target: server.Endpoint, Seed: seed, Rates: map[Kind]Rates{
			KindHead: {SlowDown503: 0.2, Internal500: 0.1, TooMany429: 0.1, Reset: 0.1},
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer px.Close()
		client := &http.Client{Timeout: 5 * time.Second}
		for range 200 {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodHead, px.URL()+"/b/missing", nil)
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		return px.Stats()
	}
	a, b, c := run(7), run(7), run(8)
	if a.Faults != b.Faults {
		t.Errorf("seed 7 twice: %v vs %v", a, b)
	}
	if a.Faults == c.Faults {
		t.Errorf("seeds 7 and 8 give the same faults: %v", a)
	}
	if n := a.TotalFaults(); n < 60 || n > 140 {
		t.Errorf("%d faults in 200 requests at a rate of 0.5", n)
	}
}

// TestStorm fails every request while it lasts, for the kinds given only, and ends.
func TestStorm(t *testing.T) {
	_, px, via := setup(t, 2, 1, Options{})
	px.Storm(0, []Fault{Internal500}, KindHead)
	if _, _, err := via.Head(t.Context(), "characters/c000/avatars/a 0+%.webp"); err == nil {
		t.Error("head succeeded in a storm")
	}
	if _, err := list(t.Context(), via); err != nil {
		t.Errorf("a list failed in a storm of heads: %v", err)
	}
	px.StopStorm()
	if _, _, err := via.Head(t.Context(), "characters/c000/avatars/a 0+%.webp"); err != nil {
		t.Errorf("head after the storm: %v", err)
	}
	px.Storm(time.Hour, nil)
	if _, err := list(t.Context(), via); err == nil {
		t.Error("list succeeded in a storm of every kind")
	}
	px.Storm(time.Millisecond, nil)
	time.Sleep(2 * time.Millisecond)
	if _, err := list(t.Context(), via); err != nil {
		t.Errorf("list after a timed storm: %v", err)
	}
	var api interface{ ErrorCode() string }
	_, _, err := via.Head(t.Context(), "nope")
	if err == nil || errors.As(err, &api) && api.ErrorCode() == "InternalError" {
		t.Errorf("head of a missing key after the storm: %v", err)
	}
}
