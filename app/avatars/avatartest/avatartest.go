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

// GPS position written into the metadata of the *WithMetadata images, and
// text that must not survive an upload.
var (
	// GPSLatitude is 39°54'26" as three EXIF rationals, big-endian.
	GPSLatitude = []byte{0, 0, 0, 39, 0, 0, 0, 1, 0, 0, 0, 54, 0, 0, 0, 1, 0, 0, 0x0A, 0x28, 0, 0, 0, 100}
	// SecretText appears in every comment, text chunk and XMP packet.
	SecretText = "home-address-GPS-39.9075N-116.3972E"
)

// exif is an EXIF block ("Exif\0\0" and a big-endian TIFF structure) whose
// IFD0 points to a GPS IFD with GPSLatitudeRef "N" and GPSLatitude.
func exif() []byte {
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.BigEndian, v) }
	b.WriteString("Exif\x00\x00")
	b.WriteString("MM\x00\x2a")
	w(uint32(8)) // IFD0 at offset 8 of the TIFF structure
	// IFD0: one entry, GPSInfo (0x8825, LONG) → the GPS IFD at 26.
	w(uint16(1))
	w(uint16(0x8825))
	w(uint16(4))
	w(uint32(1))
	w(uint32(26))
	w(uint32(0)) // no next IFD
	// GPS IFD at 26: GPSLatitudeRef (1, ASCII "N") and GPSLatitude (2,
	// RATIONAL ×3 at offset 26+2+2*12+4 = 56).
	w(uint16(2))
	w(uint16(1))
	w(uint16(2))
	w(uint32(2))
	b.WriteString("N\x00\x00\x00")
	w(uint16(2))
	w(uint16(5))
	w(uint32(3))
	w(uint32(56))
	w(uint32(0))
	b.Write(GPSLatitude)
	return b.Bytes()
}

func xmp() string {
	return `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
		`<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="39,54.43N" exif:UserComment="` + SecretText + `"/>` +
		`</rdf:RDF></x:xmpmeta>`
}

// jpegSegment is one marker segment with its length.
func jpegSegment(marker byte, payload []byte) []byte {
	seg := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	return append(seg, payload...)
}

// JPEGWithMetadata returns a JPEG carrying EXIF with a GPS position, an
// XMP packet, a comment and a trailer after the image, and the same JPEG
// as the encoder made it, without any of that.
func JPEGWithMetadata(t testing.TB, seed int) (tagged, plain []byte) {
	t.Helper()
	plain = JPEG(t, seed)
	var b bytes.Buffer
	b.Write(plain[:2]) // SOI
	b.Write(jpegSegment(0xE1, exif()))
	b.Write(jpegSegment(0xE1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"), xmp()...)))
	b.Write(jpegSegment(0xFE, []byte(SecretText)))
	b.Write(plain[2:])
	b.WriteString(SecretText) // after EOI
	return b.Bytes(), plain
}

// pngChunk is one chunk with its length and CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

// PNGWithMetadata returns a PNG carrying tEXt, iTXt (XMP), eXIf (with
// a GPS position) and tIME chunks, and the same PNG without them.
func PNGWithMetadata(t testing.TB, seed int) (tagged, plain []byte) {
	t.Helper()
	plain = PNG(t, seed)
	const ihdrEnd = 8 + 12 + 13 // signature, IHDR
	var b bytes.Buffer
	b.Write(plain[:ihdrEnd])
	b.Write(pngChunk("tEXt", []byte("Comment\x00"+SecretText)))
	b.Write(pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"+xmp())))
	b.Write(pngChunk("eXIf", exif()[6:])) // eXIf holds the TIFF structure without "Exif\0\0"
	b.Write(pngChunk("tIME", []byte{0x07, 0xEA, 11, 29, 12, 0, 0}))
	b.Write(plain[ihdrEnd:])
	return b.Bytes(), plain
}

// riffChunk is one WebP chunk, padded to an even size.
func riffChunk(fourcc string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString(fourcc)
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	if len(data)%2 == 1 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func riff(chunks ...[]byte) []byte {
	body := bytes.Join(chunks, nil)
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+len(body)))
	b.WriteString("WEBP")
	b.Write(body)
	return b.Bytes()
}

// WebPWithMetadata returns an extended WebP (VP8X announcing EXIF and XMP)
// carrying EXIF with a GPS position and an XMP packet, and the same WebP
// without them, its VP8X flags cleared.
func WebPWithMetadata() (tagged, plain []byte) {
	vp8 := riffChunk("VP8 ", webp[20:]) // the 1×1 image's VP8 payload
	vp8x := func(flags byte) []byte {
		return riffChunk("VP8X", []byte{flags, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // 1×1 canvas
	}
	tagged = riff(vp8x(0x08|0x04), vp8, riffChunk("EXIF", exif()[6:]), riffChunk("XMP ", []byte(xmp())))
	plain = riff(vp8x(0), vp8)
	return tagged, plain
}
