package main

import "encoding/binary"

// trayHostMissing: Windows always has a notification area.
func trayHostMissing() string { return "" }

// trayShowsTooltip: the Win32 tray takes the tooltip at once (there is nothing exported
// later to lose it).
func trayShowsTooltip(string) bool { return true }

// trayIcon wraps a PNG in an .ico file (one image, stored as PNG, as Windows Vista and
// later read it), since the Win32 tray loads icons only in that format.
func trayIcon(png []byte) []byte {
	ico := make([]byte, 6+16, 6+16+len(png))
	binary.LittleEndian.PutUint16(ico[2:], 1) // type: icon
	binary.LittleEndian.PutUint16(ico[4:], 1) // one image
	e := ico[6:]
	e[0], e[1] = 32, 32                      // width, height (the tray PNGs are 32x32)
	binary.LittleEndian.PutUint16(e[4:], 1)  // colour planes
	binary.LittleEndian.PutUint16(e[6:], 32) // bits per pixel
	binary.LittleEndian.PutUint32(e[8:], uint32(len(png)))
	binary.LittleEndian.PutUint32(e[12:], 6+16) // offset of the image
	return append(ico, png...)
}
