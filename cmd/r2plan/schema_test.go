package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// json-schema SCHEMA FILE validates FILE, one JSON document or one per line, against
// the JSON Schema SCHEMA (a file under docs/, named without its directory), and with
// -entries also checks that the plan view's entries hold every kind named after it
// (copy, rewrite, conflict, dangling, moved, orphan, revert).
func cmdJSONSchema(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: json-schema SCHEMA FILE [KIND...]")
	}
	path, err := filepath.Abs(filepath.Join("..", "..", "docs", args[0]))
	ts.Check(err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(path)
	ts.Check(err)
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(ts.ReadFile(args[1])), "\n") {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(line))
		ts.Check(err)
		if err := sch.Validate(doc); err != nil {
			ts.Fatalf("%s does not match %s:\n%v", args[1], args[0], err)
		}
		var v struct {
			Entries []struct {
				Type   string `json:"type"`
				Copy   bool   `json:"copy"`
				Reason string `json:"reason"`
			} `json:"entries"`
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(line)))
		ts.Check(dec.Decode(&v))
		for _, e := range v.Entries {
			switch {
			case e.Type == "move" && e.Copy:
				seen["copy"] = true
			case e.Type == "move":
				seen["rewrite"] = true
			case e.Type == "delete":
				seen[e.Reason] = true
			default:
				seen[e.Type] = true
			}
		}
	}
	for _, kind := range args[2:] {
		if !seen[kind] {
			ts.Fatalf("%s holds no %s entry", args[1], kind)
		}
	}
}
