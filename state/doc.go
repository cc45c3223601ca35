// Package state keeps the journal of what apply has done, in a table of the database
// that the references live in (r2plan_journal), so that a rewrite and its journal entry
// commit together. Apply reads it to resume; later plans read it for grace periods and
// reverts.
package state
