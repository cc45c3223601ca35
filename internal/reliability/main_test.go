package reliability

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/r2plan/r2plan/internal/testenv"
)

// The servers and the binary every test shares. Tests do not run in parallel: the
// database tests restart the one PostgreSQL server.
var (
	r2planBin    string
	s3srv        *testenv.S3Server
	pgsrv        *testenv.Postgres
	applyLockArg []string // --lock-timeout when this r2plan has it
	configPath   string   // examples/charhub.hcl, absolute
	long         = os.Getenv("RELIABILITY_LONG") == "1"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "r2plan-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	configPath, _ = filepath.Abs("../../examples/charhub.hcl")
	r2planBin = filepath.Join(dir, "r2plan")
	build := exec.CommandContext(ctx, "go", "build", "-o", r2planBin, "github.com/r2plan/r2plan/cmd/r2plan")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build r2plan: %v\n%s", err, out)
		return 1
	}
	help, _ := exec.CommandContext(ctx, r2planBin, "apply", "-h").CombinedOutput()
	if bytes.Contains(help, []byte("lock-timeout")) {
		// A SIGKILLed apply leaves its lock behind until it expires.
		applyLockArg = []string{"--lock-timeout=2m"}
	}

	s3srv, err = testenv.StartS3(ctx, filepath.Join(dir, "s3"), "", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "start versitygw:", err)
		return 1
	}
	defer s3srv.Stop()
	pgsrv, err = testenv.StartPostgres(ctx, filepath.Join(dir, "pg"), "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "start postgres:", err)
		return 1
	}
	defer pgsrv.Stop()

	code := m.Run()
	printTable()
	return code
}

// A summary row: one per scenario.
type summary struct {
	Scenario string
	Runs     int   // r2plan processes run (plan and apply)
	Faults   int64 // faults injected (proxy faults, kills, database restarts and terminations)
	Retries  int64 // requests the proxy saw as repeated attempts
	Verified int   // planned copies found identical at their target at the end
	Dangling int   // references that resolved before and did not at some check
	Lost     int   // objects present before and missing or changed at some check
}

var table struct {
	sync.Mutex
	rows []summary
}

func record(t *testing.T, s summary) {
	t.Helper()
	t.Logf("SUMMARY scenario=%s runs=%d faults=%d retries=%d verified=%d dangling=%d lost=%d",
		s.Scenario, s.Runs, s.Faults, s.Retries, s.Verified, s.Dangling, s.Lost)
	table.Lock()
	table.rows = append(table.rows, s)
	table.Unlock()
}

func printTable() {
	table.Lock()
	defer table.Unlock()
	if len(table.rows) == 0 {
		return
	}
	variant := "short"
	if long {
		variant = "long (RELIABILITY_LONG=1)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nr2plan reliability, %s variant\n\n", variant)
	fmt.Fprintln(&b, "| scenario | runs | faults injected | retries | objects verified | dangling refs seen | objects lost |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range table.rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d |\n", r.Scenario, r.Runs, r.Faults, r.Retries, r.Verified, r.Dangling, r.Lost)
	}
	fmt.Print(b.String())
}
