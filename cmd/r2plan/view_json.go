package main

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/r2plan/r2plan/plan"
)

// jsonView is for machines: one JSON document with the plan's id, digest, header and
// every entry, streamed.
type jsonView struct{ w io.Writer }

// entryJSON encodes one entry with its type beside its fields.
func entryJSON(e plan.Entry) ([]byte, error) {
	switch {
	case e.Move != nil:
		return json.Marshal(struct {
			Type string `json:"type"`
			*plan.Move
		}{"move", e.Move})
	case e.Delete != nil:
		return json.Marshal(struct {
			Type string `json:"type"`
			*plan.Deletion
		}{"delete", e.Delete})
	case e.Conflict != nil:
		return json.Marshal(struct {
			Type string `json:"type"`
			*plan.Conflict
		}{"conflict", e.Conflict})
	default:
		return json.Marshal(struct {
			Type string `json:"type"`
			*plan.Dangling
		}{"dangling", e.Dangling})
	}
}

func (v jsonView) render(h *plan.Header, entries func(func(plan.Entry) error) error, digest string) error {
	bw := bufio.NewWriter(v.w)
	head, err := json.Marshal(struct {
		ID     string       `json:"id"`
		Digest string       `json:"digest"`
		Header *plan.Header `json:"header"`
	}{plan.ID(digest), digest, h})
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
		b, err := entryJSON(e)
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
