package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Postgres is a throwaway PostgreSQL server started by StartPostgres. It listens on
// 127.0.0.1 with password (SCRAM) authentication for the user r2plan, and on a unix
// socket (trust) for the superuser, which only this package uses.
type Postgres struct {
	URL      string // postgres://r2plan:PASSWORD@127.0.0.1:PORT/r2plan?sslmode=disable
	Password string
	// CAFile is the PEM file of the CA that signed the server's certificate (for
	// 127.0.0.1, ::1 and localhost) if the server was started with TLS, else "".
	CAFile string

	tls bool // serve TLS (ssl=on) on TCP as well as plain connections

	port    int
	dataDir string
	sockDir string
	logPath string
	super   *sql.DB // superuser over the unix socket
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	waitErr error
	cleanup string // a directory StartPostgres made outside dir, removed by Stop

	// What start needs again for Restart.
	bin, base string
	cred      *syscall.Credential
}

// PGUser is the role StartPostgres creates; PGDatabase is the database it owns.
const (
	PGUser     = "r2plan"
	PGDatabase = "r2plan"
	pgSuper    = "postgres"
)

// StartPostgres starts a throwaway PostgreSQL server with data and socket under dir,
// listening on 127.0.0.1 on a free port, with a user r2plan whose password is given
// (random distinctive if empty), password (scram) auth on TCP, and a database r2plan.
//
// Run as root, it runs initdb and postgres as the OS user postgres. If that user cannot
// reach dir (a parent is not traversable), or dir is too long for a unix socket path,
// the data and socket go to a new directory under os.TempDir() instead, removed by Stop;
// the log is always dir/postgres.log.
//
// The server dies with the calling process (Pdeathsig); call Stop to shut it down.
func StartPostgres(ctx context.Context, dir, password string) (*Postgres, error) {
	return startPostgres(ctx, dir, password, false)
}

// StartPostgresTLS is StartPostgres with TLS on: a fresh CA (CAFile, under dir) signs
// the server's certificate. Clients may still connect without TLS.
func StartPostgresTLS(ctx context.Context, dir, password string) (*Postgres, error) {
	return startPostgres(ctx, dir, password, true)
}

func startPostgres(ctx context.Context, dir, password string, withTLS bool) (*Postgres, error) {
	bin, err := PGBinDir()
	if err != nil {
		return nil, err
	}
	if password == "" {
		b := make([]byte, 12)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		password = "r2pw-" + hex.EncodeToString(b)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}

	cred, err := pgCredential()
	if err != nil {
		return nil, err
	}

	p := &Postgres{Password: password, logPath: filepath.Join(dir, "postgres.log"), tls: withTLS}
	base := dir
	if cred != nil || len(dir) > 80 {
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if len(dir) > 80 || !pgReachable(dir) {
			base, err = os.MkdirTemp("", "r2plan-pg-")
			if err != nil {
				return nil, err
			}
			p.cleanup = base
			if err := os.Chmod(base, 0o755); err != nil {
				p.removeCleanup()
				return nil, err
			}
		}
	}
	p.dataDir = filepath.Join(base, "data")
	p.sockDir = filepath.Join(base, "sock")
	if err := pgMkdirs(cred, p.dataDir, p.sockDir); err != nil {
		p.removeCleanup()
		return nil, err
	}

	if err := p.initdb(ctx, bin, base, cred); err != nil {
		p.removeCleanup()
		return nil, err
	}
	if withTLS {
		// The server's key and certificate in its data directory, the CA beside the log.
		p.CAFile, _, _, err = WriteTestCA(dir, p.dataDir, cred)
		if err != nil {
			p.removeCleanup()
			return nil, fmt.Errorf("postgres: TLS certificates: %w", err)
		}
	}

	p.bin, p.base, p.cred = bin, base, cred
	// A free port can be taken between choosing it and binding it; try a few.
	for attempt := 0; ; attempt++ {
		err = p.start(ctx, bin, base, cred)
		if err == nil {
			break
		}
		if attempt == 2 || ctx.Err() != nil || !strings.Contains(p.logTail(), "could not") {
			_ = p.Stop()
			return nil, err
		}
	}

	if err := p.setup(ctx); err != nil {
		_ = p.Stop()
		return nil, err
	}
	p.URL = p.databaseURL(PGDatabase)
	return p, nil
}

