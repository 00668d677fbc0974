package handlers

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"os"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/avatars"
	"github.com/miniauth/miniauth/app/problem"
	"github.com/miniauth/miniauth/app/profiles"
)

// Limits of the WeChat data endpoints' fields, in bytes.
const (
	MaxEncryptedData = 64 << 10
	MaxIV            = 64
)

// WeChat serves the mini program's WeChat data: avatar upload, phone
// binding, decryption of encrypted data, and the uploaded avatars.
type WeChat struct {
	Profiles *profiles.Service
	Avatars  *avatars.Store
}

// UploadAvatar is POST /api/me/avatar, multipart field "file" (what
// wx.uploadFile sends). The body is streamed: it is read here, after the
// bearer token was checked, and at most MaxAvatarBody of it; the image's
// own limits are checked by avatars.Save.
func (w *WeChat) UploadAvatar(c *fiber.Ctx) error {
	mediaType, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mediaType != fiber.MIMEMultipartForm || params["boundary"] == "" {
		return problem.New(problem.InvalidRequest, "Content-Type must be multipart/form-data with a field named \"file\"")
	}
	var body io.Reader = c.Request().BodyStream()
	if body == nil {
		body = bytes.NewReader(c.Request().Body())
	}
	image, err := readFilePart(multipart.NewReader(&cappedReader{r: body, left: MaxAvatarBody}, params["boundary"]), "file")
	if err != nil {
		return err
	}
	u, err := w.Profiles.UploadAvatar(c.UserContext(), CurrentUser(c).ID, CurrentSession(c), bytes.NewReader(image))
	if err != nil {
		return asFileField(err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(User(u))
}

// asFileField names the form field in an image's validation error: the
// domain (avatars) judges the image, the request sent it as "file".
func asFileField(err error) error {
	if p, ok := problem.As(err); ok && p.Code == problem.ValidationFailed && p.Fields == nil {
		return problem.Invalid(map[string]string{"file": p.Message})
	}
	return err
}

// readFilePart returns the content of the multipart field named field,
// skipping the others; at most avatars.MaxBytes+1 bytes of it.
func readFilePart(mr *multipart.Reader, field string) ([]byte, error) {
	errMissing := problem.New(problem.InvalidRequest, "multipart field %q is missing or malformed", field)
	for {
		part, err := mr.NextPart()
		if isTooLarge(err) {
			return nil, errAvatarTooLarge
		}
		if err != nil {
			return nil, errMissing
		}
		if part.FormName() != field {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, avatars.MaxBytes+1))
		switch {
		case isTooLarge(err), len(data) > avatars.MaxBytes:
			return nil, errAvatarTooLarge
		case err != nil:
			return nil, errMissing
		}
		return data, nil
	}
}

var errAvatarTooLarge = problem.New(problem.RequestTooLarge, "the avatar is larger than 2 MiB")

// BindPhone is POST /api/me/phone {"code"}: the code from
// <button open-type="getPhoneNumber">, not a wx.login code.
func (w *WeChat) BindPhone(c *fiber.Ctx) error {
	b, err := ReadBody(c, "code")
	if err != nil {
		return err
	}
	code, err := b.requiredCode("code")
	if err != nil {
		return err
	}
	if err := b.Err(nil); err != nil {
		return err
	}
	u, err := w.Profiles.BindPhone(c.UserContext(), CurrentUser(c), CurrentSession(c), code, ClientIP(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(User(u))
}

// Decrypt is POST /api/wechat/decrypt {"encrypted_data","iv"}: the
// decrypted JSON object, as WeChat produced it.
func (w *WeChat) Decrypt(c *fiber.Ctx) error {
	b, err := ReadBody(c, "encrypted_data", "iv")
	if err != nil {
		return err
	}
	data, err := b.RequiredString("encrypted_data")
	if err != nil {
		return err
	}
	iv, err := b.RequiredString("iv")
	if err != nil {
		return err
	}
	if len(data) > MaxEncryptedData {
		b.bad["encrypted_data"] = "is too long"
	}
	if len(iv) > MaxIV {
		b.bad["iv"] = "is too long"
	}
	if err := b.Err(nil); err != nil {
		return err
	}
	plain, err := w.Profiles.Decrypt(c.UserContext(), CurrentUser(c).ID, CurrentSession(c), data, iv)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(plain)
}

// ServeAvatar is GET /uploads/avatars/:name. Names are random and never
// reused, so the file can be cached for good; nosniff and a sandboxing CSP
// keep a browser from treating it as anything but the image it is.
func (w *WeChat) ServeAvatar(c *fiber.Ctx) error {
	data, contentType, err := w.Avatars.Read(c.Params("name"))
	if errors.Is(err, os.ErrNotExist) {
		return problem.New(problem.NotFound, "no such avatar")
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, contentType)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; sandbox")
	return c.Send(data)
}
