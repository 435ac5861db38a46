//go:build !linux && !windows

package main

import "runtime"

// startTray: fyne.io/systray needs cgo on macOS, and labchat is built without it.
func startTray(*openApp) (openTray, string) {
	if runtime.GOOS == "darwin" {
		return nil, "no tray icon: on macOS the tray needs a cgo build of labchat (CGO_ENABLED=1); the page works the same"
	}
	return nil, "no tray icon on " + runtime.GOOS
}
