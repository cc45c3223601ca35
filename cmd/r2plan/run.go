package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes, as Terraform's: 0 success, 1 error, 2 changes present (only with
// plan --detailed-exitcode).
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2
)

// A command is one subcommand: its name, usage line and run function.
type command struct {
	name  string
	usage string
	short string
	// run runs the command; stop closes at the first interrupt (finish what is in
	// flight, start nothing new), and ctx is cancelled at the second.
	run func(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		validateCommand, discoverCommand, planCommand, showCommand, applyCommand, unlockCommand, versionCommand,
	}
}

// run runs the command line args; stop closes at the first interrupt (nil: none comes).
func run(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		// A usage error, as git's: the usage on stderr, exit 1 (2 means changes here).
		usage(stderr)
		return exitError
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return versionCommand.run(ctx, stop, args[1:], stdout, stderr)
	case "help":
		return runHelp(args[1:], stdout, stderr)
	}
	if c, ok := lookup(args[0]); ok {
		return c.run(ctx, stop, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "r2plan: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitError
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// runHelp is 'r2plan help [COMMAND]': the command list, or one command's usage and
// flags, on stdout.
func runHelp(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
		if c, ok := lookup(args[0]); ok {
			// A command prints its usage when asked for -h; ask it.
			return c.run(context.Background(), nil, []string{"-h"}, stdout, stderr)
		}
		fmt.Fprintf(stderr, "r2plan help: unknown command %q\n\n", args[0])
	default:
		fmt.Fprintln(stderr, "r2plan help: takes at most one command")
	}
	usage(stderr)
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: r2plan <command> [flags] [arguments]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.short)
	}
	fmt.Fprintln(w, "\nFlags may come before or after a command's arguments; -- ends them.")
	fmt.Fprintln(w, "Run 'r2plan help <command>' or 'r2plan <command> -h' for a command's flags.")
	fmt.Fprintln(w, "'r2plan --version' prints the version.")
}

// newFlags returns a flag set that reports errors instead of exiting. -h and -help
// print the command's usage on stdout (exit 0); a usage error prints it on stderr
// (exit 1).
func newFlags(c command, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: r2plan %s\n\n%s\n", c.usage, c.short)
		if n := countFlags(fs); n > 0 {
			fmt.Fprintln(w, "\nFlags (before or after the arguments; -- ends them):")
			printDefaults(w, fs)
		}
	}
	h := &helpFlag{stdout: stdout}
	fs.Var(h, "h", "print this help")
	fs.Var(h, "help", "print this help")
	return fs
}

// helpFlag is -h and -help: set, the command prints its usage on stdout.
type helpFlag struct {
	set    bool
	stdout io.Writer
}

func (h *helpFlag) String() string   { return "" }
func (h *helpFlag) IsBoolFlag() bool { return true }
func (h *helpFlag) Set(s string) error {
	h.set = s != "false"
	return nil
}

func isHelpFlag(f *flag.Flag) bool { return f.Name == "h" || f.Name == "help" }

func countFlags(fs *flag.FlagSet) int {
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		if !isHelpFlag(f) {
			n++
		}
	})
	return n
}

// printDefaults is flag.PrintDefaults without -h and -help, and with the -- spelling
// users type.
func printDefaults(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if isHelpFlag(f) {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if len(f.Name) == 1 {
			line = "  -" + f.Name
		}
		if name != "" {
			line += "=" + name
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		switch f.DefValue {
		case "", "0", "0s", "false":
		default:
			if g, ok := f.Value.(flag.Getter); ok && isString(g.Get()) {
				line += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				line += fmt.Sprintf(" (default %v)", f.DefValue)
			}
		}
		fmt.Fprintln(w, line)
	})
}
func isString(v any) bool {
	_, ok := v.(string)
	return ok
}

// parseFlags parses args, flags and positional arguments in any order ("show
// move.plan --format=json"; the flag package alone stops at the first positional),
// and returns the exit code to stop with, if any. "--" ends the flags. Afterwards
// fs.Args() holds the positional arguments, in order.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			// The flag package has printed the error and the usage, on stderr.
			return exitError, true
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	if h, ok := fs.Lookup("h").Value.(*helpFlag); ok && h.set {
		fs.SetOutput(h.stdout)
		fs.Usage()
		return exitOK, true
	}
	// Leave the positional arguments in fs.Args(): after "--", nothing is a flag.
	fs.Parse(append([]string{"--"}, positional...))
	return 0, false
}

// varsFlag collects repeated --var name=value flags.
type varsFlag map[string]string

func (v varsFlag) String() string { return "" }

func (v varsFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[name] = value
	return nil
}
