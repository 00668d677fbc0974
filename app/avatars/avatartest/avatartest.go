// Package avatartest makes image files for avatar tests: small real PNG,
// JPEG and WebP images, and PNG headers that claim any size.
package avatartest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

// webp is a valid 1×1 lossy WebP.
var webp = []byte{
	0x52, 0x49, 0x46, 0x46, 0x22, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x20,
	0x16, 0x00, 0x00, 0x00, 0x30, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x01, 0x00, 0x01, 0x00, 0x0e, 0xc0,
	0xfe, 0x25, 0xa4, 0x00, 0x03, 0x70, 0x00, 0x00, 0x00, 0x00,
}

// WebP returns a valid 1×1 lossy WebP (a fresh copy each call).
func WebP() []byte { return bytes.Clone(webp) }

// picture is a 24×24 image; different seeds give different pixels, so
// different files.
func picture(seed int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 24, 24))
	for x := range 24 {
		img.Set(x, (x+seed)%24, color.RGBA{uint8(seed * 40), uint8(x * 10), 200, 255})
	}
	return img
}

// PNG returns a valid 24×24 PNG; seeds 0 to 23 give distinct files.
func PNG(t testing.TB, seed int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, picture(seed)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// JPEG returns a valid 24×24 JPEG; seeds 0 to 23 give distinct files.
func JPEG(t testing.TB, seed int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, picture(seed), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// PNGHeader is a PNG whose IHDR claims w×h pixels, with no image data: a
// decompression bomb's header when w×h is large.
func PNGHeader(w, h uint32) []byte {
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

// Files lists every file in dir (none if it does not exist), temporary
// ones included, to catch orphans.
func Files(t testing.TB, dir string) []string {
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
