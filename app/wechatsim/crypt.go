package wechatsim

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// EncryptData encrypts data the way WeChat produces encryptedData for a
// mini program: data (a JSON object) gains watermark{timestamp, appid},
// then AES-128-CBC with PKCS#7 padding under the user's session key and a
// random IV. Both results are base64.
func EncryptData(sessionKey, appID string, data map[string]any) (encryptedData, iv string, err error) {
	key, err := base64.StdEncoding.DecodeString(sessionKey)
	if err != nil || len(key) != 16 {
		return "", "", fmt.Errorf("session key must be base64 of 16 bytes")
	}
	plain := map[string]any{}
	for k, v := range data {
		plain[k] = v
	}
	plain["watermark"] = map[string]any{"timestamp": time.Now().Unix(), "appid": appID}
	raw, err := json.Marshal(plain)
	if err != nil {
		return "", "", err
	}
	pad := aes.BlockSize - len(raw)%aes.BlockSize
	raw = append(raw, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, _ := aes.NewCipher(key)
	ivb := make([]byte, aes.BlockSize)
	rand.Read(ivb)
	out := make([]byte, len(raw))
	cipher.NewCBCEncrypter(block, ivb).CryptBlocks(out, raw)
	return base64.StdEncoding.EncodeToString(out), base64.StdEncoding.EncodeToString(ivb), nil
}
