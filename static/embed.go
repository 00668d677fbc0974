// Package static holds the admin panel's stylesheet, script and icon,
// embedded in the binary: the panel loads nothing from elsewhere.
package static

import "embed"

// FS is the static files.
//
//go:embed *.css *.js *.svg
var FS embed.FS