// PGBinDir returns the directory that holds initdb and postgres: the one on PATH, or
// else the highest version under /usr/lib/postgresql/*/bin (Debian's layout).
func PGBinDir() (string, error) {
	if initdb, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(initdb)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var best string
	var bestVersion []int
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		v := pgVersion(filepath.Base(filepath.Dir(d)))
		if best == "" || slices.Compare(v, bestVersion) > 0 {
			best, bestVersion = d, v
		}
	}
	if best == "" {
		return "", errors.New("postgres: initdb and postgres not found on PATH or under /usr/lib/postgresql/*/bin")
	}
	return best, nil
}

func pgVersion(s string) []int {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			n = -1
		}
		v = append(v, n)
	}
	return v
}

// pgCredential returns the credential to run the server with: nil unless we are root,
// then the OS user postgres (initdb refuses to run as root).
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("postgres: running as root needs an OS user postgres: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// pgReachable reports whether every parent of dir is traversable by others.
func pgReachable(dir string) bool {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func pgMkdirs(cred *syscall.Credential, dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if cred != nil {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *Postgres) command(ctx context.Context, bin, cwd string, cred *syscall.Credential, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(bin, name), args...)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	return cmd
}

func (p *Postgres) initdb(ctx context.Context, bin, cwd string, cred *syscall.Credential) error {
	cmd := p.command(ctx, bin, cwd, cred, "initdb",
		"-D", p.dataDir,
		"--username="+pgSuper,
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--encoding=UTF8",
		"--no-locale",
		"--no-sync",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("postgres: initdb: %w\n%s", err, out)
	}
	return nil
}

func (p *Postgres) start(ctx context.Context, bin, cwd string, cred *syscall.Credential) error {
	port, err := pgFreePort()
	if err != nil {
		return err
	}
	return p.startOn(ctx, bin, cwd, cred, port)
}

// startOn starts the server on port and waits until it accepts connections.
func (p *Postgres) startOn(ctx context.Context, bin, cwd string, cred *syscall.Credential, port int) error {
	p.port = port
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Not CommandContext: the server outlives ctx, which only bounds the start.
	args := []string{
		"-D", p.dataDir,
		"-k", p.sockDir,
		"-h", "127.0.0.1",
		"-p", strconv.Itoa(port),
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "synchronous_commit=off",
		"-c", "max_connections=200",
	}
	if p.tls {
		args = append(args,
			"-c", "ssl=on",
			"-c", "ssl_cert_file="+filepath.Join(p.dataDir, "server.crt"),
			"-c", "ssl_key_file="+filepath.Join(p.dataDir, "server.key"))
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = cwd
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("postgres: start: %w", err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.exited)
	}()

	// The settings that matter spelled out, and no runtime parameters, so that no PG*
	// variable of the environment (a test may set some) applies.
	superCfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable target_session_attrs=any",
		p.sockDir, port, pgSuper))
	if err != nil {
		p.kill()
		return fmt.Errorf("postgres: superuser connection: %w", err)
	}
	superCfg.RuntimeParams = map[string]string{}
	p.super = stdlib.OpenDB(*superCfg)

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := p.super.PingContext(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			p.super.Close()
			p.super = nil
			return fmt.Errorf("postgres: server exited (%v); log %s:\n%s", p.waitErr, p.logPath, p.logTail())
		case <-ctx.Done():
			p.kill()
			return fmt.Errorf("postgres: not accepting connections: %w (last: %v); log %s:\n%s", ctx.Err(), err, p.logPath, p.logTail())
		case <-tick.C:
		}
	}
}

func pgFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (p *Postgres) setup(ctx context.Context) error {
	stmts := []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s", pgQuoteIdent(PGUser), pgQuoteLiteral(p.Password)),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgQuoteIdent(PGDatabase), pgQuoteIdent(PGUser)),
	}
	for _, s := range stmts {
		if _, err := p.super.ExecContext(ctx, s); err != nil {
			// The statement holds the password: name only what failed.
			return fmt.Errorf("postgres: create role and database: %w", err)
		}
	}
	return nil
}

var pgDatabaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// CreateDatabase makes another empty database, owned by r2plan, on the same server and
// returns its URL (tests isolate themselves this way). name must be a plain identifier
// (letters, digits, underscore).
func (p *Postgres) CreateDatabase(ctx context.Context, name string) (string, error) {
	if !pgDatabaseName.MatchString(name) {
		return "", fmt.Errorf("postgres: create database %q: name must match %s", name, pgDatabaseName)
	}
	q := fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgQuoteIdent(name), pgQuoteIdent(PGUser))
	if _, err := p.super.ExecContext(ctx, q); err != nil {
		return "", fmt.Errorf("postgres: create database %q: %w", name, err)
	}
	return p.databaseURL(name), nil
}

var pgRoleName = pgDatabaseName

// CreateRole makes a login role with no rights beyond PUBLIC's, for tests of what a
// restricted role can do, and returns the URL of database (a URL CreateDatabase
// returned) for it. name must be a plain identifier.
func (p *Postgres) CreateRole(ctx context.Context, name, databaseURL string) (string, error) {
	if !pgRoleName.MatchString(name) {
		return "", fmt.Errorf("postgres: create role %q: name must match %s", name, pgRoleName)
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", fmt.Errorf("postgres: create role %q: bad database URL", name)
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	password := "r2pw-" + hex.EncodeToString(b)
	q := fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s", pgQuoteIdent(name), pgQuoteLiteral(password))
	if _, err := p.super.ExecContext(ctx, q); err != nil {
		// The statement holds the password: name only what failed.
		return "", fmt.Errorf("postgres: create role %q: %w", name, err)
	}
	u.User = url.UserPassword(name, password)
	return u.String(), nil
}

func (p *Postgres) databaseURL(name string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(PGUser, p.Password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)),
		Path:     "/" + name,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Restart stops the server with a fast shutdown (every open connection is closed and
// its transaction rolled back, as when a managed database restarts), waits down for
// downtime, and starts it again on the same port with the same data, so URLs stay
// valid. It returns once the server accepts connections again.
func (p *Postgres) Restart(ctx context.Context, downtime time.Duration) error {
	if p.cmd == nil {
		return errors.New("postgres: restart: not running")
	}
	if p.super != nil {
		p.super.Close()
		p.super = nil
	}
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			p.kill()
		}
	}
	p.cmd = nil
	select {
	case <-time.After(downtime):
	case <-ctx.Done():
		return ctx.Err()
	}
	// The port was just released; binding it again can race a TIME_WAIT, so retry.
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = p.startOn(ctx, p.bin, p.base, p.cred, p.port); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("postgres: restart: %w", err)
}

// TerminateBackends ends every connection to database (every database if empty) but
// the superuser's own, with pg_terminate_backend, as a failover or a DBA would, and
// returns how many it ended.
func (p *Postgres) TerminateBackends(ctx context.Context, database string) (int, error) {
	if p.super == nil {
		return 0, errors.New("postgres: terminate backends: not running")
	}
	q := `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
	      WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND ($1 = '' OR datname = $1)`
	var n int
	if err := p.super.QueryRowContext(ctx, q, database).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: terminate backends: %w", err)
	}
	return n, nil
}

// Port is the TCP port the server listens on, at 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// SocketDir is the directory of the server's unix socket. Connections over it are
// trusted: any role gets in without a password.
func (p *Postgres) SocketDir() string { return p.sockDir }

// LogPath is the file that holds the server's log.
func (p *Postgres) LogPath() string { return p.logPath }

// Stop shuts the server down (fast shutdown, SIGINT), waits for it, and removes any
// directory StartPostgres made outside dir. It is safe to call more than once.
func (p *Postgres) Stop() error {
	if p.super != nil {
		p.super.Close()
		p.super = nil
	}
	var err error
	if p.cmd != nil && p.cmd.Process != nil {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-p.exited:
			case <-time.After(30 * time.Second):
				p.kill()
				err = errors.New("postgres: no fast shutdown within 30s; killed")
			}
		}
		p.cmd = nil
	}
	p.removeCleanup()
	return err
}

func (p *Postgres) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
}

func (p *Postgres) removeCleanup() {
	if p.cleanup != "" {
		_ = os.RemoveAll(p.cleanup)
		p.cleanup = ""
	}
}

func (p *Postgres) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func pgQuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func pgQuoteLiteral(s string) string {
	return `'` + strings.ReplaceAll(s, `'`, `''`) + `'`
}
