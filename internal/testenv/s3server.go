package testenv

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// S3Server is a throwaway versitygw (posix backend) started by StartS3, listening on
// 127.0.0.1 with one root user.
type S3Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Region    string // "auto"

	dir     string
	meta    string // the sidecar directory, when the data's filesystem has no user xattrs
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been waited for
	waitErr error
}

// S3Region is the region versitygw is started with: what R2 expects.
const S3Region = "auto"

// StartS3 starts versitygw with the posix backend over dir/data (created if needed),
// with --keep-alive --region auto --quiet, listening on a free loopback port, with
// the root credentials given (random distinctive ones if empty). It waits until the
// server answers HTTP and returns. The credentials reach versitygw through its
// environment, not its command line, so they do not show in ps.
//
// The posix backend keeps ETags, Content-Type and user metadata in extended
// attributes (user.*). If dir's filesystem refuses them (tmpfs without user xattrs,
// some overlay filesystems), the metadata goes to a sidecar directory dir/meta
// instead (--sidecar); --nometa is never used, because it drops the metadata that
// copies must preserve.
//
// versitygw's stdout and stderr go to dir/versitygw.log. The server dies with the
// calling process (Pdeathsig SIGKILL); call Stop to shut it down.
func StartS3(ctx context.Context, dir, accessKey, secretKey string) (*S3Server, error) {
	bin, err := VersitygwPath(ctx)
	if err != nil {
		return nil, err
	}
	if accessKey == "" {
		accessKey = "R2PLANAK" + strings.ToUpper(vgwRandHex(6))
	}
	if secretKey == "" {
		secretKey = "r2plan-sk-" + vgwRandHex(16)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	s := &S3Server{
		AccessKey: accessKey,
		SecretKey: secretKey,
		Region:    S3Region,
		dir:       dir,
		logPath:   filepath.Join(dir, "versitygw.log"),
	}
	backend := []string{"posix"}
	if !vgwXattrSupported(data) {
		meta := filepath.Join(dir, "meta")
		if err := os.MkdirAll(meta, 0o755); err != nil {
			return nil, err
		}
		backend = append(backend, "--sidecar", meta)
		s.meta = meta
	}
	backend = append(backend, data)

	// A free port can be taken between choosing it and binding it; try a few.
	for attempt := 0; ; attempt++ {
		err = s.start(ctx, bin, backend)
		if err == nil || attempt == 4 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *S3Server) start(ctx context.Context, bin string, backend []string) error {
	port, err := s3FreePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append([]string{
		"--port", addr,
		"--region", S3Region,
		"--keep-alive",
		"--quiet",
	}, backend...)
	// Not CommandContext: the server outlives ctx, which only bounds the start.
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(),
		"ROOT_ACCESS_KEY_ID="+s.AccessKey,
		"ROOT_SECRET_ACCESS_KEY="+s.SecretKey,
	)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logf, "--- %s: versitygw %s\n", time.Now().Format(time.RFC3339), strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("versitygw: start: %w", err)
	}
	exited := make(chan struct{})
	s.cmd = cmd
	s.exited = exited
	go func() {
		s.waitErr = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.Endpoint = "http://" + addr

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// Any HTTP answer (an anonymous request gets 403) means it is serving.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/", nil)
		if err != nil {
			s.kill()
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("versitygw: exited (%v); log %s:\n%s", s.waitErr, s.logPath, s.logTail())
		case <-ctx.Done():
			s.kill()
			return fmt.Errorf("versitygw: not answering on %s: %w (last: %v); log %s:\n%s",
				addr, ctx.Err(), err, s.logPath, s.logTail())
		case <-tick.C:
		}
	}
}

// Stop kills the server and waits for it to exit. It is safe to call more than once.
func (s *S3Server) Stop() error {
	s.kill()
	s.cmd = nil
	return nil
}

// Pid is versitygw's process id (0 once stopped): the benchmark reads its CPU time.
func (s *S3Server) Pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// LogPath is the file that holds versitygw's stdout and stderr.
func (s *S3Server) LogPath() string { return s.logPath }

func (s *S3Server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

func (s *S3Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func s3FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// vgwXattrSupported reports whether files in dir accept user.* extended attributes.
func vgwXattrSupported(dir string) bool {
	f, err := os.CreateTemp(dir, ".xattr-probe-")
	if err != nil {
		return false
	}
	name := f.Name()
	f.Close()
	defer os.Remove(name)
	return syscall.Setxattr(name, "user.r2plan.probe", []byte("1"), 0) == nil
}

func vgwRandHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

var vgwTool struct {
	mu   sync.Mutex
	path string
}

// VersitygwPath returns the path of the versitygw binary pinned as a tool in go.mod,
// as `go tool -n versitygw` prints it when run from the module root (building it the
// first time, which can take minutes). A successful answer is cached for the process.
func VersitygwPath(ctx context.Context) (string, error) {
	vgwTool.mu.Lock()
	defer vgwTool.mu.Unlock()
	if vgwTool.path != "" {
		return vgwTool.path, nil
	}
	root, err := vgwModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, vgwGoCommand(), "tool", "-n", "versitygw")
	cmd.Dir = root
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go tool -n versitygw (in %s): %w\n%s", root, err, stderr.Bytes())
	}
	path := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(path, '\n'); i >= 0 {
		path = strings.TrimSpace(path[i+1:])
	}
	if path == "" {
		return "", fmt.Errorf("go tool -n versitygw (in %s) printed no path\n%s", root, stderr.Bytes())
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("versitygw: %w", err)
	}
	vgwTool.path = path
	return path, nil
}

// vgwModuleRoot finds the directory of the go.mod that encloses the working directory,
// walking up; failing that, it asks `go env GOMOD`.
func vgwModuleRoot(ctx context.Context) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	out, err := exec.CommandContext(ctx, vgwGoCommand(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("versitygw: no go.mod above " + wd + " (run inside the r2plan module)")
	}
	return filepath.Dir(gomod), nil
}

// vgwGoCommand is the go command: the one on PATH, else the one of the toolchain that
// built this binary.
func vgwGoCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// WriteObject stores an object straight into the posix backend's directory, as the
// server's PutObject stores it (the file, and its quoted MD5 as the etag attribute),
// without a request: seeding a million objects by PUT takes ten minutes on a small
// machine. The bucket must exist. The server lists, copies and deletes such objects as
// its own.
func (s *S3Server) WriteObject(bucket, key string, body []byte) error {
	path := filepath.Join(s.dir, "data", bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return err
	}
	sum := md5.Sum(body)
	etag := []byte(`"` + hex.EncodeToString(sum[:]) + `"`)
	if s.meta == "" {
		return syscall.Setxattr(path, "user.etag", etag, 0)
	}
	dir := filepath.Join(s.meta, bucket, filepath.FromSlash(key), "meta")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "etag"), etag, 0o644)
}
