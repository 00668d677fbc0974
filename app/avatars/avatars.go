// Package avatars stores the avatar images users upload (the temporary
// file <button open-type="chooseAvatar"> gives a mini program, sent with
// wx.uploadFile) and finds them again to serve.
//
// The type is decided by the content alone, magic bytes and then a real
// decode of the image header, never by the file name or the client's
// Content-Type. Files get random names chosen here; nothing the client
// sends becomes part of a path.
package avatars

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/image/webp"

	"github.com/miniauth/miniauth/app/problem"
)

// Limits of an avatar.
const (
	MaxBytes  = 2 << 20 // the contract's 2 MiB
	MaxPixels = 4096    // per side: larger headers are decompression bombs
	// URLPrefix is where avatars are served.
	URLPrefix = "/uploads/avatars/"
)

// Format is an accepted image type.
type Format struct {
	Ext         string
	ContentType string
	magic       func([]byte) bool
	config      func(io.Reader) (image.Config, error)
}

// Formats lists the accepted types.
var Formats = []Format{
	{".png", "image/png", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }, png.DecodeConfig},
	{".jpg", "image/jpeg", func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}) }, jpeg.DecodeConfig},
	{".webp", "image/webp", func(b []byte) bool {
		return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
	}, webp.DecodeConfig},
}

// Errors a client is told about.
var (
	errType     = problem.New(problem.ValidationFailed, "must be a PNG, JPEG or WebP image")
	errPixels   = problem.New(problem.ValidationFailed, "must be at most %d×%d pixels", MaxPixels, MaxPixels)
	errEmpty    = problem.New(problem.ValidationFailed, "must not be empty")
	errTooLarge = problem.New(problem.RequestTooLarge, "the avatar is larger than 2 MiB")
)

// Store keeps avatars in one directory.
type Store struct {
	Dir string // <data dir>/uploads/avatars
}

// New is a store over dir (created on first save).
func New(dir string) *Store { return &Store{Dir: dir} }

// Sniff decides the format of an image from its first bytes and header.
// It returns a *problem.Error for anything but a PNG, JPEG or WebP of at
// most MaxPixels a side.
func Sniff(head []byte, r io.Reader) (*Format, error) {
	for i := range Formats {
		f := &Formats[i]
		if !f.magic(head) {
			continue
		}
		cfg, err := f.config(r)
		if err != nil {
			return nil, errType
		}
		if cfg.Width <= 0 || cfg.Height <= 0 {
			return nil, errType
		}
		if cfg.Width > MaxPixels || cfg.Height > MaxPixels {
			return nil, errPixels
		}
		return f, nil
	}
	return nil, errType
}

// Save checks an uploaded image, strips its metadata (strip.go) and
// stores it under a new random name, which it returns. It reads at most MaxBytes+1 bytes of r. The file is
// written to a temporary name and renamed, so a reader never sees half an
// image and a failure leaves nothing behind.
func (s *Store) Save(r io.Reader) (name string, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return "", fmt.Errorf("read upload: %w", err)
	}
	if len(data) > MaxBytes {
		return "", errTooLarge
	}
	if len(data) == 0 {
		return "", errEmpty
	}
	f, err := Sniff(data, bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	// Published avatars carry no metadata (GPS position, camera, text).
	if data, err = strip(f, data); err != nil {
		return "", err
	}
	if _, err := Sniff(data, bytes.NewReader(data)); err != nil {
		return "", err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return "", fmt.Errorf("avatar dir: %w", err)
	}
	tmp, err := os.CreateTemp(s.Dir, tempPrefix+"*")
	if err != nil {
		return "", fmt.Errorf("avatar temp file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return "", fmt.Errorf("write avatar: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return "", fmt.Errorf("sync avatar: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return "", fmt.Errorf("close avatar: %w", err)
	}
	name = randomName() + f.Ext
	if err = os.Rename(tmp.Name(), filepath.Join(s.Dir, name)); err != nil {
		return "", fmt.Errorf("store avatar: %w", err)
	}
	return name, nil
}

// randomName is 128 random bits in hex: unguessable, and safe in a path.
func randomName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// URL is where a stored avatar is served.
func URL(name string) string { return URLPrefix + name }

// NameOf returns the file name behind an avatar URL of this server ("" and
// false for any other URL, including an https one the user set). It
// accepts any single visible path element, not only names Save makes: a
// file an operator put there may be removed, nothing outside the
// directory can be.
func NameOf(url string) (string, bool) {
	name, ok := strings.CutPrefix(url, URLPrefix)
	if !ok || !plainName(name) {
		return "", false
	}
	return name, true
}

// plainName is one visible path element: no separator, not "." or "..",
// not a dot file (the temporary files Save writes are dot files).
func plainName(name string) bool {
	return name != "" && !strings.HasPrefix(name, ".") && !strings.ContainsAny(name, "/\\\x00")
}

// ValidName reports whether name is one Save could have made: 32 lowercase
// hex digits and a known extension. Nothing else reaches the file system.
func ValidName(name string) bool {
	f := FormatOf(name)
	if f == nil {
		return false
	}
	base := strings.TrimSuffix(name, f.Ext)
	if len(base) != 32 {
		return false
	}
	for _, c := range base {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// FormatOf is the format of a stored name, by the extension Save gave it.
func FormatOf(name string) *Format {
	for i := range Formats {
		if strings.HasSuffix(name, Formats[i].Ext) && strings.Count(name, ".") == 1 {
			return &Formats[i]
		}
	}
	return nil
}

// Read returns a stored avatar and its content type. A name Save could not
// have made is reported as not existing.
func (s *Store) Read(name string) ([]byte, string, error) {
	if !ValidName(name) {
		return nil, "", os.ErrNotExist
	}
	data, err := os.ReadFile(filepath.Join(s.Dir, name))
	if err != nil {
		return nil, "", err
	}
	return data, FormatOf(name).ContentType, nil
}

// Remove deletes a stored avatar; a missing file is not an error. name is
// a plain file name (see NameOf); anything else is ignored.
func (s *Store) Remove(name string) error {
	if !plainName(name) {
		return nil
	}
	if err := os.Remove(filepath.Join(s.Dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// tempPrefix starts the names of files Save is still writing.
const tempPrefix = ".upload-"

// File is one entry of the avatar directory.
type File struct {
	Name    string
	ModTime time.Time
	// Temp: a file Save was writing (left behind by a crash).
	Temp bool
}

// List returns the stored avatars (names Save makes) and temporary files;
// anything else in the directory is not ours and is left out.
func (s *Store) List() ([]File, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list avatars: %w", err)
	}
	var files []File
	for _, e := range entries {
		temp := strings.HasPrefix(e.Name(), tempPrefix)
		if !e.Type().IsRegular() || (!temp && !ValidName(e.Name())) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		files = append(files, File{Name: e.Name(), ModTime: info.ModTime(), Temp: temp})
	}
	return files, nil
}

// RemoveTemp deletes a temporary file List reported.
func (s *Store) RemoveTemp(name string) error {
	if !strings.HasPrefix(name, tempPrefix) || strings.ContainsAny(name, "/\\\x00") {
		return nil
	}
	if err := os.Remove(filepath.Join(s.Dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
