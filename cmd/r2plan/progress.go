package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// logOptions are the logging and progress flags of plan and apply. They govern
// stderr only: stdout carries the command's results (the plan, the apply summary)
// whatever they say.
type logOptions struct {
	format   string
	level    string
	quiet    bool
	progress string
}

func (o *logOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.format, "log-format", "text", "log `format` on stderr: text or json")
	fs.StringVar(&o.level, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.BoolVar(&o.quiet, "q", false, "quiet: no progress bars and no info logs on stderr, only warnings and errors (as --progress=never --log-level=warn)")
	fs.BoolVar(&o.quiet, "quiet", false, "same as -q")
	fs.StringVar(&o.progress, "progress", "auto", "progress `mode`: auto (bars when stderr is a terminal, log lines every few seconds otherwise) or never (log lines only)")
}

// logger returns the logger the flags ask for, writing to w.
func (o *logOptions) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	if o.quiet {
		level = max(level, slog.LevelWarn)
	}
	switch o.progress {
	case "auto", "never":
	default:
		return nil, fmt.Errorf("--progress: want auto or never, not %q", o.progress)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch o.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, not %q", o.format)
}

// progress shows how far the phases of a long command are: bars with rate and time
// left on a terminal, log lines (at most one per phase every few seconds) otherwise.
type progress struct {
	bars *mpb.Progress // nil when not a terminal
	log  *slog.Logger
}

// newProgress draws bars on w when the flags and the environment allow them (see
// wantBars); otherwise phases report through log lines, at info level.
func newProgress(w io.Writer, log *slog.Logger, o *logOptions) *progress {
	p := &progress{log: log}
	f, ok := w.(*os.File)
	if wantBars(o, ok && isTerminal(f), os.Getenv("NO_COLOR") != "") {
		p.bars = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
	}
	return p
}

// wantBars reports whether to draw progress bars: only on a terminal, with text logs,
// --progress=auto and not -q, and not when NO_COLOR is set. The bars draw no color
// but redraw themselves with ANSI cursor sequences; a user who asks for no color gets
// plain log lines, which carry the same counts and rates.
func wantBars(o *logOptions, terminal, noColor bool) bool {
	return terminal && !noColor && !o.quiet && o.progress != "never" && o.format == "text"
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// phase is one phase's counter.
type phase struct {
	name  string
	total int64
	n     atomic.Int64
	bar   *mpb.Bar
	log   *slog.Logger
	mu    sync.Mutex
	last  time.Time
	start time.Time // of the first item, so a phase that waits its turn is not slower
	once  sync.Once
}

// phase starts a phase of total items (0 when unknown).
func (p *progress) phase(name string, total int64) *phase {
	ph := &phase{name: name, total: total, log: p.log, start: time.Now(), last: time.Now()}
	if p.bars != nil {
		ph.bar = p.bars.AddBar(total,
			mpb.PrependDecorators(decor.Name(name, decor.WC{C: decor.DindentRight | decor.DextraSpace}), decor.CountersNoUnit("%d / %d")),
			mpb.AppendDecorators(decor.AverageSpeed(0, "%.0f/s ", decor.WCSyncSpace), decor.AverageETA(decor.ET_STYLE_GO)),
		)
	}
	return ph
}

// add counts n more items done.
func (ph *phase) add(n int) {
	if ph == nil || n == 0 {
		return
	}
	ph.once.Do(func() {
		ph.mu.Lock()
		ph.start, ph.last = time.Now(), time.Now()
		ph.mu.Unlock()
	})
	done := ph.n.Add(int64(n))
	if ph.bar != nil {
		ph.bar.IncrBy(n)
		return
	}
	ph.mu.Lock()
	defer ph.mu.Unlock()
	if time.Since(ph.last) >= 5*time.Second {
		ph.last = time.Now()
		ph.log.Info("progress", "phase", ph.name, "done", done, "total", ph.total,
			"rate", fmt.Sprintf("%.0f/s", float64(done)/time.Since(ph.start).Seconds()))
	}
}

// finish ends the phase.
func (ph *phase) finish() {
	if ph == nil {
		return
	}
	done := ph.n.Load()
	if ph.bar != nil {
		ph.bar.SetTotal(done, true)
		return
	}
	ph.mu.Lock()
	elapsed := time.Since(ph.start)
	ph.mu.Unlock()
	ph.log.Info("phase done", "phase", ph.name, "done", done, "elapsed", elapsed.Round(time.Millisecond),
		"rate", fmt.Sprintf("%.0f/s", float64(done)/max(elapsed.Seconds(), 1e-9)))
}

// wait lets the bars draw their last state.
func (p *progress) wait() {
	if p.bars != nil {
		p.bars.Wait()
	}
}
