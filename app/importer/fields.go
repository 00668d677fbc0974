package importer

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// object is one JSON record with its fields still undecoded: only the
// fields a format reads are decoded, which keeps a million lines fast.
type object map[string]json.RawMessage

// parseObject reads a record, or says why it is not one.
func parseObject(p Pos, data []byte) (object, *Entry) {
	var o object
	if err := json.Unmarshal(data, &o); err != nil {
		if !json.Valid(data) {
			return nil, skip(p, "", InvalidJSON, shortError(err))
		}
		return nil, skip(p, "", NotAnObject, "the line is JSON but not an object")
	}
	if o == nil { // the line was null
		return nil, skip(p, "", NotAnObject, "the line is JSON but not an object")
	}
	return o, nil
}

func shortError(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// isNull reports whether a field is absent or null.
func isNull(v json.RawMessage) bool {
	return len(v) == 0 || bytes.Equal(v, []byte("null"))
}

// str reads a string field: "" when absent or null; an error when it is
// something else.
func (o object) str(key string) (string, error) {
	v := o[key]
	if isNull(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%s is not a string", key)
	}
	return s, nil
}

// looseStr reads a field that should be a string, treating anything
// else as absent: a profile field of the wrong type is left off rather
// than losing the user.
func (o object) looseStr(key string) string {
	s, _ := o.str(key)
	return s
}

// obj reads an object field: nil when absent or null.
func (o object) obj(key string) (object, error) {
	v := o[key]
	if isNull(v) {
		return nil, nil
	}
	var sub object
	if err := json.Unmarshal(v, &sub); err != nil || sub == nil {
		return nil, fmt.Errorf("%s is not an object", key)
	}
	return sub, nil
}

// number reads a numeric field (a JSON number, or a string of one, as
// CSV-minded exports write them); ok is false when absent or not a number.
func (o object) number(key string) (float64, bool) {
	v := o[key]
	if isNull(v) {
		return 0, false
	}
	var f float64
	if err := json.Unmarshal(v, &f); err == nil {
		return f, true
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return f, true
		}
	}
	return 0, false
}

// boolean reads true, 1 or "true" as true.
func (o object) boolean(key string) bool {
	v := o[key]
	if isNull(v) {
		return false
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return b
	}
	if f, ok := o.number(key); ok {
		return f == 1
	}
	s, _ := o.str(key)
	return strings.EqualFold(strings.TrimSpace(s), "true")
}

// gender reads 0, 1 or 2; anything else is 0.
func (o object) gender(key string) int {
	f, ok := o.number(key)
	if !ok || f != math.Trunc(f) {
		return 0
	}
	return cleanGender(int(f))
}

// objectIDTime is the creation time inside a MongoDB ObjectId (24 hex
// digits: the first 8 are seconds since 1970), if id is one.
func objectIDTime(id string) (time.Time, bool) {
	if len(id) != 24 {
		return time.Time{}, false
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return time.Time{}, false
	}
	sec := int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
	if sec == 0 {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

// epochTime reads a number of milliseconds (or, below 1e11, seconds:
// IMPORT.md decision 7).
func epochTime(f float64) (time.Time, bool) {
	if f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e15 {
		return time.Time{}, false
	}
	if f < 1e11 {
		return time.Unix(int64(f), 0).UTC(), true
	}
	return time.UnixMilli(int64(f)).UTC(), true
}

// timeLayouts are what the sources (and CSV files people make) write.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTime reads an ISO time (UTC when it names no zone) or a number of
// (milli)seconds.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return epochTime(f)
	}
	return time.Time{}, false
}
