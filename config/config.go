package config

import (
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is a decoded and validated configuration file.
type Config struct {
	Filename   string
	Bucket     Bucket
	Database   Database
	Layout     Layout
	References []Reference
	Orphans    *Orphans // nil when the file has no orphans block
	Ignore     *Ignore  // nil when the file has no ignore block

	// EnvRead holds the names of the environment variables (or --var values) read by
	// env() and var.NAME, sorted and deduplicated.
	EnvRead []string
	// Vars maps each name in EnvRead to the value used, unless that value is empty or
	// flows into a secret (see Secrets); secret values are omitted.
	Vars map[string]string
	// UnsetSecrets names the variables that were unset and flow only into secrets
	// (access_key_id, secret_access_key, database url), sorted; their fields are
	// empty. Only LoadWith with AllowUnsetSecrets leaves them unset rather than
	// failing: such a Config is for validation, not for contacting a server.
	UnsetSecrets []string
	// Sources maps an attribute of the bucket and database blocks ("bucket.name",
	// "database.url") to the names of the variables its value read, directly or
	// through locals, sorted; an attribute that read none is absent. Error messages
	// use it to say which variable to fix.
	Sources map[string][]string
}

// Bucket is the S3-compatible bucket being reorganised.
type Bucket struct {
	Endpoint        string // "" means the provider default (AWS S3)
	Name            string
	Region          string // "auto" unless set
	AccessKeyID     string // secret
	SecretAccessKey string // secret
	PublicURL       string // absolute http(s) URL without a trailing "/", or ""
	PathStyle       bool   // defaults to true when Endpoint is set
	// NoOverwrite is how a copy makes sure it replaces no other content at its target:
	// "head" (a HEAD first; any server), "if-none-match" (AWS S3's conditional copy),
	// "r2-header" (R2's cf-copy-destination-if-none-match), or "auto" (the default:
	// chosen from the endpoint's host).
	NoOverwrite string
	// ListConcurrency is how many ranges of keys a plan lists at once (default
	// DefaultListConcurrency); 1 is one sequential listing. It changes no plan.
	ListConcurrency int
	DeclRange       hcl.Range
}

// Database is the database whose rows reference objects in the bucket.
type Database struct {
	URL       string // secret: postgres://…, postgresql://… or sqlite:PATH
	DeclRange hcl.Range
}

// Layout is the layout the bucket should have.
type Layout struct {
	// Placed lists prefixes (each ending in "/") whose keys are never moved.
	Placed []string
	// GracePeriod is how long a moved source is kept after its rows were rewritten.
	GracePeriod time.Duration
	// Rules are tried in order; the first that matches a key decides its target.
	Rules     []Rule
	DeclRange hcl.Range
}

// A Rule maps a current key to a target key. Exactly one of Prefix and Regex is set.
type Rule struct {
	Name string
	// Prefix matches keys that start with it; the target replaces the prefix.
	Prefix *string
	// Regex matches the whole key (it is compiled as ^(?:SOURCE)$); the target is
	// expanded with regexp.Expand, so $1, $name and ${name} refer to its captures.
	Regex     *regexp.Regexp
	Target    string
	DeclRange hcl.Range
}

// A Reference is a table column that holds an object key, a public URL, or both
// (in two columns).
type Reference struct {
	Name       string
	Schema     string // "" means the connection's default schema
	Table      string
	PrimaryKey string
	KeyColumn  string // column holding an object key, or ""
	URLColumn  string // column holding a public URL, or ""
	Where      string // raw SQL filter written by the config author, or ""
	DeclRange  hcl.Range
}

// Orphans says where unreferenced objects may be deleted: a plan proposes those in
// Scope, outside Protect, older than MinAge and named by no row, and marks a plan with
// more than MaxDelete of them (apply then needs --max-delete).
type Orphans struct {
	Scope     []string      // prefixes in which unreferenced objects may be deleted
	MinAge    time.Duration // objects younger than this are never deleted
	Protect   []string      // prefixes never touched
	MaxDelete int           // orphan delete budget per plan; 0 when not set (1000)
	DeclRange hcl.Range
}

// DefaultListConcurrency is bucket.list_concurrency when not set: on R2 a listing page
// takes a few hundred milliseconds, and 16 ranges listed at once make a plan of a
// bucket of any shape about ten times faster than one sequential listing.
const DefaultListConcurrency = 16
