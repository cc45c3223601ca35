package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/config"
	"github.com/r2plan/r2plan/providers/sqldb"
)

const messagesConfig = `locals {
  host = env("S3_HOST")
}
bucket {
  endpoint          = "https://${local.host}"
  name              = env("S3_BUCKET")
  access_key_id     = env("S3_KEY")
  secret_access_key = env("S3_SECRET")
  public_url        = "https://media.example.com"
}
database {
  url = env("DATABASE_URL")
}
layout {}
reference "images" {
  table       = "Image"
  primary_key = "id"
  key_column  = "key"
  url_column  = "url"
}
`

func s3Error(op string, status int, code string) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "request id ABC"},
		}}}
}

func TestExplain(t *testing.T) {
	env := map[string]string{"S3_HOST": "acct.r2.cloudflarestorage.com", "S3_BUCKET": "media", "S3_KEY": "AKIA0000",
		"S3_SECRET": "secret-0000", "DATABASE_URL": "postgres://u:pw-0000@db:5432/app"}
	cfg, diags := config.LoadSource("r2plan.hcl", []byte(messagesConfig), nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5432},
		Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	ref := cfg.References[0]
	tests := map[string]struct {
		got  error
		want string
	}{
		"credentials": {explainBucket(cfg, s3Error("ListObjectsV2", 403, "SignatureDoesNotMatch")),
			"the bucket refused the credentials (SignatureDoesNotMatch): check bucket.access_key_id and bucket.secret_access_key (S3_KEY, S3_SECRET) in r2plan.hcl:4"},
		"no bucket": {explainBucket(cfg, s3Error("ListObjectsV2", 404, "NoSuchBucket")),
			`bucket "media" does not exist at acct.r2.cloudflarestorage.com: check bucket.name (S3_BUCKET) in r2plan.hcl:4`},
		"endpoint through a local": {explainBucket(cfg, &smithy.OperationError{OperationName: "ListObjectsV2", Err: &net.DNSError{Name: "acct.r2.cloudflarestorage.com", IsNotFound: true}}),
			"cannot reach the bucket's endpoint acct.r2.cloudflarestorage.com (no such host): check bucket.endpoint (S3_HOST) in r2plan.hcl:4"},
		"read-only at plan": {explainBucket(cfg, s3Error("ListObjectsV2", 403, "AccessDenied")),
			`the bucket refused ListObjectsV2 (AccessDenied): the credentials in bucket.access_key_id (S3_KEY) in r2plan.hcl:4 need read access to bucket "media" (an R2 token with Object Read)`},
		"database refused": {explainDatabase(cfg, refused, ""),
			"cannot reach the database at 10.0.0.1:5432 (connection refused): check the host and port in database.url (DATABASE_URL) in r2plan.hcl:11"},
		"login": {explainDatabase(cfg, &pgconn.PgError{Code: "28P01", Message: `password authentication failed for user "u"`}, ""),
			`the database refused the login (password authentication failed for user "u"): check the user and password in database.url (DATABASE_URL) in r2plan.hcl:11`},
		"missing table": {explainReference(cfg, ref, &sqldb.MissingError{Table: sqldb.Table{Name: "Image"}, DB: sqldb.Identity{Driver: "postgres", Host: "db:5432", Name: "app"}}),
			`reference "images" at r2plan.hcl:15: table "Image" does not exist in postgres db:5432/app: check its table`},
		"missing url column": {explainReference(cfg, ref, &sqldb.MissingError{Table: sqldb.Table{Name: "Image"}, Column: "url"}),
			`reference "images" at r2plan.hcl:15: table "Image" has no column "url": check its url_column`},
		"other error keeps its text": {explainBucket(cfg, errors.New("boom")), "boom"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got.Error()); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
		})
	}
	// The explanation wraps the error it explains.
	var pgErr *pgconn.PgError
	if err := explainDatabase(cfg, &pgconn.PgError{Code: "28P01"}, ""); !errors.As(err, &pgErr) {
		t.Errorf("explainDatabase lost the error it explains: %v", err)
	}
}

func TestExplainApplyFailure(t *testing.T) {
	tests := map[string]struct {
		err  error
		res  apply.Result
		want string
	}{
		"read-only token": {s3Error("CopyObject", 403, "AccessDenied"), apply.Result{Copied: 0},
			"the bucket refused CopyObject (AccessDenied): apply needs write access (an R2 token with Object Read & Write); 0 objects were copied and journaled, no row was rewritten; run the same apply again after fixing it"},
		"no UPDATE": {&pgconn.PgError{Code: "42501", Message: "permission denied for table Story"}, apply.Result{Copied: 7, Rewritten: 3},
			"permission denied for table Story: apply needs SELECT and UPDATE on it (see the README's permissions table); 7 objects were copied and journaled, 3 rows were rewritten before it; run the same apply again after granting it"},
		"no INSERT on the journal": {&pgconn.PgError{Code: "42501", Message: "permission denied for table r2plan_journal"}, apply.Result{Copied: 2},
			"permission denied for table r2plan_journal: apply needs the grants on r2plan's tables (see the README's permissions table); 2 objects were copied, no row was rewritten before it; run the same apply again after granting it"},
		"other": {errors.New("boom"), apply.Result{}, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, _ := explainApplyFailure(tt.err, &tt.res)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("message mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
