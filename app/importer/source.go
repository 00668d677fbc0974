package importer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// maxLine bounds one line (one user): a longer line is reported and
// skipped, so that a file without newlines cannot fill the memory.
const maxLine = 1 << 20

// rawRecord is one entry of the source before its format reads it: a
// JSON value, or the fields of a CSV row; err is set for a line that
// could not even be read.
type rawRecord struct {
	pos    Pos
	json   []byte
	fields []string
	err    *Entry
}

// recordReader yields the source's records in order; io.EOF at the end.
// Any other error stops the import (the rest cannot be read).
type recordReader interface {
	next() (rawRecord, error)
	// header reports whether a LeanCloud "#filetype:" header was seen.
	header() bool
}

// lineReader reads JSON lines: one value per line, blank lines and
// "#filetype:" headers skipped, a byte-order mark dropped.
type lineReader struct {
	r      *bufio.Reader
	file   string
	line   int
	sawHdr bool
}

func newLineReader(r *bufio.Reader, file string) *lineReader {
	return &lineReader{r: r, file: file}
}

func (l *lineReader) header() bool { return l.sawHdr }

func (l *lineReader) next() (rawRecord, error) {
	for {
		line, tooLong, err := l.readLine()
		if err != nil && (err != io.EOF || (len(line) == 0 && !tooLong)) {
			return rawRecord{}, err
		}
		l.line++
		pos := Pos{File: l.file, Line: l.line}
		if tooLong {
			return rawRecord{pos: pos, err: skip(pos, "", LineTooLong, fmt.Sprintf("longer than %d bytes", maxLine))}, nil
		}
		if l.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if bytes.HasPrefix(line, []byte("#filetype:")) {
			l.sawHdr = true
			continue
		}
		return rawRecord{pos: pos, json: line}, nil
	}
}

// readLine reads up to the next newline. A line longer than maxLine is
// consumed and reported as tooLong. The returned slice is the line's own
// copy.
func (l *lineReader) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxLine {
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && (len(buf) > 0 || tooLong) {
			return buf, tooLong, nil
		}
		return buf, tooLong, err
	}
}

// arrayReader reads a JSON array of records, or LeanCloud's
// {"results":[…]}, one element at a time. A broken element stops it: the
// rest of an array cannot be found again.
type arrayReader struct {
	dec *json.Decoder
	n   int
	end bool
}

func newArrayReader(r io.Reader, results bool) (*arrayReader, error) {
	dec := json.NewDecoder(r)
	if results {
		if err := expectDelim(dec, '{'); err != nil {
			return nil, err
		}
		for {
			t, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("read the JSON document: %w", err)
			}
			if t == "results" {
				break
			}
			if _, ok := t.(string); !ok {
				return nil, errors.New(`the JSON document has no "results" array`)
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("read the JSON document: %w", err)
			}
		}
	}
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	return &arrayReader{dec: dec}, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return fmt.Errorf("read the JSON document: %w", err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("the JSON document does not start with %q", string(want))
	}
	return nil
}

func (a *arrayReader) header() bool { return false }

func (a *arrayReader) next() (rawRecord, error) {
	if a.end || !a.dec.More() {
		a.end = true
		return rawRecord{}, io.EOF
	}
	a.n++
	var m json.RawMessage
	if err := a.dec.Decode(&m); err != nil {
		return rawRecord{}, fmt.Errorf("record %d of the JSON array: %w (the rest of an array cannot be read)", a.n, err)
	}
	return rawRecord{pos: Pos{Record: a.n}, json: m}, nil
}

// leanCloudMember matches the users' files of a LeanCloud export archive:
// _User.0.jsonl, _User.1.jsonl, …
var leanCloudMember = regexp.MustCompile(`^_User\.[0-9]+\.jsonl$`)

// tarReader reads every _User.*.jsonl member of a LeanCloud .tar.gz, in
// archive order.
type tarReader struct {
	tr     *tar.Reader
	cur    *lineReader
	sawHdr bool
	found  bool
}

func (t *tarReader) header() bool { return t.sawHdr }

func (t *tarReader) next() (rawRecord, error) {
	for {
		if t.cur != nil {
			rec, err := t.cur.next()
			t.sawHdr = t.sawHdr || t.cur.header()
			if err != io.EOF {
				return rec, err
			}
			t.cur = nil
		}
		h, err := t.tr.Next()
		if err == io.EOF {
			if !t.found {
				return rawRecord{}, errors.New("the archive holds no _User.*.jsonl file")
			}
			return rawRecord{}, io.EOF
		}
		if err != nil {
			return rawRecord{}, fmt.Errorf("read the archive: %w", err)
		}
		if h.Typeflag == tar.TypeReg && leanCloudMember.MatchString(path.Base(h.Name)) {
			t.found = true
			t.cur = newLineReader(bufio.NewReaderSize(t.tr, 64<<10), h.Name)
		}
	}
}

// openJSON picks how to read a JSON source from its first bytes: a
// gzip archive (LeanCloud's .tar.gz), a JSON array or {"results":[…]}
// (LeanCloud only: older and hand-made exports), else JSON lines.
func openJSON(r io.Reader, leanCloud bool) (recordReader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	head, _ := br.Peek(4096)
	if bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
		if !leanCloud {
			return nil, errors.New("is a gzip file; uncompress it first")
		}
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read the archive: %w", err)
		}
		return &tarReader{tr: tar.NewReader(gz)}, nil
	}
	if leanCloud {
		bom := bytes.HasPrefix(head, []byte("\xef\xbb\xbf"))
		start := strings.TrimLeft(string(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))), " \t\r\n")
		array, results := strings.HasPrefix(start, "["), isResultsDoc(start)
		if array || results {
			if bom {
				br.Discard(3) // encoding/json does not take a byte-order mark
			}
			return newArrayReader(br, results)
		}
	}
	return newLineReader(br, ""), nil
}

// resultsKey finds the "results" array of a REST answer.
var resultsKey = regexp.MustCompile(`"results"\s*:\s*\[`)

// isResultsDoc tells {"results":[…]} (any key order) from a JSON line:
// the array starts before any record's objectId.
func isResultsDoc(head string) bool {
	if !strings.HasPrefix(head, "{") {
		return false
	}
	loc := resultsKey.FindStringIndex(head)
	if loc == nil {
		return false
	}
	obj := strings.Index(head, `"objectId"`)
	return obj < 0 || loc[0] < obj
}
