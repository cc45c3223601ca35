package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/time/rate"

	"github.com/r2plan/r2plan/providers"
)

// Defaults for the zero values of Options.
const (
	DefaultRegion      = "auto"
	DefaultParallelism = 32
	// DefaultMultipartThreshold is the largest object copied with one CopyObject:
	// R2 refuses a single-request copy of 5 GiB or more, so stay a little below it.
	DefaultMultipartThreshold int64 = 5_363_466_240
	DefaultPartSize           int64 = 256 << 20
	DefaultMaxAttempts              = 10

	// MinPartSize is S3's and R2's smallest part (all parts but the last).
	MinPartSize int64 = 5 << 20
	// maxParts is the most parts one multipart upload may have.
	maxParts = 10_000
)

// NoOverwriteMode says which conditional header, if any, guards a copy against a target
// written since it was seen absent. Every mode first makes sure the target is absent or
// already the copy (a listing by the caller, or Copy's HEAD): a header is only ever
// relied on for the window between that look and the copy, on a server that honours it.
type NoOverwriteMode uint8

const (
	// NoOverwriteByHead (the default) sends no conditional header: correct on every S3
	// server. A target written by someone else between the look and the copy can still
	// be overwritten.
	NoOverwriteByHead NoOverwriteMode = iota
	// NoOverwriteByIfNoneMatch also sends "If-None-Match: *" with CopyObject, as AWS
	// S3 honours since 2024, which closes the window there. versitygw v1.8.0 and MinIO
	// ignore it on CopyObject.
	NoOverwriteByIfNoneMatch
	// NoOverwriteByR2Header also sends "cf-copy-destination-if-none-match: *", the
	// header R2's documentation names for a conditional CopyObject on the destination.
	// Not verified against R2 by r2plan's tests; versitygw ignores it.
	NoOverwriteByR2Header
)

func (m NoOverwriteMode) String() string {
	switch m {
	case NoOverwriteByHead:
		return "head"
	case NoOverwriteByIfNoneMatch:
		return "if-none-match"
	case NoOverwriteByR2Header:
		return "r2-header"
	}
	return fmt.Sprintf("NoOverwriteMode(%d)", uint8(m))
}

// Options configure a Bucket. Zero values take the defaults above.
type Options struct {
	Endpoint        string // full URL; empty means AWS
	Region          string // default "auto" ("us-east-1" when Endpoint is empty)
	Bucket          string
	AccessKeyID     string // empty (with SecretAccessKey) means the SDK's default chain
	SecretAccessKey string
	PathStyle       bool // callers pass true for custom endpoints
	// Parallelism sizes the HTTP connection pool (MaxIdleConns, MaxIdleConnsPerHost,
	// MaxConnsPerHost are twice it, leaving room for multipart parts and HEADs) and
	// bounds batch deletes. Default 32.
	Parallelism int
	// MultipartThreshold: copies of larger objects use UploadPartCopy.
	MultipartThreshold int64
	// PartSize of a multipart copy (default 256 MiB, at least MinPartSize; grown
	// when an object would need more than 10,000 parts).
	PartSize int64
	// MaxAttempts per request, the first included (default 10).
	MaxAttempts int
	// NoOverwrite chooses how Copy refuses to overwrite a differing target.
	NoOverwrite NoOverwriteMode
	// Rate caps the requests per second sent to the server (0: no cap), for a
	// production bucket that serves live traffic. Retries count too.
	Rate float64
	// Logger gets a debug line per retry (default: none).
	Logger *slog.Logger
}

// Bucket is one bucket on an S3-compatible server. Its methods are safe for
// concurrent use.
type Bucket struct {
	client    *s3.Client
	opts      Options
	identity  string
	throttled *atomic.Int64
}

// Open checks o, fills in defaults and builds the client. It does no network I/O.
func Open(ctx context.Context, o Options) (*Bucket, error) {
	if o.Bucket == "" {
		return nil, errors.New("s3: no bucket name")
	}
	if o.Region == "" {
		o.Region = DefaultRegion
		if o.Endpoint == "" {
			o.Region = "us-east-1"
		}
	}
	if o.Parallelism <= 0 {
		o.Parallelism = DefaultParallelism
	}
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = DefaultMultipartThreshold
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3: part size %d is below the minimum %d", o.PartSize, MinPartSize)
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.NoOverwrite > NoOverwriteByR2Header {
		return nil, fmt.Errorf("s3: unknown no-overwrite mode %d", o.NoOverwrite)
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return nil, errors.New("s3: give both an access key ID and a secret access key, or neither")
	}

	identity, err := identityOf(o)
	if err != nil {
		return nil, err
	}

	conns := 2 * o.Parallelism
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = conns
		t.MaxIdleConnsPerHost = conns
		t.MaxConnsPerHost = conns
		t.IdleConnTimeout = 90 * time.Second
		t.DisableKeepAlives = false
	}).WithDialerOptions(func(d *net.Dialer) {
		d.KeepAlive = 30 * time.Second
	})

	throttled := new(atomic.Int64)
	var client aws.HTTPClient = &throttleCounter{next: httpClient, n: throttled}
	if o.Rate > 0 {
		client = &limitedClient{next: client, lim: rate.NewLimiter(rate.Limit(o.Rate), max(1, int(o.Rate/10)))}
	}
	cfg := aws.Config{
		Region:                     o.Region,
		HTTPClient:                 client,
		Retryer:                    func() aws.Retryer { return newRetryer(o.MaxAttempts, o.Logger) },
		RetryMaxAttempts:           o.MaxAttempts,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if o.AccessKeyID != "" {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")
	} else {
		cfg.Credentials, err = defaultCredentials(ctx, o.Region)
		if err != nil {
			return nil, err
		}
	}
	var resolver *staticEndpoint
	if o.Endpoint != "" {
		base, err := url.Parse(o.Endpoint)
		if err != nil || base.Host == "" {
			return nil, fmt.Errorf("s3: endpoint is not an absolute URL")
		}
		resolver = &staticEndpoint{base: *base, pathStyle: o.PathStyle}
	}
	s3client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if resolver != nil {
			so.BaseEndpoint = aws.String(o.Endpoint)
			so.EndpointResolverV2 = resolver
		}
		so.UsePathStyle = o.PathStyle
		so.APIOptions = append(so.APIOptions, useListPageDecoder)
	})
	return &Bucket{client: s3client, opts: o, identity: identity, throttled: throttled}, nil
}

