package apptest

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// CheckColumns holds a hand-written column list (raw SQL, a bulk insert)
// to the Ent schema's columns of its table: every column is listed or left
// out on purpose, and nothing else is listed. A column added to ent/schema
// fails it until the list, or leftOut with a reason in the test, names it.
func CheckColumns(t testing.TB, what string, listed, schema, leftOut []string) {
	t.Helper()
	for _, c := range listed {
		if !slices.Contains(schema, c) {
			t.Errorf("%s lists %q, which the schema does not have", what, c)
		}
		if slices.Contains(leftOut, c) {
			t.Errorf("%s lists %q, which the test says it leaves out", what, c)
		}
	}
	for _, c := range schema {
		if !slices.Contains(listed, c) && !slices.Contains(leftOut, c) {
			t.Errorf("%s does not list the schema's column %q: add it, or say in the test why it is left out", what, c)
		}
	}
	if n := len(slices.Compact(slices.Sorted(slices.Values(listed)))); n != len(listed) {
		t.Errorf("%s lists a column twice: %v", what, listed)
	}
}

var sqlSpace = regexp.MustCompile(`\s+`)

// SQLColumns are the column names a statement lists after the keyword
// after and before until ("" for the end), of the table alias (or all of
// them with alias ""), the alias dropped: SQLColumns(q, "u", "SELECT",
// "FROM") or SQLColumns(q, "", "RETURNING", "").
func SQLColumns(stmt, alias, after, until string) []string {
	s := sqlSpace.ReplaceAllString(stmt, " ")
	_, s, _ = strings.Cut(s, after+" ")
	if until != "" {
		s, _, _ = strings.Cut(s, " "+until+" ")
	}
	var out []string
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if alias != "" {
			var ok bool
			if c, ok = strings.CutPrefix(c, alias+"."); !ok {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
