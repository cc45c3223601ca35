// Command release builds r2plan's release archives and their SHA256SUMS into a
// directory: go run ./internal/release/cmd -version v0.2.0 [-out dist] [-host].
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"

	"github.com/r2plan/r2plan/internal/release"
)

func main() { os.Exit(run(context.Background(), os.Args[1:])) }

func run(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	version := fs.String("version", "", "the release's version, a tag such as v0.2.0")
	out := fs.String("out", "dist", "the directory for the archives and SHA256SUMS")
	host := fs.Bool("host", false, "build the host's platform only")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	targets := release.Targets
	if *host {
		targets = []release.Target{{OS: runtime.GOOS, Arch: runtime.GOARCH}}
	}
	var paths []string
	for _, t := range targets {
		p, err := release.Build(ctx, release.Options{Version: *version, Root: ".", Out: *out}, t)
		if err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			return 1
		}
		fmt.Println(p)
		paths = append(paths, p)
	}
	if err := release.WriteSums(*out, paths); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		return 1
	}
	fmt.Println(*out + "/SHA256SUMS")
	return 0
}
