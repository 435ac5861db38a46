package main

// web.go: the browser client's files, built into the binary so that a lab PC needs nothing
// but the server's URL (no CDN: lab networks may be offline). The files are the web/ folder
// without its tests (web/test holds node and Playwright tests and their screenshots).

import (
	"embed"
	"io/fs"
	"mime"
)

func init() {
	// The web app manifest's type (W3C Web App Manifest); not in Go's built-in table, and
	// the system's mime.types may lack it (Windows).
	mime.AddExtensionType(".webmanifest", "application/manifest+json")
}

//go:embed web/*.html web/*.css web/*.js web/*.svg web/*.webmanifest web/lib web/ui web/icons
var webEmbed embed.FS

// webFiles is web/ as the root of the site: web/index.html is served as /.
func webFiles() fs.FS {
	sub, err := fs.Sub(webEmbed, "web")
	if err != nil {
		panic(err) // "web" is a valid path; fs.Sub fails only on invalid ones
	}
	return sub
}
