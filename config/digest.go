package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
)

// digestVersion changes whenever the digest's content changes, so that an old plan is
// refused rather than matched by accident.
const digestVersion = 1

// The digest document: fixed field order, no maps, no secrets.
type digestDoc struct {
	Version    int               `json:"version"`
	Bucket     digestBucket      `json:"bucket"`
	Layout     digestLayout      `json:"layout"`
	References []digestReference `json:"references"`
	Orphans    *digestOrphans    `json:"orphans"`
	// Ignore lists the ignored columns as written (absent without an ignore block, so
	// the digest of a configuration without one is unchanged).
	Ignore []string `json:"ignore,omitempty"`
}

type digestBucket struct {
	EndpointHost string `json:"endpoint_host"`
	Name         string `json:"name"`
	PublicURL    string `json:"public_url"`
}

type digestLayout struct {
	Placed      []string     `json:"placed"`
	GracePeriod string       `json:"grace_period"`
	Rules       []digestRule `json:"rules"`
}

type digestRule struct {
	Prefix *string `json:"prefix,omitempty"`
	Regex  *string `json:"regex,omitempty"`
	Target string  `json:"target"`
}

type digestReference struct {
	Name       string `json:"name"`
	Schema     string `json:"schema"`
	Table      string `json:"table"`
	PrimaryKey string `json:"primary_key"`
	KeyColumn  string `json:"key_column"`
	URLColumn  string `json:"url_column"`
	Where      string `json:"where"`
}

type digestOrphans struct {
	Scope     []string `json:"scope"`
	MinAge    string   `json:"min_age"`
	Protect   []string `json:"protect"`
	MaxDelete int      `json:"max_delete"`
}

// Digest is "sha256:<hex>" over the resolved, non-secret content that decides a plan
// (Settings): the bucket's endpoint host, name and public URL; the layout (placed
// prefixes, the rules in order with their prefix or regex and their target, the grace
// period); every field of every reference; the orphans block; and the ignored columns. Rule names, region,
// path style, credentials and the database URL are left out: they do not change what a
// plan does (the plan records the bucket and database identity separately).
func (c *Config) Digest() string {
	sum := sha256.Sum256(c.Settings())
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Settings is the content Digest covers, as the JSON it hashes: no secret is in it. A
// plan records it, so that apply can say what changed (Changes) rather than show two
// digests.
func (c *Config) Settings() json.RawMessage {
	doc := digestDoc{
		Version: digestVersion,
		Bucket: digestBucket{
			EndpointHost: endpointHost(c.Bucket.Endpoint),
			Name:         c.Bucket.Name,
			PublicURL:    c.Bucket.PublicURL,
		},
		Layout: digestLayout{
			Placed:      nonNil(c.Layout.Placed),
			GracePeriod: c.Layout.GracePeriod.String(),
			Rules:       []digestRule{},
		},
		References: []digestReference{},
	}
	for _, r := range c.Layout.Rules {
		dr := digestRule{Prefix: r.Prefix, Target: r.Target}
		if r.Regex != nil {
			s := r.Regex.String()
			dr.Regex = &s
		}
		doc.Layout.Rules = append(doc.Layout.Rules, dr)
	}
	for _, r := range c.References {
		doc.References = append(doc.References, digestReference{
			Name: r.Name, Schema: r.Schema, Table: r.Table, PrimaryKey: r.PrimaryKey,
			KeyColumn: r.KeyColumn, URLColumn: r.URLColumn, Where: r.Where,
		})
	}
	if o := c.Orphans; o != nil {
		doc.Orphans = &digestOrphans{
			Scope: nonNil(o.Scope), MinAge: o.MinAge.String(), Protect: nonNil(o.Protect), MaxDelete: o.MaxDelete,
		}
	}
	if c.Ignore != nil {
		doc.Ignore = []string{}
		for _, ic := range c.Ignore.Columns {
			doc.Ignore = append(doc.Ignore, ic.String())
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("config: digest: " + err.Error()) // strings, ints and pointers always marshal
	}
	return b
}

// endpointHost is the endpoint's host (an R2 endpoint's host names the account), or
// the endpoint as written when it does not parse.
func endpointHost(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		return u.Host
	}
	return endpoint
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}
