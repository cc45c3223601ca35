package main

import (
	"bytes"
	"fmt"
	"strings"
)

// Keys, values and names reach a pull-request comment only inside code spans, built by
// mdCode (in prose and lists) or mdCell (in a table cell), so that GitHub-flavoured
// Markdown shows them as they are: no emphasis, no HTML, no entity, no @mention or
// #reference, whatever they hold. A reader sees every byte of the value except control
// characters, which would end a table row or a list item: they are shown as their
// Unicode control pictures (a newline as ␊).

// mdCode is s as a code span for prose and list items.
func mdCode(s string) string { return codeSpan(visible(s), false) }

// mdCell is s as a code span inside a table cell, where a pipe must be escaped even
// inside a code span (GFM: the table splits its row before it reads code spans).
func mdCell(s string) string { return codeSpan(visible(s), true) }

// visible replaces each control character with its Unicode control picture.
func visible(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20:
			b.WriteRune(0x2400 + r)
		case r == 0x7f:
			b.WriteRune('␡')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// codeSpan wraps s in a run of backticks longer than any run inside it, with a space
// on each side when s begins or ends with a backtick, or begins and ends with a space:
// CommonMark strips exactly one space from each side, so the reader sees s.
func codeSpan(s string, cell bool) string {
	if s == "" {
		return "(empty)"
	}
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if cell {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	fence := strings.Repeat("`", longest+1)
	allSpaces := strings.Trim(s, " ") == ""
	if !allSpaces && (s[0] == '`' || s[len(s)-1] == '`' || (s[0] == ' ' && s[len(s)-1] == ' ')) {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdTable writes a GFM table: header, then rows. A column whose name is in numeric is
// aligned right. Cells are written as given: the caller escapes them (mdCell) or
// writes only its own text and numbers.
func mdTable(b *bytes.Buffer, header []string, numeric map[int]bool, rows [][]string) {
	b.WriteString("|")
	for _, h := range header {
		fmt.Fprintf(b, " %s |", h)
	}
	b.WriteString("\n|")
	for i := range header {
		if numeric[i] {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("|")
		for _, c := range r {
			fmt.Fprintf(b, " %s |", c)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// cols is a set of column indexes.
func cols(idx ...int) map[int]bool {
	m := make(map[int]bool, len(idx))
	for _, i := range idx {
		m[i] = true
	}
	return m
}
