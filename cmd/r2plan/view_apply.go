package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/plan"
)

// applyView tells how an apply goes and ends: text for a person (applyText), one JSON
// document for a machine (applyJSON). The command chooses it once.
type applyView interface {
	// usingConfig says that apply reads the configuration the plan recorded.
	usingConfig(path string)
	// refused says why the plan is not applied; nothing was changed.
	refused(why string) int
	// started says what the run will do.
	started(id string, s *plan.Summary, shard apply.Shard, shardName string)
	// notes is where lines said during the run go.
	notes() io.Writer
	// finished tells the outcome and returns the exit code.
	finished(o applyOutcome) int
}

// Outcome statuses, from best to worst: what a script may switch on.
const (
	statusComplete    = "complete"    // everything the plan asked, done
	statusDrift       = "drift"       // done, but changes the world made since the plan were skipped
	statusFailed      = "failed"      // some changes failed; run the same apply again
	statusRefused     = "refused"     // a write the bucket or the database refused (permissions)
	statusInterrupted = "interrupted" // stopped by the first Ctrl-C after what was in flight
	statusAborted     = "aborted"     // cancelled (a second Ctrl-C)
	statusError       = "error"       // the run stopped on an error
)

// applyOutcome is how a run ended, as the views tell it: a pure reading of apply's
// result and error (outcomeOf).
type applyOutcome struct {
	Plan   string        `json:"plan"`
	Status string        `json:"status"`
	Result *apply.Result `json:"-"`
	// Deletes says whether the plan deletes (the text view then counts deletions).
	Deletes bool `json:"-"`
	// Drift and Failed are one line each; Refused counts the failures that Error
	// explains once (a missing permission).
	Drift   []string `json:"drift"`
	Failed  []string `json:"failed"`
	Refused int      `json:"refused,omitempty"`
	// Error is the line the run ended with, Next what to do about it.
	Error string `json:"error,omitempty"`
	Next  string `json:"next,omitempty"`
}

// outcomeOf reads apply's result and error.
func outcomeOf(id string, s *plan.Summary, res *apply.Result, err error) applyOutcome {
	o := applyOutcome{Plan: id, Result: res, Deletes: s.Deletes > 0, Drift: []string{}, Failed: []string{}}
	switch {
	case errors.Is(err, context.Canceled):
		o.Status = statusAborted
		o.Next = "What finished is recorded; run the same apply command again to complete the plan."
		return o
	case err != nil:
		o.Status = statusError
		if line, ok := explainApplyFailure(err, res); ok {
			o.Error = line
			return o
		}
		o.Error = err.Error()
		o.Next = "Run the same apply command again to complete the plan; what finished is recorded."
		return o
	}
	for _, d := range res.Drift {
		o.Drift = append(o.Drift, d.String())
	}
	var refused error
	for _, e := range res.Failed {
		if _, ok := explainApplyFailure(e, res); ok {
			refused = e
			o.Refused++
			continue
		}
		o.Failed = append(o.Failed, e.Error())
	}
	switch {
	case refused != nil:
		// Refused writes are one cause, said once, not one line per object.
		line, _ := explainApplyFailure(refused, res)
		o.Status, o.Error = statusRefused, fmt.Sprintf("%d change(s) refused: %s", o.Refused, line)
	case res.Interrupted:
		o.Status = statusInterrupted
		o.Next = fmt.Sprintf("Interrupted with %d moves not started. Run the same apply command again to finish.", res.Pending)
	case len(res.Failed) > 0:
		o.Status = statusFailed
		o.Next = fmt.Sprintf("%d change(s) failed; %d moves not started. Run the same apply command again to retry them.", len(res.Failed), res.Pending)
	case len(res.Drift) > 0:
		o.Status = statusDrift
		o.Next = fmt.Sprintf("Apply finished with %d drift(s): those changes were skipped, their objects and rows left as found. Run 'r2plan plan' again to pick them up.", len(res.Drift))
	default:
		o.Status = statusComplete
	}
	return o
}

// exitCode is the exit code of an outcome: 0 only when complete.
func (o applyOutcome) exitCode() int {
	if o.Status == statusComplete {
		return exitOK
	}
	return exitError
}

// applyText is the view for a person: progress lines on stdout, problems on stderr,
// the final error as the log format says (logOptions.fail).
type applyText struct {
	stdout, stderr io.Writer
	log            *logOptions
}

