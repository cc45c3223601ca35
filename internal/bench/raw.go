package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/uptrace/bun"
	"golang.org/x/sync/errgroup"
)

// rawList lists bucket sequentially with ListObjectsV2 (1000 keys a page) and returns
// the keys seen and the time taken.
func rawList(ctx context.Context, c *s3.Client, bucket string) (int, time.Duration, error) {
	start := time.Now()
	n := 0
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, 0, fmt.Errorf("list %s: %w", bucket, err)
		}
		n += len(page.Contents)
	}
	return n, time.Since(start), nil
}

// rawCopy copies each object to "dev/"+key in the same bucket with CopyObject at the
// given parallelism.
func rawCopy(ctx context.Context, c *s3.Client, bucket string, objs []object, parallelism int) (time.Duration, error) {
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallelism)
	for _, o := range objs {
		g.Go(func() error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{
				Bucket:     aws.String(bucket),
				Key:        aws.String("dev/" + o.Key),
				CopySource: aws.String(escapePath(bucket + "/" + o.Key)),
			})
			if err != nil {
				return fmt.Errorf("copy %q: %w", o.Key, err)
			}
			return nil
		})
	}
	err := g.Wait()
	return time.Since(start), err
}

// checkedDeletion returns, sorted, the keys of the objects' copies ("dev/"+key) and
// the check that makes their deletion the ceiling of a re-checked one, as r2plan's is:
// a batch is deleted after listings have shown both the copies and the objects (per
// first path segment, from just before a run's first key to its last), with nothing
// else of r2plan's (no plan, no database).
func checkedDeletion(c *s3.Client, bucket string, objs []object) ([]string, func(context.Context, []string) error) {
	copies := make([]string, len(objs))
	for i, o := range objs {
		copies[i] = "dev/" + o.Key
	}
	slices.Sort(copies)
	check := func(ctx context.Context, batch []string) error {
		sources := make([]string, len(batch))
		for i, k := range batch {
			sources[i] = strings.TrimPrefix(k, "dev/")
		}
		if err := listAll(ctx, c, bucket, sources); err != nil {
			return err
		}
		return listAll(ctx, c, bucket, batch)
	}
	return copies, check
}

// listAll lists sorted keys, a run per first path segment from just before its first
// key until it has seen them all, and fails if one is missing.
func listAll(ctx context.Context, c *s3.Client, bucket string, keys []string) error {
	for len(keys) > 0 {
		seg := keys[0][:strings.IndexByte(keys[0], '/')+1]
		n := 1
		for n < len(keys) && strings.HasPrefix(keys[n], seg) {
			n++
		}
		run := keys[:n]
		keys = keys[n:]
		want := make(map[string]bool, len(run))
		for _, k := range run {
			want[k] = true
		}
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(seg),
			StartAfter: aws.String(run[0][:len(run[0])-1]), MaxKeys: aws.Int32(1000)})
		for p.HasMorePages() && len(want) > 0 {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("list %s: %w", bucket, err)
			}
			for _, o := range page.Contents {
				delete(want, aws.ToString(o.Key))
			}
			if len(page.Contents) > 0 && aws.ToString(page.Contents[len(page.Contents)-1].Key) > run[len(run)-1] {
				break
			}
		}
		if len(want) > 0 {
			return fmt.Errorf("list %s: %d of %d keys not found, such as %q", bucket, len(want), len(run), run[0])
		}
	}
	return nil
}

// rawDelete deletes keys with DeleteObjects, 1000 keys a request, quiet, at most 8
// requests in flight (as r2plan's provider does), each batch after check, if given.
func rawDelete(ctx context.Context, c *s3.Client, bucket string, keys []string, check func(context.Context, []string) error) (time.Duration, error) {
	start := time.Now()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := 0; i < len(keys); i += 1000 {
		batch := keys[i:min(i+1000, len(keys))]
		g.Go(func() error {
			if check != nil {
				if err := check(ctx, batch); err != nil {
					return err
				}
			}
			return deleteObjects(ctx, c, bucket, batch)
		})
	}
	err := g.Wait()
	return time.Since(start), err
}

// deleteObjects deletes keys with one quiet DeleteObjects request.
func deleteObjects(ctx context.Context, c *s3.Client, bucket string, keys []string) error {
	ids := make([]types.ObjectIdentifier, len(keys))
	for i, k := range keys {
		ids[i] = types.ObjectIdentifier{Key: aws.String(k)}
	}
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(bucket),
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	})
	if err == nil && len(out.Errors) > 0 {
		err = fmt.Errorf("%d keys refused, first %q: %s", len(out.Errors), aws.ToString(out.Errors[0].Key), aws.ToString(out.Errors[0].Message))
	}
	if err != nil {
		return fmt.Errorf("delete objects: %w", err)
	}
	return nil
}

