package importer

import (
	"errors"
	"fmt"
)

// format reads one kind of export.
type format interface {
	// check looks at the source's first record and fails when the file
	// is not this format (the import stops at once).
	check(first rawRecord, r recordReader) error
	// decode turns a record into a candidate user, or says why it is
	// skipped.
	decode(rec rawRecord) (*Candidate, *Entry)
}

// ErrWrongFormat matches (errors.Is) the error of a file that is not the
// format it was said to be.
var ErrWrongFormat = errors.New("wrong format")

type wrongFormat struct{ msg string }

func (w wrongFormat) Error() string        { return w.msg }
func (w wrongFormat) Is(target error) bool { return target == ErrWrongFormat }

// notFormat says the file is not the named format, with a guess at what
// it is when the record shows it.
func notFormat(name string, rec rawRecord, o object, why string) error {
	where := "the first record"
	if rec.pos.Line > 0 {
		where = fmt.Sprintf("line %d", rec.pos.Line)
	}
	msg := fmt.Sprintf("not a %s export: %s %s", name, where, why)
	if guess := guessFormat(o); guess != "" {
		msg += fmt.Sprintf(" (it looks like %s)", guess)
	}
	return wrongFormat{msg}
}

// guessFormat names the format a record looks like, as --from spells it.
func guessFormat(o object) string {
	switch {
	case o == nil:
		return ""
	case o["objectId"] != nil:
		return "a LeanCloud export: --from leancloud"
	case o["_id"] != nil:
		return "a uni-id export: --from uni-id"
	case o["identities"] != nil:
		return "a miniauth export: --from miniauth"
	}
	return ""
}

// firstObject parses the first record for a format check.
func firstObject(name string, rec rawRecord) (object, error) {
	if rec.err != nil {
		return nil, notFormat(name, rec, nil, "cannot be read ("+rec.err.Reason+")")
	}
	o, bad := parseObject(rec.pos, rec.json)
	if bad != nil {
		return nil, notFormat(name, rec, nil, "is not a JSON object")
	}
	return o, nil
}
