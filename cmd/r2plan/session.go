package main

import (
	"flag"
	"io"
	"log/slog"

	"github.com/r2plan/r2plan/config"
)

// sessionFlags are the flags of every command that reads the configuration and logs:
// --config and --var, and the log and progress flags.
type sessionFlags struct {
	config configFlags
	log    logOptions
}

func (f *sessionFlags) register(fs *flag.FlagSet) {
	f.config.register(fs)
	f.log.register(fs)
}

// A session is what such a command starts from, built the same way by each (start):
// the configuration, output that redacts the configuration's secrets, the logger, and
// the progress display.
type session struct {
	cfg            *config.Config
	stdout, stderr io.Writer // every secret of cfg replaced
	log            *slog.Logger
	// prog draws its bars on the raw stderr (no secret reaches them); its log lines go
	// through log.
	prog *progress
	opts *logOptions
}

// start loads the configuration and opens the outputs. It prints why not and returns
// false when it cannot.
func (f *sessionFlags) start(stdout, stderr io.Writer) (*session, bool) {
	cfg, ok := f.config.load(stderr)
	if !ok {
		return nil, false
	}
	s := &session{cfg: cfg, stdout: redacting(stdout, cfg.Secrets()), stderr: redacting(aboveBars{stderr}, cfg.Secrets()), opts: &f.log}
	log, err := f.log.logger(s.stderr)
	if err != nil {
		s.fail("%v", err)
		return nil, false
	}
	s.log = log
	s.prog = newProgress(stderr, log, &f.log)
	return s, true
}

// fail prints the error a command ends with (see logOptions.fail) and returns the
// exit code of an error.
func (s *session) fail(format string, a ...any) int {
	return s.opts.fail(s.stderr, format, a...)
}