// columnUpdates are the set-based rewrites of every reference column to the dev/
// prefix: one statement per (table, column), the unit r2plan counts as a "row to
// rewrite".
var columnUpdates = []string{
	`UPDATE "CharacterImage" SET "key" = 'dev/' || "key" WHERE "key" IS NOT NULL`,
	`UPDATE "CharacterImage" SET "url" = '` + publicURL + `/dev/' || substr("url", ` + fmt.Sprint(len(publicURL)+2) + `)`,
	`UPDATE "Story" SET "coverImage" = '` + publicURL + `/dev/' || substr("coverImage", ` + fmt.Sprint(len(publicURL)+2) + `) WHERE "coverImage" IS NOT NULL`,
	`UPDATE "CuratedImage" SET "r2Key" = 'dev/' || "r2Key" WHERE "uploadedToR2" = true AND "r2Key" IS NOT NULL`,
	`UPDATE "CuratedImage" SET "r2Url" = '` + publicURL + `/dev/' || substr("r2Url", ` + fmt.Sprint(len(publicURL)+2) + `) WHERE "uploadedToR2" = true AND "r2Url" IS NOT NULL`,
}

// rawSetUpdate runs the set-based UPDATEs, each in autocommit, and returns the column
// values rewritten and the time.
func rawSetUpdate(ctx context.Context, db *bun.DB) (int64, time.Duration, error) {
	start := time.Now()
	var n int64
	for _, q := range columnUpdates {
		res, err := db.ExecContext(ctx, q)
		if err != nil {
			return n, 0, fmt.Errorf("set-based update: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, time.Since(start), nil
}

// rawPerRow updates up to sample CharacterImage rows one UPDATE (key and url) per row in
// autocommit, as a hand-written script does, and returns the rows and the time.
func rawPerRow(ctx context.Context, db *bun.DB, objs []object, sample int) (int, time.Duration, error) {
	var rows []object
	for _, o := range objs {
		if o.Kind == 'c' && len(rows) < sample {
			rows = append(rows, o)
		}
	}
	start := time.Now()
	for _, o := range rows {
		_, err := db.ExecContext(ctx, `UPDATE "CharacterImage" SET "key" = ?, "url" = ? WHERE "id" = ?`,
			"prod/"+o.Key, publicURL+"/prod/"+escapePath(o.Key), o.ID)
		if err != nil {
			return 0, 0, fmt.Errorf("per-row update: %w", err)
		}
	}
	return len(rows), time.Since(start), nil
}

// rawScan reads the reference columns with plain SELECTs, as plan's scan must, and
// returns the rows read and the time.
func rawScan(ctx context.Context, db *bun.DB) (int, time.Duration, error) {
	return readAll(ctx, db.DB,
		`SELECT "id", "key", "url" FROM "CharacterImage"`,
		`SELECT "id", "coverImage" FROM "Story"`,
		`SELECT "id", "r2Key", "r2Url" FROM "CuratedImage" WHERE "uploadedToR2" = true`,
	)
}

// readAll runs each query in turn and reads every row, each column into bytes that the
// next row reuses (as a tuned scan reads): the rows read and the time.
func readAll(ctx context.Context, db *sql.DB, queries ...string) (int, time.Duration, error) {
	start := time.Now()
	n := 0
	for _, q := range queries {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return n, 0, fmt.Errorf("scan: %w", err)
		}
		cols, _ := rows.Columns()
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return n, 0, fmt.Errorf("scan: %w", err)
			}
			n++
		}
		if err := rows.Close(); err != nil {
			return n, 0, err
		}
		if err := rows.Err(); err != nil {
			return n, 0, err
		}
	}
	return n, time.Since(start), nil
}

// benchTables are the tables of the charhub example's references, by reference name;
// every one's primary key is "id".
var benchTables = map[string]string{"character_image": "CharacterImage", "story_cover": "Story", "curated_image": "CuratedImage"}

// restoreRows puts every row value that r2plan's journal says it rewrote back to the
// value it replaced, then compacts the tables, as the seed left them, and the journal.
func restoreRows(ctx context.Context, db *bun.DB) error {
	var cols []struct {
		Ref    string `bun:"reference"`
		Column string `bun:"column_name"`
	}
	if err := db.NewSelect().TableExpr("r2plan_journal").ColumnExpr("DISTINCT reference, column_name").
		Where("action = 'rewrites'").Scan(ctx, &cols); err != nil {
		return fmt.Errorf("read the journal: %w", err)
	}
	for _, c := range cols {
		table, ok := benchTables[c.Ref]
		if !ok {
			return fmt.Errorf("the journal names reference %q, which the bench does not know", c.Ref)
		}
		q := fmt.Sprintf(`UPDATE %[1]q AS t SET %[2]q = e.value->>1
			FROM r2plan_journal AS j, json_array_elements(j.batch_rows::json) AS e
			WHERE j.action = 'rewrites' AND j.reference = ? AND j.column_name = ?
			AND t."id" = e.value->>0 AND t.%[2]q = e.value->>2`, table, c.Column)
		if _, err := db.ExecContext(ctx, q, c.Ref, c.Column); err != nil {
			return fmt.Errorf("restore %s.%s: %w", table, c.Column, err)
		}
	}
	for _, t := range []string{`"CharacterImage"`, `"Story"`, `"CuratedImage"`, "r2plan_journal"} {
		if _, err := db.ExecContext(ctx, "VACUUM FULL ANALYZE "+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	return nil
}
