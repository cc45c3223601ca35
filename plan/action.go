package plan

import "fmt"

// Action is what one entry of a plan does, or reports. Its names are the plan file's
// line types ("move" lines carry ActionCopy or ActionRewrite), the journal's actions
// and the views' words.
type Action uint8

const (
	// ActionCopy copies an object to its target, verifies it, then rewrites the rows
	// that point at it.
	ActionCopy Action = iota + 1
	// ActionRewrite rewrites the rows of an object whose target already holds an
	// identical copy: no copy.
	ActionRewrite
	// ActionDelete deletes an object (see Reason).
	ActionDelete
	// ActionConflict reports a move that cannot happen; nothing is written.
	ActionConflict
	// ActionDangling reports a row that names no object; nothing is written.
	ActionDangling
)

var actionNames = [...]string{
	ActionCopy:     "copy",
	ActionRewrite:  "rewrite",
	ActionDelete:   "delete",
	ActionConflict: "conflict",
	ActionDangling: "dangling",
}

func (a Action) String() string {
	if int(a) < len(actionNames) && actionNames[a] != "" {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Writes reports whether the action changes the bucket or the database.
func (a Action) Writes() bool { return a == ActionCopy || a == ActionRewrite || a == ActionDelete }

// MarshalText writes the action's name.
func (a Action) MarshalText() ([]byte, error) {
	if int(a) >= len(actionNames) || actionNames[a] == "" {
		return nil, fmt.Errorf("plan: unknown action %d", uint8(a))
	}
	return []byte(actionNames[a]), nil
}

// UnmarshalText reads an action's name.
func (a *Action) UnmarshalText(b []byte) error {
	for i, name := range actionNames {
		if name != "" && name == string(b) {
			*a = Action(i)
			return nil
		}
	}
	return fmt.Errorf("plan: unknown action %q", b)
}

// Reason says why an object is deleted.
type Reason string

// Deletion reasons, as the plan file and the journal spell them.
const (
	// ReasonMoved: a source whose copy was verified and whose rows were rewritten,
	// past the grace period.
	ReasonMoved Reason = "moved"
	// ReasonOrphan: an unreferenced object in the orphans scope, older than its
	// minimum age. Only these count against the delete budget.
	ReasonOrphan Reason = "orphan"
	// ReasonRevert: a copy r2plan made, deleted by a revert once its rows point back.
	ReasonRevert Reason = "revert"
)

// Action is what the entry does. An Entry holds exactly one of its fields.
func (e Entry) Action() Action {
	switch {
	case e.Move != nil && e.Move.Copy:
		return ActionCopy
	case e.Move != nil:
		return ActionRewrite
	case e.Delete != nil:
		return ActionDelete
	case e.Conflict != nil:
		return ActionConflict
	case e.Dangling != nil:
		return ActionDangling
	}
	return 0
}

// Key is the object the entry is about (the row's value for a dangling reference).
func (e Entry) Key() string {
	switch {
	case e.Move != nil:
		return e.Move.Key
	case e.Delete != nil:
		return e.Delete.Key
	case e.Conflict != nil:
		return e.Conflict.Key
	case e.Dangling != nil:
		return e.Dangling.Key
	}
	return ""
}
