package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/godbus/dbus/v5"
)

// trayHostMissing says why no tray icon can be shown, or "": there must be a D-Bus session
// bus with a StatusNotifierWatcher (the tray of KDE, GNOME with AppIndicator, Xfce...).
func trayHostMissing() string {
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		return "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)"
	}
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return "no D-Bus session bus (" + err.Error() + ")"
	}
	defer conn.Close()
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has); err != nil {
		return "the D-Bus session bus did not answer (" + err.Error() + ")"
	}
	if !has {
		return "this desktop has no StatusNotifierItem tray (org.kde.StatusNotifierWatcher)"
	}
	return ""
}

// trayIcon is the PNG itself: StatusNotifierItem takes pixels the library decodes from it.
func trayIcon(png []byte) []byte { return png }

// trayShowsTooltip reports whether the tray item exported over D-Bus shows tip, read as a tray
// host reads it (fyne.io/systray names its item org.kde.StatusNotifierItem-PID-1).
func trayShowsTooltip(tip string) bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	item := conn.Object(fmt.Sprintf("org.kde.StatusNotifierItem-%d-1", os.Getpid()), "/StatusNotifierItem")
	var v dbus.Variant
	if err := item.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.kde.StatusNotifierItem", "ToolTip").Store(&v); err != nil {
		return false
	}
	var shown struct {
		Name  string
		Icons []struct {
			W, H int32
			Pix  []byte
		}
		Title string
		Text  string
	}
	return dbus.Store([]any{v.Value()}, &shown) == nil && shown.Title == tip
}
