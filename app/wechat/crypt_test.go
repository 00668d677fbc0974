package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
)

// The official WXBizDataCrypt demo data (WECHAT.md §1.5).
const (
	officialAppID      = "wx4f4bc4dec97d474b"
	officialSessionKey = "tiihtNczf5v6AKRyjwEUhQ=="
	officialIV         = "r7BXXKkLb8qrSNn05n0qiA=="
	officialData       = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
)

func TestDecryptOfficialVector(t *testing.T) {
	plain, err := Decrypt(officialAppID, officialSessionKey, officialData, officialIV)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	var got struct {
		OpenID    string `json:"openId"`
		UnionID   string `json:"unionId"`
		Watermark struct {
			AppID     string `json:"appid"`
			Timestamp int64  `json:"timestamp"`
		} `json:"watermark"`
	}
	if err := json.Unmarshal(plain, &got); err != nil {
		t.Fatalf("plaintext is not JSON: %v\n%s", err, plain)
	}
	if got.OpenID != "oGZUI0egBJY1zhBYw2KhdUfwVJJE" || got.UnionID != "ocMvos6NjeKLIBqg5Mr9QjxrP1FA" ||
		got.Watermark.AppID != officialAppID || got.Watermark.Timestamp != 1477314187 {
		t.Fatalf("unexpected plaintext: %s", plain)
	}
}

// encryptRaw encrypts plain as is (the caller pads), for crafting bad
// paddings and payloads.
func encryptRaw(t *testing.T, key, iv, plain []byte) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

func pad(b []byte) []byte {
	n := aes.BlockSize - len(b)%aes.BlockSize
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

func TestDecryptRefusesBadInput(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(officialSessionKey)
	iv, _ := base64.StdEncoding.DecodeString(officialIV)
	raw, _ := base64.StdEncoding.DecodeString(officialData)
	tampered := bytes.Clone(raw)
	tampered[40] ^= 0x01
	otherIV := []byte("0123456789abcdef")
	flippedIV := bytes.Clone(iv) // turns "openId" into invalid UTF-8
	flippedIV[3] ^= 0x80
	lastBlockGone := raw[:len(raw)-aes.BlockSize]
	b64 := base64.StdEncoding.EncodeToString
	goodJSON := []byte(`{"openId":"x","watermark":{"appid":"` + officialAppID + `"}}`)
	badPadding := append(bytes.Clone(goodJSON), bytes.Repeat([]byte{' '}, 16-len(goodJSON)%16)...)
	badPadding[len(badPadding)-1] = 3 // claims 3 bytes of padding, the others are spaces
	zeroPadding := append(bytes.Clone(goodJSON), make([]byte, 16-len(goodJSON)%16)...)

	cases := []struct {
		name, key, data, iv string
		want                error
	}{
		{"tampered ciphertext", officialSessionKey, b64(tampered), officialIV, ErrDecrypt},
		{"other iv", officialSessionKey, officialData, b64(otherIV), ErrDecrypt},
		{"iv bit flipped", officialSessionKey, officialData, b64(flippedIV), ErrDecrypt},
		{"short iv", officialSessionKey, officialData, b64(iv[:12]), ErrDecrypt},
		{"iv not base64", officialSessionKey, officialData, "r7BXXKkLb8qrSNn05n0qiA=!", ErrDecrypt},
		{"truncated ciphertext", officialSessionKey, b64(lastBlockGone), officialIV, ErrDecrypt},
		{"ciphertext not a block multiple", officialSessionKey, b64(raw[:len(raw)-1]), officialIV, ErrDecrypt},
		{"empty ciphertext", officialSessionKey, "", officialIV, ErrDecrypt},
		{"plus turned into space", officialSessionKey, string(bytes.ReplaceAll([]byte(officialData), []byte("+"), []byte(" "))), officialIV, ErrDecrypt},
		{"other session key", "o0q0otL8aEzpcZL/FT9WsQ==", officialData, officialIV, ErrDecrypt},
		{"session key not 16 bytes", "dGlpaHROY3pmNXY2QUtSeWp3RVVoUT09", officialData, officialIV, ErrDecrypt},
		{"inconsistent padding", officialSessionKey, encryptRaw(t, key, iv, badPadding), officialIV, ErrDecrypt},
		{"zero padding", officialSessionKey, encryptRaw(t, key, iv, zeroPadding), officialIV, ErrDecrypt},
		{"not JSON", officialSessionKey, encryptRaw(t, key, iv, pad([]byte("hello, world"))), officialIV, ErrDecrypt},
		{"JSON array", officialSessionKey, encryptRaw(t, key, iv, pad([]byte(`[{"watermark":{"appid":"`+officialAppID+`"}}]`))), officialIV, ErrDecrypt},
		{"no watermark", officialSessionKey, encryptRaw(t, key, iv, pad([]byte(`{"openId":"x"}`))), officialIV, ErrWatermark},
		{"wrong appid watermark", officialSessionKey, officialData, officialIV, ErrWatermark},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			appID := officialAppID
			if c.name == "wrong appid watermark" {
				appID = "wx0123456789abcdef"
			}
			plain, err := Decrypt(appID, c.key, c.data, c.iv)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v (%q), want %v", err, plain, c.want)
			}
		})
	}
	// The well-formed variant of the crafted payloads does decrypt, so the
	// cases above fail for the reason they name.
	if _, err := Decrypt(officialAppID, officialSessionKey, encryptRaw(t, key, iv, pad(goodJSON)), officialIV); err != nil {
		t.Fatalf("control payload: %v", err)
	}
}

func TestUnpadIsStrict(t *testing.T) {
	block := func(tail ...byte) []byte {
		return append(bytes.Repeat([]byte{'a'}, 16-len(tail)), tail...)
	}
	cases := []struct {
		in   []byte
		ok   bool
		size int
	}{
		{block(1), true, 15},
		{block(2, 2), true, 14},
		{bytes.Repeat([]byte{16}, 16), true, 0},
		{block(0), false, 0},
		{block(17), false, 0},
		{block(1, 2), false, 0},
		{block(3, 2, 3), false, 0},
		{nil, false, 0},
	}
	for i, c := range cases {
		out, ok := unpad(c.in)
		if ok != c.ok || (ok && len(out) != c.size) {
			t.Errorf("case %d: unpad(%v) = %d bytes, %v; want %d, %v", i, c.in, len(out), ok, c.size, c.ok)
		}
	}
}
