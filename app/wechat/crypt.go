package wechat

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// ErrDecrypt means encrypted data could not be opened with the session
// key: almost always a stale session_key (the client called wx.login after
// the data was produced), so the remedy is to log in again.
var ErrDecrypt = errors.New("wechat: encrypted data does not decrypt with the session key")

// Decrypt opens a mini program's encryptedData (AES-128-CBC, PKCS#7,
// key = base64(session_key), iv = base64(iv)) and checks that the JSON
// object inside is watermarked with our AppID. It returns the plaintext.
func (c *Client) Decrypt(sessionKey, encryptedData, iv string) ([]byte, error) {
	return Decrypt(c.appID, sessionKey, encryptedData, iv)
}

// Decrypt is Client.Decrypt for a given AppID. Every failure is ErrDecrypt
// or ErrWatermark and none says what was wrong (callers answer both alike):
// a detailed answer would be a padding oracle.
func Decrypt(appID, sessionKey, encryptedData, iv string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil || len(key) != 16 {
		return nil, ErrDecrypt
	}
	ivb, err := base64.StdEncoding.DecodeString(iv)
	if err != nil || len(ivb) != aes.BlockSize {
		return nil, ErrDecrypt
	}
	data, err := base64.StdEncoding.DecodeString(encryptedData)
	if err != nil || len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, ErrDecrypt
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrDecrypt
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, ivb).CryptBlocks(plain, data)
	plain, ok := unpad(plain)
	if !ok {
		return nil, ErrDecrypt
	}
	var doc struct {
		Watermark *watermark `json:"watermark"`
	}
	// CBC has no integrity check: garbage that happens to unpad is caught
	// here, by insisting on a UTF-8 JSON object.
	if !utf8.Valid(plain) || !json.Valid(plain) || !bytes.HasPrefix(bytes.TrimSpace(plain), []byte("{")) {
		return nil, ErrDecrypt
	}
	if err := json.Unmarshal(plain, &doc); err != nil {
		return nil, ErrDecrypt
	}
	if doc.Watermark == nil || doc.Watermark.AppID != appID {
		return nil, ErrWatermark
	}
	return plain, nil
}

// unpad removes PKCS#7 padding strictly: 1 to 16 bytes, all equal to
// their count.
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, false
	}
	for _, x := range b[len(b)-n:] {
		if int(x) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}
