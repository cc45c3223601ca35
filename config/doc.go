// Package config decodes and validates r2plan's HCL configuration into typed values.
//
// A configuration file declares one bucket, one database, the layout the bucket's keys
// should have (ordered move rules and the prefixes already in place), the database
// columns that reference objects, and, optionally, how unreferenced objects are treated.
// Values may come from the environment through env(name) or env(name, default), from
// --var overrides (which env() consults first, and which var.name reads), and from
// locals. Every problem is reported as an hcl.Diagnostic pointing at the offending
// block or attribute; all of them are collected, not just the first.
//
// Secret values (credentials, the database URL and its password) never appear in a
// diagnostic: Load scrubs them, and Config.Secrets lists them so callers can redact
// any other output.
//
// The package knows nothing of buckets or databases: it only decodes.
package config