// throttleCounter counts the throttling answers (429, 503) of every request.
type throttleCounter struct {
	next aws.HTTPClient
	n    *atomic.Int64
}

func (c *throttleCounter) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(r)
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		c.n.Add(1)
	}
	return resp, err
}

// Throttled is how many throttling answers (HTTP 429 or 503) the server has sent this
// Bucket's requests so far, retried ones included: apply's copies slow down when it
// grows.
func (b *Bucket) Throttled() int64 { return b.throttled.Load() }

// limitedClient sends at most its limiter's rate of requests.
type limitedClient struct {
	next aws.HTTPClient
	lim  *rate.Limiter
}

func (c *limitedClient) Do(r *http.Request) (*http.Response, error) {
	if err := c.lim.Wait(r.Context()); err != nil {
		return nil, err
	}
	return c.next.Do(r)
}

// identityOf is "host/bucket" of the endpoint, without scheme or credentials.
func identityOf(o Options) (string, error) {
	if o.Endpoint == "" {
		return "s3." + o.Region + ".amazonaws.com/" + o.Bucket, nil
	}
	u, err := url.Parse(o.Endpoint)
	if err != nil {
		// url.Parse quotes the input in its error; the endpoint may hold a userinfo.
		return "", errors.New("s3: endpoint is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", errors.New("s3: endpoint must be an http:// or https:// URL with a host")
	}
	if u.User != nil {
		return "", errors.New("s3: endpoint must not carry credentials; use the access key options")
	}
	return strings.ToLower(u.Host) + "/" + o.Bucket, nil
}

// Name is the bucket's name.
func (b *Bucket) Name() string { return b.opts.Bucket }

// Identity is "host/bucket" of the endpoint (no credentials, no scheme), which a plan
// records to check it is applied to the bucket it was made for.
func (b *Bucket) Identity() string { return b.identity }

// Head returns the size and ETag of key; a missing object wraps providers.ErrNotFound.
func (b *Bucket) Head(ctx context.Context, key string) (size int64, etag string, err error) {
	out, err := b.head(ctx, key)
	if err != nil {
		return 0, "", fmt.Errorf("head %q: %w", key, err)
	}
	return aws.ToInt64(out.ContentLength), unquote(aws.ToString(out.ETag)), nil
}

// head is HeadObject with a 404 mapped to providers.ErrNotFound.
func (b *Bucket) head(ctx context.Context, key string) (*s3.HeadObjectOutput, error) {
	out, err := b.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(b.opts.Bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %w", providers.ErrNotFound, err)
		}
		return nil, err
	}
	return out, nil
}

// Put uploads a small object (for tests and the demo's seeding).
func (b *Bucket) Put(ctx context.Context, key string, body []byte, contentType, cacheControl string, metadata map[string]string) error {
	in := &s3.PutObjectInput{
		Bucket:        aws.String(b.opts.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		Metadata:      metadata,
	}
	if contentType != "" {
		in.ContentType = aws.String(contentType)
	}
	if cacheControl != "" {
		in.CacheControl = aws.String(cacheControl)
	}
	if _, err := b.client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// CreateBucket creates the bucket if it does not exist (tests and the demo).
func (b *Bucket) CreateBucket(ctx context.Context) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(b.opts.Bucket)}
	if b.opts.Endpoint == "" && b.opts.Region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(b.opts.Region),
		}
	}
	_, err := b.client.CreateBucket(ctx, in)
	if err != nil {
		switch errorCode(err) {
		case "BucketAlreadyOwnedByYou":
			return nil
		}
		return fmt.Errorf("create bucket %q: %w", b.opts.Bucket, err)
	}
	return nil
}

// staticEndpoint resolves every request of a custom endpoint to that endpoint, with
// the bucket in the path (path style) or in the host. The SDK's rules engine would do
// the same, but for a region outside AWS's partitions (R2's "auto") it compiles every
// partition's region regexp on each request: a third of r2plan's CPU in the benchmark.
type staticEndpoint struct {
	base      url.URL
	pathStyle bool
}

func (e *staticEndpoint) ResolveEndpoint(ctx context.Context, p s3.EndpointParameters) (smithyendpoints.Endpoint, error) {
	u := e.base
	if b := aws.ToString(p.Bucket); b != "" {
		if e.pathStyle {
			u.Path = strings.TrimSuffix(u.Path, "/") + "/" + b
			u.RawPath = ""
		} else {
			u.Host = b + "." + u.Host
		}
	}
	// Sign as the rules would: SigV4 for "s3" in the region, the path encoded once.
	var signer smithy.Properties
	smithyhttp.SetDisableDoubleEncoding(&signer, true)
	smithyhttp.SetSigV4SigningName(&signer, "s3")
	smithyhttp.SetSigV4SigningRegion(&signer, aws.ToString(p.Region))
	var props smithy.Properties
	smithyauth.SetAuthOptions(&props, []*smithyauth.Option{{SchemeID: "aws.auth#sigv4", SignerProperties: signer}})
	return smithyendpoints.Endpoint{URI: u, Headers: http.Header{}, Properties: props}, nil
}
