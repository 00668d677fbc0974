package avatars

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/problem"
)

// tinyWebP is a valid 1×1 lossy WebP.
var tinyWebP = []byte{
	0x52, 0x49, 0x46, 0x46, 0x22, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x20,
	0x16, 0x00, 0x00, 0x00, 0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x01, 0x00, 0x01, 0x00, 0x0e, 0xc0,
	0xfe, 0x25, 0xa4, 0x00, 0x03, 0x70, 0x00, 0x00, 0x00, 0x00,
}

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 16, 9))
	for x := range 16 {
		img.Set(x, x%9, color.RGBA{255, uint8(x * 16), 0, 255})
	}
	return img
}

func pngBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is a PNG whose IHDR claims w×h pixels, with no image data: a
// decompression bomb's header.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IEND", nil)
	return b.Bytes()
}

func TestSniff(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string // content type, or the error's code
	}{
		{"png", pngBytes(t), "image/png"},
		{"jpeg", jpegBytes(t), "image/jpeg"},
		{"webp", tinyWebP, "image/webp"},
		{"4096 square png", pngHeader(4096, 4096), "image/png"},
		{"text", []byte("just some text, named avatar.png"), problem.ValidationFailed},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), problem.ValidationFailed},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), problem.ValidationFailed},
		{"png magic then garbage", append([]byte("\x89PNG\r\n\x1a\n"), "garbage garbage garbage"...), problem.ValidationFailed},
		{"jpeg magic then garbage", []byte{0xFF, 0xD8, 0xFF, 0x00, 0x01, 0x02}, problem.ValidationFailed},
		{"webp magic then garbage", []byte("RIFF\x10\x00\x00\x00WEBPVP8 garbage"), problem.ValidationFailed},
		{"20000 square png", pngHeader(20000, 20000), problem.ValidationFailed},
		{"wide png", pngHeader(4097, 1), problem.ValidationFailed},
		{"zero-size png", pngHeader(0, 0), problem.ValidationFailed},
		{"empty", nil, problem.ValidationFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Sniff(c.data, bytes.NewReader(c.data))
			got := ""
			if err != nil {
				got = problem.CodeOf(err)
			} else {
				got = f.ContentType
			}
			if got != c.want {
				t.Fatalf("got %q (%v), want %q", got, err, c.want)
			}
		})
	}
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSaveAndRead(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "uploads", "avatars"))
	for _, c := range []struct {
		data       []byte
		ext, ctype string
	}{
		{pngBytes(t), ".png", "image/png"},
		{jpegBytes(t), ".jpg", "image/jpeg"},
		{tinyWebP, ".webp", "image/webp"},
	} {
		name, err := s.Save(bytes.NewReader(c.data))
		if err != nil {
			t.Fatal(err)
		}
		if !ValidName(name) || !strings.HasSuffix(name, c.ext) {
			t.Fatalf("name %q", name)
		}
		data, ctype, err := s.Read(name)
		if err != nil || ctype != c.ctype || !bytes.Equal(data, c.data) {
			t.Fatalf("read back %q: %s, %d bytes, %v", name, ctype, len(data), err)
		}
		if n, ok := NameOf(URL(name)); !ok || n != name {
			t.Fatalf("NameOf(URL(%q)) = %q, %v", name, n, ok)
		}
	}
	if got := files(t, s.Dir); len(got) != 3 {
		t.Fatalf("files left: %v (temp files must not stay)", got)
	}
	info, err := os.Stat(s.Dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode: %v %v", info, err)
	}
}

func TestSaveRefusesWithoutWriting(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "avatars"))
	big := append(pngBytes(t), make([]byte, MaxBytes)...)
	for _, c := range []struct {
		name string
		data []byte
		code string
	}{
		{"over 2 MiB", big, problem.RequestTooLarge},
		{"text", []byte("hello"), problem.ValidationFailed},
		{"bomb header", pngHeader(20000, 20000), problem.ValidationFailed},
		{"empty", nil, problem.ValidationFailed},
	} {
		_, err := s.Save(bytes.NewReader(c.data))
		if problem.CodeOf(err) != c.code {
			t.Fatalf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
	if got := files(t, s.Dir); len(got) != 0 {
		t.Fatalf("refused uploads left files: %v", got)
	}
}

func TestNames(t *testing.T) {
	valid := "0123456789abcdef0123456789abcdef.png"
	for name, want := range map[string]bool{
		valid:                                      true,
		"0123456789abcdef0123456789abcdef.jpg":     true,
		"0123456789abcdef0123456789abcdef.webp":    true,
		"0123456789ABCDEF0123456789abcdef.png":     false,
		"0123456789abcdef0123456789abcde.png":      false,
		"0123456789abcdef0123456789abcdef.gif":     false,
		"0123456789abcdef0123456789abcdef":         false,
		"0123456789abcdef0123456789abcdef.png.png": false,
		"../0123456789abcdef0123456789abcde.png":   false,
		"..":                                       false, "": false, "x/y.png": false,
	} {
		if ValidName(name) != want {
			t.Errorf("ValidName(%q) = %v", name, !want)
		}
	}
	for url, want := range map[string]string{
		URL(valid):                        valid,
		"/uploads/avatars/legacy.png":     "legacy.png",
		"/uploads/avatars/../miniauth.db": "",
		"/uploads/avatars/a/b.png":        "",
		"/uploads/avatars/.upload-123":    "",
		"/uploads/avatars/":               "",
		"/uploads/other/x.png":            "",
		"https://example.com/" + valid:    "",
	} {
		if got, _ := NameOf(url); got != want {
			t.Errorf("NameOf(%q) = %q, want %q", url, got, want)
		}
	}
	s := New(t.TempDir())
	if _, _, err := s.Read("../" + valid); !os.IsNotExist(err) {
		t.Errorf("Read outside the dir: %v", err)
	}
}
