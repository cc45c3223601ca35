package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/r2plan/r2plan/internal/term"
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

// fail writes the error a command ends with on w, the one place that does: "Error: "
// and the message as text, or under --log-format=json a log record of level ERROR
// with the message as msg, so that stderr stays one JSON object a line. It returns
// the exit code of an error.
func (o *logOptions) fail(w io.Writer, format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	if o.format == "json" {
		slog.New(slog.NewJSONHandler(w, nil)).Error(msg)
		return exitError
	}
	fmt.Fprintf(w, "Error: %s\n", msg)
	return exitError
}

// progress shows how far the phases of a long command are: bars with rate and time
// left on a terminal, log lines (at most one per phase every few seconds) otherwise.
type progress struct {
	bars *mpb.Progress // nil when not a terminal
	log  *slog.Logger
}

// activeBars is the progress display drawing now, if any: a line written to stderr
// while it draws would be drawn over, so notices go above the bars (aboveBars).
var activeBars atomic.Pointer[mpb.Progress]

// aboveBars writes to w, or above the bars while a progress display draws them.
type aboveBars struct{ w io.Writer }

func (a aboveBars) Write(b []byte) (int, error) {
	if p := activeBars.Load(); p != nil {
		if n, err := p.Write(b); err == nil {
			return n, nil
		}
	}
	return a.w.Write(b)
}

// notice writes a line for the person at the terminal on stderr, above the bars when
// they are drawn (the interrupt message).
func notice(line string) {
	if activeBars.Load() == nil {
		line = "\n" + line // below the ^C the terminal echoed
	} else {
		line = "\r\x1b[K" + line // over the ^C the terminal echoed into the bars
	}
	fmt.Fprintln(aboveBars{os.Stderr}, line)
}

// newProgress draws bars on w when the flags and the environment allow them (see
// wantBars); otherwise phases report through log lines, at info level.
func newProgress(w io.Writer, log *slog.Logger, o *logOptions) *progress {
	p := &progress{log: log}
	if wantBars(o, term.IsTerminal(w), os.Getenv("NO_COLOR") != "") {
		p.bars = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
		activeBars.Store(p.bars)
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

// labelWidth is the width phase names are padded to, so that the bars line up
// ("rewrite" is the longest of apply's; a longer name, as plan's "scan NAME", widens
// every label through mpb's width synchronisation).
const labelWidth = 8

// label is a phase's name padded to width.
func label(name string, width int) string {
	return fmt.Sprintf("%-*s", width, name)
}

// counted reports whether a phase of total items shows a counter (no bar, no time
// left): its total is unknown (0), as the listing's is, and "n / 0" would be wrong.
func counted(total int64) bool { return total <= 0 }

// complete reports whether a phase that ends with done of total items is complete:
// its total reached, or a phase of unknown total ended. An interrupted phase is not,
// and its bar is aborted with its count kept rather than drawn full.
func complete(total, done int64) bool { return total <= 0 || done >= total }

// phase starts a phase of total items (0 when unknown).
func (p *progress) phase(name string, total int64) *phase {
	ph := &phase{name: name, total: total, log: p.log, start: time.Now(), last: time.Now()}
	if p.bars != nil {
		name := decor.Name(label(name, labelWidth), decor.WC{C: decor.DSyncSpaceR})
		if counted(total) {
			ph.bar = p.bars.New(0, mpb.SpinnerStyle(),
				mpb.PrependDecorators(name, decor.CurrentNoUnit("%d", decor.WCSyncSpace)),
				mpb.AppendDecorators(decor.AverageSpeed(0, "%.0f/s", decor.WCSyncSpace)),
			)
		} else {
			ph.bar = p.bars.AddBar(total,
				mpb.PrependDecorators(name, decor.CountersNoUnit("%d / %d", decor.WCSyncSpace)),
				mpb.AppendDecorators(decor.AverageSpeed(0, "%.0f/s ", decor.WCSyncSpace), decor.AverageETA(decor.ET_STYLE_GO)),
			)
		}
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
			"rate_per_second", perSecond(done, time.Since(ph.start)))
	}
}

// finish ends the phase: complete when its total was reached (see complete), else
// stopped where it was.
func (ph *phase) finish() {
	if ph == nil {
		return
	}
	done := ph.n.Load()
	ok := complete(ph.total, done)
	if ph.bar != nil {
		if ok {
			ph.bar.SetTotal(done, true)
		} else {
			ph.bar.Abort(false) // drawn as it stands: done of total
		}
		return
	}
	ph.mu.Lock()
	elapsed := time.Since(ph.start)
	ph.mu.Unlock()
	msg := "phase done"
	if !ok {
		msg = "phase stopped"
	}
	ph.log.Info(msg, "phase", ph.name, "done", done, "total", ph.total, "elapsed_seconds", seconds(elapsed),
		"rate_per_second", perSecond(done, elapsed))
}

// Log lines carry durations and rates as numbers, in one unit each, so that a JSON
// log can be read without parsing "1m2.5s" or "670/s": elapsed_seconds (and
// <what>_seconds) to the millisecond, rate_per_second to a tenth.

// seconds is d in seconds, to the millisecond.
func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// perSecond is the rate of n items in d, to a tenth.
func perSecond(n int64, d time.Duration) float64 {
	return math.Round(float64(n)/max(d.Seconds(), 1e-9)*10) / 10
}

// wait lets the bars draw their last state; lines for stderr go to it directly again.
func (p *progress) wait() {
	if p.bars != nil {
		p.bars.Wait()
		activeBars.CompareAndSwap(p.bars, nil)
	}
}
