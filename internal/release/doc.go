// Package release builds r2plan's release archives: for each of linux, darwin and
// windows on amd64 and arm64, a binary built with -trimpath and
// -ldflags "-s -w -X main.version=VERSION", packed with LICENSE and README.md into
// dist/r2plan_VERSION_OS_ARCH.tar.gz (.zip for windows), and SHA256SUMS over them in
// sha256sum's format. `make release VERSION=v0.x.y` runs it; its test builds the
// host's archive only.
package release
