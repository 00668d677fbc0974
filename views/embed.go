// Package views holds the admin panel's HTML templates, embedded in the
// binary, and the fiber.Views that renders them.
//
// Every page is parsed into its own template set together with
// layout.html and partials.html, so that each page can define "content"
// and "title" without colliding with the others (a single shared set, as
// gofiber/template/html builds, would keep only one of them).
package views

import "embed"

// FS is the templates.
//
//go:embed *.html
var FS embed.FS
