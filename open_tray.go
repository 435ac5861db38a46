//go:build linux || windows

package main

// open_tray.go: the tray icon of labchat open, with fyne.io/systray (a StatusNotifierItem
// over D-Bus on Linux, the notification area through Win32 on Windows; neither needs cgo).
// It shows online, away or offline, flashes (alternating icon) while a DM, a mention or a
// ringing call is unread, and its menu opens the page, sets away or back, mutes sounds and
// quits. The page is the source of its state: it reports it to the local server (open.go).
//
// One goroutine (trayLoop) owns the icon and the menu; update only hands it the latest state.

import (
	"fmt"
	"io/fs"
	"time"

	"fyne.io/systray"
)

// trayFlashInterval is how long each of the two icons of a flash shows.
const trayFlashInterval = 600 * time.Millisecond

// trayConfirmInterval and trayConfirmFor: how often, and how long at most, the first state is
// applied again until the tray item shows it (see loop).
const (
	trayConfirmInterval = 100 * time.Millisecond
	trayConfirmFor      = 5 * time.Second
)

type systrayTray struct {
	app     *openApp
	states  chan pageState // capacity 1: the newest state
	done    chan struct{}
	icons   map[string][]byte // status or "attention" -> icon in the platform's format
	stopped chan struct{}
}

// startTray shows the tray icon, or says why there is none (no tray host: labchat open runs
// on without it).
func startTray(a *openApp) (openTray, string) {
	if why := trayHostMissing(); why != "" {
		return nil, "no tray icon: " + why
	}
	t := &systrayTray{app: a, states: make(chan pageState, 1), done: make(chan struct{}), stopped: make(chan struct{}), icons: map[string][]byte{}}
	for _, name := range []string{"online", "away", "offline", "attention"} {
		b, err := fs.ReadFile(webFiles(), "icons/tray-"+name+".png")
		if err != nil {
			return nil, fmt.Sprintf("no tray icon: %v", err)
		}
		t.icons[name] = trayIcon(b)
	}
	ready := make(chan struct{})
	systray.SetOnTapped(a.showPage)
	go systray.Run(func() { close(ready) }, func() {})
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		return nil, "no tray icon: the tray did not start"
	}
	go t.loop()
	return t, ""
}

func (t *systrayTray) update(st pageState) {
	select {
	case <-t.states: // drop the older state
	default:
	}
	select {
	case t.states <- st:
	default:
	}
}

func (t *systrayTray) close() {
	close(t.done)
	<-t.stopped
	systray.Quit()
}

// loop owns the tray: the icon, its flashing, the tooltip and the menu.
func (t *systrayTray) loop() {
	defer close(t.stopped)
	systray.SetTitle("labchat")
	open := systray.AddMenuItem("Open labchat", "Show the chat window")
	away := systray.AddMenuItem("Set away", "Tell the others you are away")
	mute := systray.AddMenuItemCheckbox("Mute sounds", "No sounds for messages and calls", false)
	systray.AddSeparator()
	quit := systray.AddMenuItem("Quit", "Quit labchat open")
	// The library drops a click nobody is receiving at that instant: a goroutine per item
	// always receives, and the loop takes the clicks from one buffered channel.
	clicks := make(chan *systray.MenuItem, 8)
	for _, item := range []*systray.MenuItem{open, away, mute, quit} {
		go func() {
			for {
				select {
				case <-item.ClickedCh:
					select {
					case clicks <- item:
					default: // eight clicks pending: the user is not waiting for a ninth
					}
				case <-t.done:
					return
				}
			}
		}()
	}
	var st pageState
	shown := ""
	flash := time.NewTicker(trayFlashInterval)
	defer flash.Stop()
	phase := false
	paint := func() {
		icon := st.status()
		if st.Attention > 0 && phase {
			icon = "attention"
		}
		if icon != shown {
			systray.SetIcon(t.icons[icon])
			shown = icon
		}
	}
	tip := ""
	describe := func() {
		tip = "labchat: " + st.status()
		switch {
		case st.Attention > 0 && st.From != "":
			tip = fmt.Sprintf("labchat: %d unread, new from %s", st.Unread, st.From)
		case st.Unread > 0:
			tip = fmt.Sprintf("labchat: %s, %d unread", st.status(), st.Unread)
		}
		systray.SetTooltip(tip)
		if st.Away {
			away.SetTitle("Set back")
		} else {
			away.SetTitle("Set away")
		}
		if st.Muted != mute.Checked() {
			if st.Muted {
				mute.Check()
			} else {
				mute.Uncheck()
			}
		}
	}
	// The icon first, then the tooltip: whoever sees the new tooltip sees the new icon.
	paint()
	describe()
	// fyne.io/systray v1.12.2 runs onReady before it exports the item's properties, and a
	// SetIcon or SetTooltip that falls in between is lost: the tray host would show no icon
	// until the page next reports. So the state is applied again until the item shows it.
	confirm := time.NewTicker(trayConfirmInterval)
	defer confirm.Stop()
	confirmC, confirmEnd, confirmed := confirm.C, time.Now().Add(trayConfirmFor), false
	for {
		select {
		case <-t.done:
			return
		case <-confirmC:
			switch {
			case confirmed || time.Now().After(confirmEnd):
				// Once more a tick after the tooltip got through: an icon set between the
				// export and the library's taking the properties in use would still be lost.
				if confirmed {
					shown = ""
					paint()
					describe()
				}
				confirm.Stop()
				confirmC = nil
			case trayShowsTooltip(tip):
				confirmed = true
			default:
				shown = ""
				paint()
				describe()
			}
		case st = <-t.states:
			phase = st.Attention > 0
			paint()
			describe()
		case <-flash.C:
			if st.Attention > 0 {
				phase = !phase
				paint()
			}
		case item := <-clicks:
			switch item {
			case open:
				t.app.showPage()
			case away:
				if st.Away {
					t.app.broadcast("back")
				} else {
					t.app.broadcast("away")
				}
			case mute:
				if mute.Checked() {
					t.app.broadcast("unmute")
				} else {
					t.app.broadcast("mute")
				}
			case quit:
				t.app.stopApp()
			}
		}
	}
}
