package importer

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// csvColumns are the columns a CSV file may name in its header row;
// openid is required, the others optional. appid, when present, says per
// row which mini program the openid belongs to (else --appid).
var csvColumns = map[string]bool{
	"openid": true, "unionid": true, "nickname": true, "avatar_url": true, "gender": true,
	"phone": true, "created_at": true, "disabled": true, "appid": true,
}

// csvReader reads a CSV file whose header row names its columns.
type csvReader struct {
	r   *csv.Reader
	col map[string]int
}

func newCSVReader(r io.Reader) (*csvReader, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 256<<10))
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, wrongFormat{"not a CSV file with a header row: the file is empty"}
		}
		return nil, wrongFormat{fmt.Sprintf("not a CSV file with a header row: %v", err)}
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !csvColumns[h] {
			return nil, wrongFormat{fmt.Sprintf("not a CSV file with a header row: unknown column %q (columns: openid,unionid,nickname,avatar_url,gender,phone,created_at,disabled[,appid])", shorten(h))}
		}
		if _, dup := col[h]; dup {
			return nil, wrongFormat{fmt.Sprintf("not a CSV file with a header row: column %q is named twice", h)}
		}
		col[h] = i
	}
	if _, ok := col["openid"]; !ok {
		return nil, wrongFormat{"not a CSV file with a header row: no openid column"}
	}
	cr.FieldsPerRecord = len(header)
	return &csvReader{r: cr, col: col}, nil
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func (c *csvReader) header() bool { return false }

func (c *csvReader) next() (rawRecord, error) {
	row, err := c.r.Read()
	line, _ := c.r.FieldPos(0)
	pos := Pos{Line: line}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return rawRecord{pos: Pos{Line: pe.StartLine}, err: skip(Pos{Line: pe.StartLine}, "", InvalidRecord, pe.Err.Error())}, nil
	}
	if err != nil {
		return rawRecord{}, err
	}
	return rawRecord{pos: pos, fields: row}, nil
}

// csvFormat reads csvReader's rows; appID is --appid.
type csvFormat struct {
	appID string
	apps  map[string]bool // the configured mini programs
	col   map[string]int
}

func (f *csvFormat) check(rawRecord, recordReader) error { return nil } // the header was checked

func (f *csvFormat) decode(rec rawRecord) (*Candidate, *Entry) {
	if rec.err != nil {
		return nil, rec.err
	}
	get := func(name string) string {
		if i, ok := f.col[name]; ok {
			return strings.TrimSpace(rec.fields[i])
		}
		return ""
	}
	openid := get("openid")
	if openid == "" {
		return nil, skip(rec.pos, "", NoMiniProgramOpenID, "the openid column is empty")
	}
	app := f.appID
	if a := get("appid"); a != "" {
		if !f.apps[a] {
			return nil, skip(rec.pos, openid, UnmappedApp, fmt.Sprintf("appid %s is not a configured mini program", shorten(a)))
		}
		app = a
	}
	c := &Candidate{Pos: rec.pos, SourceID: openid, Identities: []Identity{{AppID: app, OpenID: openid}}}
	c.UnionID = get("unionid")
	c.Nickname = cleanNickname(get("nickname"))
	c.AvatarURL = avatarOf(c, get("avatar_url"))
	if g, err := strconv.Atoi(get("gender")); err == nil {
		c.Gender = cleanGender(g)
	}
	phoneOf(c, get("phone"))
	if s := get("created_at"); s != "" {
		t, ok := parseTime(s)
		if !ok {
			return nil, skip(rec.pos, openid, InvalidRecord, "created_at is not a time")
		}
		c.CreatedAt = t
	}
	switch strings.ToLower(get("disabled")) {
	case "", "0", "false", "no", "f", "n":
	case "1", "true", "yes", "t", "y":
		c.Disabled = true
	default:
		return nil, skip(rec.pos, openid, InvalidRecord, "disabled is not true or false")
	}
	return c, nil
}
