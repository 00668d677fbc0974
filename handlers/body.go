package handlers

import (
	"errors"
	"io"

	"github.com/gofiber/fiber/v2"

	"github.com/miniauth/miniauth/app/avatars"
	"github.com/miniauth/miniauth/app/problem"
)

// Request body limits, in bytes. The server streams request bodies
// (fiber.Config.StreamRequestBody), so nothing is buffered before
// LimitBody has looked at the route.
const (
	// MaxSmallBody is the body of any route not named below (/healthz,
	// unknown paths): a few KiB, refused before it is read.
	MaxSmallBody = 4 << 10
	// MaxAvatarBody is an avatar's multipart request: the 2 MiB image and
	// room for the multipart framing and small fields.
	MaxAvatarBody = avatars.MaxBytes + 64<<10
)

// BodyRule is how a route's body is read.
type BodyRule struct {
	Limit int
	// Streamed: the handler reads the body itself, after its own checks
	// (the avatar upload, after the bearer token). LimitBody then only
	// checks the announced Content-Length.
	Streamed bool
}

var errBodyTooLarge = problem.New(problem.RequestTooLarge, "request body is too large for this route")

// LimitBody refuses a body larger than the route's limit: from its
// Content-Length before reading a byte, or, for a chunked body, as soon as
// the limit is passed. A body within the limit is read here (bounded), so
// that handlers can use c.Body() and friends as usual.
func LimitBody(ruleFor func(method, path string) BodyRule) fiber.Handler {
	return func(c *fiber.Ctx) error {
		req := c.Request()
		n := req.Header.ContentLength() // -1: chunked
		if n == 0 {
			return c.Next() // most requests: no body, no rule to look up
		}
		rule := ruleFor(c.Method(), c.Path())
		if n > rule.Limit {
			return errBodyTooLarge
		}
		if rule.Streamed {
			return c.Next()
		}
		stream := req.BodyStream()
		if stream == nil {
			return c.Next()
		}
		data, err := readAtMost(stream, n, rule.Limit)
		if err != nil {
			return err
		}
		req.SetBody(data)
		return c.Next()
	}
}

// readAtMost reads a body of announced length n (-1: unknown, chunked)
// that may not exceed limit bytes.
func readAtMost(r io.Reader, n, limit int) ([]byte, error) {
	errRead := problem.New(problem.InvalidRequest, "request body could not be read")
	if n > 0 { // one allocation of the announced size
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, errRead
		}
		return data, nil
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, errRead
	}
	if len(data) > limit {
		return nil, errBodyTooLarge
	}
	return data, nil
}

// cappedReader reads at most limit bytes of r; reading more is
// errBodyTooLarge, not a silent end of file that a parser would report as
// malformed input.
type cappedReader struct {
	r    io.Reader
	left int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// isTooLarge reports whether err is a body past its cap.
func isTooLarge(err error) bool { return errors.Is(err, errBodyTooLarge) }
