package main

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/r2plan/r2plan/plan"
)

// jsonViewVersion is the version of the JSON view's document, described by
// docs/plan-view.schema.json: distinct from the plan file's format (the header's
// format_version). Its major changes when a field changes meaning or goes, its minor
// when fields are added.
const jsonViewVersion = "1"

// jsonView is for machines: one JSON document with its format_version, the plan's id,
// digest, header and every entry, streamed.
type jsonView struct{ w io.Writer }

func (v jsonView) render(h *plan.Header, entries func(func(plan.Entry) error) error, digest func() (string, error)) error {
	d, err := digest()
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(v.w)
	head, err := json.Marshal(struct {
		FormatVersion string       `json:"format_version"`
		ID            string       `json:"id"`
		Digest        string       `json:"digest"`
		Header        *plan.Header `json:"header"`
	}{jsonViewVersion, plan.ID(d), d, h})
	if err != nil {
		return err
	}
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"entries":[`)
	first := true
	err = entries(func(e plan.Entry) error {
		if !first {
			bw.WriteString(",")
		}
		first = false
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = bw.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}
