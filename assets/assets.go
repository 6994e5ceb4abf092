// Package assets embeds the dashboard's templates and static files (one
// stylesheet, htmx 2.0.11 from the npm registry, small scripts) so that the
// aibud binary is self-contained.
package assets

import (
	"embed"
	"io/fs"
)

//go:embed templates static
var files embed.FS

// Templates holds layout.html, partials/*.html and pages/*.html.
func Templates() fs.FS {
	sub, _ := fs.Sub(files, "templates")
	return sub
}

// Static holds the files served under /static/.
func Static() fs.FS {
	sub, _ := fs.Sub(files, "static")
	return sub
}
