package avatars

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/avatars/avatartest"
	"github.com/miniauth/miniauth/app/problem"
)

func TestSniff(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string // content type, or the error's code
	}{
		{"png", avatartest.PNG(t, 1), "image/png"},
		{"jpeg", avatartest.JPEG(t, 1), "image/jpeg"},
		{"webp", avatartest.WebP(), "image/webp"},
		{"4096 square png", avatartest.PNGHeader(4096, 4096), "image/png"},
		{"text", []byte("just some text, named avatar.png"), problem.ValidationFailed},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), problem.ValidationFailed},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), problem.ValidationFailed},
		{"png magic then garbage", append([]byte("\x89PNG\r\n\x1a\n"), "garbage garbage garbage"...), problem.ValidationFailed},
		{"jpeg magic then garbage", []byte{0xFF, 0xD8, 0xFF, 0x00, 0x01, 0x02}, problem.ValidationFailed},
		{"webp magic then garbage", []byte("RIFF\x10\x00\x00\x00WEBPVP8 garbage"), problem.ValidationFailed},
		{"20000 square png", avatartest.PNGHeader(20000, 20000), problem.ValidationFailed},
		{"wide png", avatartest.PNGHeader(4097, 1), problem.ValidationFailed},
		{"zero-size png", avatartest.PNGHeader(0, 0), problem.ValidationFailed},
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

func TestSaveAndRead(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "uploads", "avatars"))
	for _, c := range []struct {
		data       []byte
		ext, ctype string
	}{
		{avatartest.PNG(t, 1), ".png", "image/png"},
		{avatartest.JPEG(t, 1), ".jpg", "image/jpeg"},
		{avatartest.WebP(), ".webp", "image/webp"},
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
	if got := avatartest.Files(t, s.Dir); len(got) != 3 {
		t.Fatalf("files left: %v (temp files must not stay)", got)
	}
	info, err := os.Stat(s.Dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode: %v %v", info, err)
	}
}

func TestSaveRefusesWithoutWriting(t *testing.T) {
	s := New(filepath.Join(t.TempDir(), "avatars"))
	big := append(avatartest.PNG(t, 1), make([]byte, MaxBytes)...)
	for _, c := range []struct {
		name string
		data []byte
		code string
	}{
		{"over 2 MiB", big, problem.RequestTooLarge},
		{"text", []byte("hello"), problem.ValidationFailed},
		{"bomb header", avatartest.PNGHeader(20000, 20000), problem.ValidationFailed},
		{"empty", nil, problem.ValidationFailed},
	} {
		_, err := s.Save(bytes.NewReader(c.data))
		if problem.CodeOf(err) != c.code {
			t.Fatalf("%s: got %v, want %s", c.name, err, c.code)
		}
	}
	if got := avatartest.Files(t, s.Dir); len(got) != 0 {
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
