package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/uptrace/bun"
	"golang.org/x/sync/errgroup"
)

const publicURL = "https://media.charhub.app"

// object is one seeded object and the row that points at it.
type object struct {
	Key  string
	Size int
	Kind byte // 'c' CharacterImage (key+url), 's' Story (coverImage), 'u' CuratedImage (r2Key+r2Url)
	ID   string
}

// awkward file names, as hand-written scripts get them wrong.
var awkward = []string{"my avatar %d.webp", "a+b %d.webp", "100%% %d.webp", "what? %d.webp", "#%d.webp", "café-ü %d.webp"}

// dataset is the N objects of the motivating case's shapes: two thirds character
// images (a tenth of those curated images instead), a third story covers, and 1 in 50
// awkward keys.
func dataset(n int) []object {
	objs := make([]object, n)
	for i := range objs {
		o := object{Size: 1024 + (i*7919)%3072}
		switch {
		case i%50 == 7:
			o.Kind, o.ID = 'c', fmt.Sprintf("img%d", i)
			o.Key = fmt.Sprintf("characters/c%d/avatars/", i) + fmt.Sprintf(awkward[(i/50)%len(awkward)], i)
		case i%3 == 2:
			o.Kind, o.ID = 's', fmt.Sprintf("s%d", i)
			o.Key = fmt.Sprintf("stories/s%d/cover.webp", i)
		case i%10 == 0:
			o.Kind, o.ID = 'u', fmt.Sprintf("cur%d", i)
			o.Key = fmt.Sprintf("curated/cur%d.webp", i)
		default:
			o.Kind, o.ID = 'c', fmt.Sprintf("img%d", i)
			o.Key = fmt.Sprintf("characters/c%d/avatars/avatar_%d.webp", i, 1736700000000+int64(i)*1013)
		}
		objs[i] = o
	}
	return objs
}

// escapePath percent-encodes every byte but A-Za-z0-9-_.~/ (r2plan's URL rule).
func escapePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// rawClient is the bench's own minimal S3 client: plain aws-sdk-go-v2 with a connection
// pool sized to conns, no retries beyond the SDK's three, no checksums but required ones.
func rawClient(endpoint, access, secret string, conns int) *s3.Client {
	tr := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
	}
	cfg := aws.Config{
		Region:                     "auto",
		HTTPClient:                 &http.Client{Transport: tr},
		Credentials:                credentials.NewStaticCredentialsProvider(access, secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           3,
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
}

// putAll uploads objs to bucket with parallel PUTs.
func putAll(ctx context.Context, c *s3.Client, bucket string, objs []object, parallelism int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for _, o := range objs {
		g.Go(func() error {
			body := bytes.Repeat([]byte{byte(len(o.Key))}, o.Size)
			copy(body, o.Key)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket:       aws.String(bucket),
				Key:          aws.String(o.Key),
				Body:         bytes.NewReader(body),
				ContentType:  aws.String("image/webp"),
				CacheControl: aws.String("public, max-age=31536000"),
			})
			if err != nil {
				return fmt.Errorf("put %q: %w", o.Key, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// loadSchema creates the Prisma-shaped tables of testdata/charhub/schema.sql.
func loadSchema(ctx context.Context, db *bun.DB, root string) error {
	schema, err := os.ReadFile(filepath.Join(root, "testdata", "charhub", "schema.sql"))
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, string(schema)); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	return nil
}

// insertRows inserts the row of each object with multi-row INSERTs of 500 rows.
func insertRows(ctx context.Context, db *bun.DB, objs []object) error {
	type table struct {
		head string
		cols int
		rows int
		args []any
	}
	tables := map[byte]*table{
		'c': {head: `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES `, cols: 4},
		's': {head: `INSERT INTO "Story" ("id", "title", "coverImage") VALUES `, cols: 3},
		'u': {head: `INSERT INTO "CuratedImage" ("id", "r2Url", "r2Key", "uploadedToR2") VALUES `, cols: 4},
	}
	flush := func(t *table) error {
		if t.rows == 0 {
			return nil
		}
		ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", t.cols), ", ") + ")"
		q := t.head + strings.TrimSuffix(strings.Repeat(ph+", ", t.rows), ", ")
		_, err := db.ExecContext(ctx, q, t.args...)
		t.rows, t.args = 0, t.args[:0]
		return err
	}
	for i, o := range objs {
		u := publicURL + "/" + escapePath(o.Key)
		t := tables[o.Kind]
		switch o.Kind {
		case 'c':
			if i%4 == 0 {
				u += "?v=1"
			}
			t.args = append(t.args, o.ID, "c"+o.ID, u, o.Key)
		case 's':
			t.args = append(t.args, o.ID, "A story", u)
		case 'u':
			t.args = append(t.args, o.ID, u, o.Key, true)
		}
		t.rows++
		if t.rows == 500 {
			if err := flush(t); err != nil {
				return fmt.Errorf("insert rows: %w", err)
			}
		}
	}
	for _, t := range tables {
		if err := flush(t); err != nil {
			return fmt.Errorf("insert rows: %w", err)
		}
	}
	_, err := db.ExecContext(ctx, `ANALYZE "CharacterImage"; ANALYZE "Story"; ANALYZE "CuratedImage"`)
	return err
}
