package main

import (
	"testing"

	"github.com/r2plan/r2plan/config"
	"github.com/r2plan/r2plan/providers/s3"
)

func TestNoOverwriteMode(t *testing.T) {
	tests := map[string]struct {
		endpoint, setting string
		want              s3.NoOverwriteMode
	}{
		"R2 by its host":         {"https://0123abcd.r2.cloudflarestorage.com", "auto", s3.NoOverwriteByR2Header},
		"R2 EU jurisdiction":     {"https://0123abcd.eu.r2.cloudflarestorage.com", "auto", s3.NoOverwriteByR2Header},
		"AWS without endpoint":   {"", "auto", s3.NoOverwriteByIfNoneMatch},
		"AWS regional endpoint":  {"https://s3.eu-west-1.amazonaws.com", "auto", s3.NoOverwriteByIfNoneMatch},
		"another server: HEAD":   {"http://127.0.0.1:7070", "auto", s3.NoOverwriteByHead},
		"lookalike host":         {"https://r2.cloudflarestorage.com.evil.example", "auto", s3.NoOverwriteByHead},
		"explicit head wins":     {"https://x.r2.cloudflarestorage.com", "head", s3.NoOverwriteByHead},
		"explicit if-none-match": {"http://minio:9000", "if-none-match", s3.NoOverwriteByIfNoneMatch},
		"explicit r2-header":     {"http://proxy", "r2-header", s3.NoOverwriteByR2Header},
	}
	for name, tc := range tests {
		if got := noOverwriteMode(config.Bucket{Endpoint: tc.endpoint, NoOverwrite: tc.setting}); got != tc.want {
			t.Errorf("%s: got %v, want %v", name, got, tc.want)
		}
	}
}
