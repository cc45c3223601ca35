package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

// TestWantBars checks when progress bars are drawn: tests never have a terminal, so
// the choice is a function of what newProgress finds.
func TestWantBars(t *testing.T) {
	text := logOptions{format: "text", level: "info", progress: "auto"}
	with := func(f func(*logOptions)) *logOptions {
		o := text
		f(&o)
		return &o
	}
	tests := map[string]struct {
		opts              *logOptions
		terminal, noColor bool
		want              bool
	}{
		"terminal":                 {&text, true, false, true},
		"not a terminal":           {&text, false, false, false},
		"NO_COLOR":                 {&text, true, true, false},
		"-q":                       {with(func(o *logOptions) { o.quiet = true }), true, false, false},
		"--progress=never":         {with(func(o *logOptions) { o.progress = "never" }), true, false, false},
		"--log-format=json":        {with(func(o *logOptions) { o.format = "json" }), true, false, false},
		"-q, not a terminal":       {with(func(o *logOptions) { o.quiet = true }), false, false, false},
		"--progress=auto, no tty":  {&text, false, true, false},
		"--progress=never, no tty": {with(func(o *logOptions) { o.progress = "never" }), false, false, false},
	}
	for name, tt := range tests {
		if got := wantBars(tt.opts, tt.terminal, tt.noColor); got != tt.want {
			t.Errorf("%s: wantBars = %v, want %v", name, got, tt.want)
		}
	}
}

// TestQuietLogger checks that -q keeps warnings and errors and drops info, and that
// --progress takes only auto or never.
func TestQuietLogger(t *testing.T) {
	tests := map[string]struct {
		opts    logOptions
		wantErr bool
		logged  map[slog.Level]bool
	}{
		"default": {logOptions{format: "text", level: "info", progress: "auto"}, false,
			map[slog.Level]bool{slog.LevelDebug: false, slog.LevelInfo: true, slog.LevelWarn: true, slog.LevelError: true}},
		"-q": {logOptions{format: "text", level: "info", progress: "auto", quiet: true}, false,
			map[slog.Level]bool{slog.LevelInfo: false, slog.LevelWarn: true, slog.LevelError: true}},
		"-q --log-level=debug": {logOptions{format: "json", level: "debug", progress: "never", quiet: true}, false,
			map[slog.Level]bool{slog.LevelDebug: false, slog.LevelInfo: false, slog.LevelWarn: true}},
		"-q --log-level=error": {logOptions{format: "text", level: "error", progress: "auto", quiet: true}, false,
			map[slog.Level]bool{slog.LevelWarn: false, slog.LevelError: true}},
		"--progress=always": {logOptions{format: "text", level: "info", progress: "always"}, true, nil},
	}
	for name, tt := range tests {
		var buf bytes.Buffer
		log, err := tt.opts.logger(&buf)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: logger error %v, want error: %v", name, err, tt.wantErr)
			continue
		}
		for level, want := range tt.logged {
			if got := log.Enabled(context.Background(), level); got != want {
				t.Errorf("%s: %v enabled = %v, want %v", name, level, got, want)
			}
		}
	}
}

// TestFail checks the final error in each log format, and that durations and rates
// are logged as numbers.
func TestFail(t *testing.T) {
	var text, js bytes.Buffer
	if code := (&logOptions{format: "text"}).fail(&text, "open bucket: %v\nNothing was changed.", "denied"); code != exitError {
		t.Errorf("exit code %d, want %d", code, exitError)
	}
	if want := "Error: open bucket: denied\nNothing was changed.\n"; text.String() != want {
		t.Errorf("text: %q, want %q", text.String(), want)
	}
	(&logOptions{format: "json"}).fail(&js, "open bucket: %v", "denied")
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil || rec["level"] != "ERROR" || rec["msg"] != "open bucket: denied" {
		t.Errorf("json: %s (%v), want one record of level ERROR with the message as msg", js.String(), err)
	}

	js.Reset()
	ph := (&progress{log: slog.New(slog.NewJSONHandler(&js, nil))}).phase("copy", 10)
	ph.add(10)
	ph.finish()
	rec = nil
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"elapsed_seconds", "rate_per_second"} {
		if _, ok := rec[field].(float64); !ok {
			t.Errorf("phase done: %s = %#v, want a number", field, rec[field])
		}
	}
}

// TestBarDecisions checks what a bar shows without a terminal: a counter when the
// total is unknown, complete only when the total was reached, labels of one width.
func TestBarDecisions(t *testing.T) {
	tests := map[string]struct {
		total, done      int64
		counter, success bool
	}{
		"listing, ended":          {0, 5000, true, true},
		"listing, nothing listed": {0, 0, true, true},
		"copies, all done":        {14, 14, false, true},
		"copies, interrupted":     {3000, 1200, false, false},
		"copies, none started":    {3000, 0, false, false},
	}
	for name, tt := range tests {
		if got := counted(tt.total); got != tt.counter {
			t.Errorf("%s: counted(%d) = %v, want %v", name, tt.total, got, tt.counter)
		}
		if got := complete(tt.total, tt.done); got != tt.success {
			t.Errorf("%s: complete(%d, %d) = %v, want %v", name, tt.total, tt.done, got, tt.success)
		}
	}
	for _, name := range []string{"list", "copy", "rewrite", "delete"} {
		if got := label(name, labelWidth); len(got) != labelWidth {
			t.Errorf("label(%q) = %q, %d wide, want %d", name, got, len(got), labelWidth)
		}
	}
	if got := label("scan character_image", labelWidth); got != "scan character_image" {
		t.Errorf("a long name is kept whole, got %q", got)
	}

	// Without bars, an interrupted phase says it stopped, with its count and total.
	var buf bytes.Buffer
	ph := (&progress{log: slog.New(slog.NewJSONHandler(&buf, nil))}).phase("copy", 3000)
	ph.add(1200)
	ph.finish()
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec["msg"] != "phase stopped" || rec["done"] != 1200.0 || rec["total"] != 3000.0 {
		t.Errorf("interrupted phase logged %s (%v), want phase stopped, done 1200 of 3000", buf.String(), err)
	}
}
