package avatars

import (
	"bytes"
	"encoding/binary"
)

// Metadata stripping. Phone photos carry EXIF (GPS position, camera,
// time), XMP, comments and text chunks; an avatar is public, so none of
// it is kept. The images are not re-encoded: segments and chunks that hold
// metadata are cut out and the compressed image data is copied byte for
// byte, so quality and size stay as uploaded. Anything not known to be
// image data is dropped (an allow list), and a structure that does not
// parse is refused as not an image.
//
// The EXIF Orientation tag goes with the rest: clients upload the upright
// image that wx.chooseAvatar and wx.compressImage produce.

// strip returns data without its metadata, in the format f.
func strip(f *Format, data []byte) ([]byte, error) {
	switch f.Ext {
	case ".jpg":
		return stripJPEG(data)
	case ".png":
		return stripPNG(data)
	case ".webp":
		return stripWebP(data)
	}
	return nil, errType
}

// JPEG markers.
const (
	markerSOS  = 0xDA
	markerEOI  = 0xD9
	markerAPP0 = 0xE0
	markerAPP2 = 0xE2
	markerAPPE = 0xEE // Adobe
	markerCOM  = 0xFE
)

// keepJPEGSegment is the allow list of marker segments: everything that
// decodes the image (tables, frame and scan headers, restart interval),
// the JFIF header, the ICC colour profile and Adobe's colour transform.
// Every other APPn (EXIF and XMP in APP1, MPF in APP2, IPTC in APP13) and
// comments go.
func keepJPEGSegment(marker byte, payload []byte) bool {
	switch {
	case marker == markerCOM:
		return false
	case marker == markerAPP0:
		return bytes.HasPrefix(payload, []byte("JFIF\x00"))
	case marker == markerAPP2:
		return bytes.HasPrefix(payload, []byte("ICC_PROFILE\x00"))
	case marker == markerAPPE:
		return bytes.HasPrefix(payload, []byte("Adobe"))
	case marker > markerAPP0 && marker <= 0xEF:
		return false
	}
	return true
}

func stripJPEG(b []byte) ([]byte, error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, errType
	}
	out := make([]byte, 0, len(b))
	out = append(out, 0xFF, 0xD8)
	i := 2
	for i < len(b) {
		if b[i] != 0xFF {
			return nil, errType
		}
		for i < len(b) && b[i] == 0xFF { // fill bytes
			i++
		}
		if i >= len(b) {
			return nil, errType
		}
		marker := b[i]
		i++
		switch {
		case marker == markerEOI:
			// Whatever follows the image (a vendor trailer, a second
			// picture) is dropped with it.
			return append(out, 0xFF, markerEOI), nil
		case marker >= 0xD0 && marker <= 0xD7, marker == 0x01: // RSTn, TEM: no length
			out = append(out, 0xFF, marker)
			continue
		}
		if i+2 > len(b) {
			return nil, errType
		}
		n := int(binary.BigEndian.Uint16(b[i:]))
		if n < 2 || i+n > len(b) {
			return nil, errType
		}
		if keepJPEGSegment(marker, b[i+2:i+n]) {
			out = append(out, 0xFF, marker)
			out = append(out, b[i:i+n]...)
		}
		i += n
		if marker != markerSOS {
			continue
		}
		// Entropy-coded data runs to the next marker that is neither a
		// stuffed 0xFF00 nor a restart marker; it is copied as is.
		j := i
		for {
			if j+1 >= len(b) {
				return nil, errType
			}
			if b[j] != 0xFF {
				j++
				continue
			}
			next := b[j+1]
			if next == 0x00 || (next >= 0xD0 && next <= 0xD7) {
				j += 2
				continue
			}
			break
		}
		out = append(out, b[i:j]...)
		i = j
	}
	return nil, errType // no end of image
}

// keepPNGChunk is the allow list of chunks: the critical ones (which a
// decoder must understand) and the ancillary ones that change how the
// pixels look or animate. Text (tEXt, zTXt, iTXt), eXIf, tIME and any
// private chunk go.
func keepPNGChunk(typ string) bool {
	if typ[0] >= 'A' && typ[0] <= 'Z' {
		return true
	}
	switch typ {
	case "tRNS", "gAMA", "cHRM", "sRGB", "iCCP", "sBIT", "bKGD", "pHYs", "acTL", "fcTL", "fdAT":
		return true
	}
	return false
}

func stripPNG(b []byte) ([]byte, error) {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(b, []byte(sig)) {
		return nil, errType
	}
	out := make([]byte, 0, len(b))
	out = append(out, sig...)
	for i := len(sig); i+12 <= len(b); {
		n := binary.BigEndian.Uint32(b[i:])
		if uint64(n) > uint64(len(b)-i-12) {
			return nil, errType
		}
		end := i + 12 + int(n) // length, type, data, CRC
		typ := string(b[i+4 : i+8])
		if keepPNGChunk(typ) {
			out = append(out, b[i:end]...)
		}
		if typ == "IEND" {
			return out, nil
		}
		i = end
	}
	return nil, errType // no IEND
}

// VP8X feature flags that announce metadata chunks.
const (
	vp8xEXIF = 0x08
	vp8xXMP  = 0x04
)

func stripWebP(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, errType
	}
	size := binary.LittleEndian.Uint32(b[4:])
	if size < 4 || uint64(size) > uint64(len(b)-8) {
		return nil, errType
	}
	body := b[12 : 8+size] // anything after the RIFF container is dropped
	out := make([]byte, 0, len(b))
	out = append(out, b[:12]...)
	vp8x := -1
	for i := 0; i < len(body); {
		if i+8 > len(body) {
			return nil, errType
		}
		fourcc := string(body[i : i+4])
		n := binary.LittleEndian.Uint32(body[i+4:])
		padded := uint64(n) + uint64(n&1)
		if padded > uint64(len(body)-i-8) {
			return nil, errType
		}
		end := i + 8 + int(padded)
		switch fourcc {
		case "VP8X":
			if n < 10 {
				return nil, errType
			}
			vp8x = len(out)
			out = append(out, body[i:end]...)
		case "VP8 ", "VP8L", "ALPH", "ANIM", "ANMF", "ICCP":
			out = append(out, body[i:end]...)
		}
		// EXIF, "XMP " and unknown chunks are dropped.
		i = end
	}
	if vp8x >= 0 {
		out[vp8x+8] &^= vp8xEXIF | vp8xXMP
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out, nil
}
