package avatars

import (
	"bytes"
	"image"
	"path/filepath"
	"sync"
	"testing"

	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/app/problem"
)

// TestSaveStripsMetadata: EXIF (with a GPS position), XMP, comments and
// text chunks are cut out of JPEG, PNG and WebP uploads, and nothing else
// changes: the stored file is the image exactly as the encoder made it,
// not a re-compressed copy. 100 uploads at once give the same result.
func TestSaveStripsMetadata(t *testing.T) {
	jpegTagged, jpegPlain := avatartest.JPEGWithMetadata(t, 3)
	pngTagged, pngPlain := avatartest.PNGWithMetadata(t, 4)
	webpTagged, webpPlain := avatartest.WebPWithMetadata()
	cases := []struct {
		name          string
		tagged, plain []byte
	}{
		{"jpeg", jpegTagged, jpegPlain},
		{"png", pngTagged, pngPlain},
		{"webp", webpTagged, webpPlain},
	}
	s := New(filepath.Join(t.TempDir(), "avatars"))
	for _, c := range cases {
		for _, marker := range [][]byte{avatartest.GPSLatitude, []byte(avatartest.SecretText)} {
			if !bytes.Contains(c.tagged, marker) {
				t.Fatalf("%s: the test image lacks its metadata", c.name)
			}
		}
		if _, _, err := image.Decode(bytes.NewReader(c.tagged)); err != nil && c.name != "webp" {
			t.Fatalf("%s: the tagged test image does not decode: %v", c.name, err)
		}
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			c := cases[i%len(cases)]
			name, err := s.Save(bytes.NewReader(c.tagged))
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				return
			}
			stored, _, err := s.Read(name)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				return
			}
			if !bytes.Equal(stored, c.plain) {
				t.Errorf("%s: stored %d bytes, want the %d bytes of the image without its metadata", c.name, len(stored), len(c.plain))
			}
			for _, leak := range [][]byte{avatartest.GPSLatitude, []byte(avatartest.SecretText), []byte("Exif\x00"), []byte("xmpmeta")} {
				if bytes.Contains(stored, leak) {
					t.Errorf("%s: the stored file still holds %q", c.name, leak)
				}
			}
		})
	}
	wg.Wait()
}

func TestStripRefusesBrokenStructure(t *testing.T) {
	jpegTagged, _ := avatartest.JPEGWithMetadata(t, 5)
	pngTagged, _ := avatartest.PNGWithMetadata(t, 6)
	webpTagged, _ := avatartest.WebPWithMetadata()
	s := New(filepath.Join(t.TempDir(), "avatars"))
	for name, data := range map[string][]byte{
		"jpeg without its end":      jpegTagged[:len(jpegTagged)/2],
		"jpeg segment past the end": append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, jpegTagged[2:40]...),
		"png without IEND":          pngTagged[:len(pngTagged)-12],
		"webp chunk past the end":   webpTagged[:len(webpTagged)-3],
	} {
		if _, err := s.Save(bytes.NewReader(data)); problem.CodeOf(err) != problem.ValidationFailed {
			t.Errorf("%s: got %v, want validation_failed", name, err)
		}
	}
}
