package main

import (
	"bytes"
	"context"
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
