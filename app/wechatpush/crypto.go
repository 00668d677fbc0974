// Package wechatpush reads WeChat's message push (消息推送): it checks a
// delivery's signature and age, decrypts safe-mode messages and parses an
// event in XML or JSON. It knows nothing of HTTP or the database; the
// simulator uses it to sign and encrypt what it pushes.
package wechatpush

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// AESKeyLen is the length of an EncodingAESKey: 43 characters of base64
// that decode (with "=" appended) to a 32-byte AES-256 key.
const AESKeyLen = 43

// padBlock is the PKCS#7 block size WeChat pads to: 32, not AES's 16 (the
// official example pads 19 bytes).
const padBlock = 32

// Sign is WeChat's signature: the SHA-1 of the parts sorted as strings and
// joined without a separator, in lowercase hex. The URL check and
// plaintext mode sign (token, timestamp, nonce); safe mode's
// msg_signature adds the Encrypt text.
func Sign(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	sum := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(sum[:])
}

// Verify reports whether sig is the signature of parts, comparing in
// constant time (a forger learns nothing from how long a refusal took).
func Verify(sig string, parts ...string) bool {
	want := Sign(parts...)
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(sig)), []byte(want)) == 1
}

// ParseAESKey decodes an EncodingAESKey into the AES key.
func ParseAESKey(encoding string) ([]byte, error) {
	if len(encoding) != AESKeyLen {
		return nil, fmt.Errorf("must be %d characters, not %d", AESKeyLen, len(encoding))
	}
	for _, r := range encoding {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return nil, errors.New("must be letters and digits only")
		}
	}
	key, err := base64.StdEncoding.DecodeString(encoding + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("is not a valid EncodingAESKey")
	}
	return key, nil
}

// ErrDecrypt is any Encrypt text that does not open with the key: wrong
// key, truncated, tampered with, or meant for another mini program.
var ErrDecrypt = errors.New("message does not decrypt with this key and appid")

// Decrypt opens a safe-mode Encrypt text: AES-256-CBC with IV = key[:16],
// PKCS#7 padding to 32 bytes, plaintext = 16 random bytes, the message
// length (4 bytes, big endian), the message, the appid, which must be
// appID.
func Decrypt(key []byte, appID, encrypt string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(encrypt)
	if err != nil || len(raw) == 0 || len(raw)%aes.BlockSize != 0 || len(key) != 32 {
		return nil, ErrDecrypt
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, ErrDecrypt
	}
	plain := make([]byte, len(raw))
	cipher.NewCBCDecrypter(block, key[:aes.BlockSize]).CryptBlocks(plain, raw)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > padBlock || pad > len(plain) {
		return nil, ErrDecrypt
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return nil, ErrDecrypt
		}
	}
	plain = plain[:len(plain)-pad]
	if len(plain) < 20 {
		return nil, ErrDecrypt
	}
	n := binary.BigEndian.Uint32(plain[16:20])
	if uint64(n) > uint64(len(plain)-20) {
		return nil, ErrDecrypt
	}
	msg, rest := plain[20:20+n], plain[20+n:]
	if subtle.ConstantTimeCompare(rest, []byte(appID)) != 1 {
		return nil, ErrDecrypt
	}
	return msg, nil
}

// Encrypt seals msg for appID the way WeChat does (and a reply must be).
// random is the 16-byte prefix; nil draws one.
func Encrypt(key []byte, appID string, random, msg []byte) (string, error) {
	if len(key) != 32 {
		return "", errors.New("AES key must be 32 bytes")
	}
	if random == nil {
		random = make([]byte, 16)
		rand.Read(random)
	}
	if len(random) != 16 {
		return "", errors.New("random prefix must be 16 bytes")
	}
	var plain bytes.Buffer
	plain.Write(random)
	binary.Write(&plain, binary.BigEndian, uint32(len(msg)))
	plain.Write(msg)
	plain.WriteString(appID)
	pad := padBlock - plain.Len()%padBlock
	plain.Write(bytes.Repeat([]byte{byte(pad)}, pad))
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	out := make([]byte, plain.Len())
	cipher.NewCBCEncrypter(block, key[:aes.BlockSize]).CryptBlocks(out, plain.Bytes())
	return base64.StdEncoding.EncodeToString(out), nil
}