func (v *applyText) usingConfig(path string) {
	fmt.Fprintf(v.stdout, "Using the configuration the plan was made from: %s\n", path)
}

func (v *applyText) refused(why string) int {
	return v.log.fail(v.stderr, "refusing the plan: %s\nNothing was changed. Make a new plan with 'r2plan plan'.", why)
}

func (v *applyText) started(id string, s *plan.Summary, shard apply.Shard, shardName string) {
	fmt.Fprintf(v.stdout, "Applying plan %s: %d to copy, %s to rewrite, %d to delete.\n", id, s.Copies, rewriteCount(s.RewriteRows, s.Rewrites), s.Deletes)
	if shard.N > 1 {
		fmt.Fprintf(v.stdout, "This run is shard %s: only the keys that hash to it.\n", shardName)
	}
}

func (v *applyText) notes() io.Writer { return v.stdout }

func (v *applyText) finished(o applyOutcome) int {
	if res := o.Result; res != nil {
		fmt.Fprintf(v.stdout, "Copied %d objects (%d already in place); rewrote %d rows (%d already rewritten) in %.2fs of database time.\n",
			res.Copied, res.Present, res.Rewritten, res.Already, res.RewriteTime.Seconds())
		if o.Deletes {
			fmt.Fprintf(v.stdout, "Deleted %d objects (%d already gone).\n", res.Deleted, res.Gone)
		}
	}
	for _, d := range o.Drift {
		fmt.Fprintf(v.stderr, "Drift: %s\n", d)
	}
	for _, f := range o.Failed {
		fmt.Fprintf(v.stderr, "Failed: %s\n", f)
	}
	switch {
	case o.Status == statusComplete:
		fmt.Fprintln(v.stdout, "Apply complete.")
	case o.Status == statusAborted:
		fmt.Fprintln(v.stderr, "Aborted. "+o.Next)
	case o.Error != "" && o.Next != "":
		v.log.fail(v.stderr, "%s\n%s", o.Error, o.Next)
	case o.Error != "":
		v.log.fail(v.stderr, "%s", o.Error)
	default:
		fmt.Fprintln(v.stderr, o.Next)
	}
	return o.exitCode()
}

// applyJSON is the view for a machine: one JSON document on stdout when the run ends
// (or is refused); notes go to stderr.
type applyJSON struct {
	stdout, stderr io.Writer
	config         string
	id             string
	shard          string
}

func (v *applyJSON) usingConfig(path string) { v.config = path }

func (v *applyJSON) refused(why string) int {
	v.write(applyOutcome{Plan: v.id, Status: "refused_plan", Drift: []string{}, Failed: []string{}, Error: "refusing the plan: " + why,
		Next: "Nothing was changed. Make a new plan with 'r2plan plan'."})
	return exitError
}

func (v *applyJSON) started(id string, s *plan.Summary, shard apply.Shard, shardName string) {
	v.id, v.shard = id, shardName
}

func (v *applyJSON) notes() io.Writer { return v.stderr }

func (v *applyJSON) finished(o applyOutcome) int {
	v.write(o)
	return o.exitCode()
}

// applyCounts are a result's counts, as the JSON view names them.
type applyCounts struct {
	Copied         int     `json:"copied"`
	Present        int     `json:"present"`
	Rewritten      int     `json:"rewritten"`
	Already        int     `json:"already_rewritten"`
	RewriteSeconds float64 `json:"rewrite_seconds"`
	Deleted        int     `json:"deleted"`
	Gone           int     `json:"already_gone"`
	Pending        int     `json:"pending"`
}

// applyJSONVersion is the version of apply's JSON document, described by
// docs/apply-result.schema.json.
const applyJSONVersion = "1"

func (v *applyJSON) write(o applyOutcome) {
	doc := struct {
		FormatVersion string `json:"format_version"`
		Config        string `json:"config,omitempty"`
		Shard         string `json:"shard,omitempty"`
		applyOutcome
		Counts *applyCounts `json:"counts,omitempty"`
	}{FormatVersion: applyJSONVersion, Config: v.config, Shard: v.shard, applyOutcome: o}
	if res := o.Result; res != nil {
		doc.Counts = &applyCounts{res.Copied, res.Present, res.Rewritten, res.Already, res.RewriteTime.Seconds(),
			res.Deleted, res.Gone, res.Pending}
	}
	enc := json.NewEncoder(v.stdout)
	enc.SetEscapeHTML(false)
	enc.Encode(doc)
}
