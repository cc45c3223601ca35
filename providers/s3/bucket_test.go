package s3

import (
	"strings"
	"testing"
)

func TestOpenIdentity(t *testing.T) {
	tests := map[string]struct {
		opts    Options
		want    string
		wantErr string
	}{
		"r2": {
			opts: Options{Endpoint: "https://ACCOUNT.r2.cloudflarestorage.com", Bucket: "media", PathStyle: true},
			want: "account.r2.cloudflarestorage.com/media",
		},
		"port kept": {
			opts: Options{Endpoint: "http://127.0.0.1:7070/", Bucket: "b"},
			want: "127.0.0.1:7070/b",
		},
		"aws": {
			opts: Options{Region: "eu-west-1", Bucket: "b"},
			want: "s3.eu-west-1.amazonaws.com/b",
		},
		"no bucket": {
			opts:    Options{Endpoint: "http://127.0.0.1:7070"},
			wantErr: "no bucket",
		},
		"userinfo refused, not echoed": {
			opts:    Options{Endpoint: "https://AKID:hunter2@example.com", Bucket: "b"},
			wantErr: "must not carry credentials",
		},
		"not a url": {
			opts:    Options{Endpoint: "://hunter2", Bucket: "b"},
			wantErr: "not a URL",
		},
		"half credentials": {
			opts:    Options{Endpoint: "http://x", Bucket: "b", AccessKeyID: "AKID"},
			wantErr: "both",
		},
		"tiny parts": {
			opts:    Options{Endpoint: "http://x", Bucket: "b", PartSize: 1 << 20},
			wantErr: "below the minimum",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if tt.opts.AccessKeyID == "" && tt.opts.SecretAccessKey == "" {
				tt.opts.AccessKeyID, tt.opts.SecretAccessKey = "AKID", "hunter2"
			}
			b, err := Open(t.Context(), tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open = %v; want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q holds the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Identity(); got != tt.want {
				t.Errorf("Identity() = %q, want %q", got, tt.want)
			}
			if b.Name() != tt.opts.Bucket {
				t.Errorf("Name() = %q", b.Name())
			}
		})
	}
}
