//go:build linux

package main

// The tray icon of labchat open against a real D-Bus session bus: the test starts its own
// dbus-daemon and plays the desktop's tray host (a StatusNotifierWatcher), then reads the
// item's properties and clicks its menu as a panel would.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// trayBinary is labchat built without -race for this test alone: the race detector finds a
// race inside fyne.io/systray v1.12.2 that labchat cannot avoid. Its GetLayout (answering the
// tray host over D-Bus, under menuLock) reads instance.menuVersion while the refresh() it
// starts 150 ms after the first GetLayout writes it under another mutex
// (systray_menu_unix.go:91 and :423); with a -race binary it ends labchat open with exit code
// 66 in about 2 runs of 12 (checked 2026-12-06). labchat's own code is checked with -race by
// every other test of labchat open (open_test.go, the browser test).
func trayBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(testBinDir, "labchat-norace")
	trayBuildOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			trayBuildErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if trayBuildErr != nil {
		t.Fatalf("build labchat: %v", trayBuildErr)
	}
	return bin
}

var (
	trayBuildOnce sync.Once
	trayBuildErr  error
)

// sniWatcher is the test's org.kde.StatusNotifierWatcher: it records who registers.
type sniWatcher struct{ items chan [2]string }

func (w *sniWatcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	w.items <- [2]string{string(sender), service}
	return nil
}

func (w *sniWatcher) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

// startSessionBus runs a dbus-daemon of the test's own and returns its address.
func startSessionBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed (apt-get install dbus; .ci/run does)")
	}
	addr := "unix:path=" + filepath.Join(t.TempDir(), "bus")
	cmd := exec.Command(daemon, "--session", "--nofork", "--nopidfile", "--print-address=1", "--address="+addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case a := <-got:
		if a == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		return a
	case <-time.After(ioTimeout):
		t.Fatal("dbus-daemon did not start")
	}
	return ""
}

// trayTooltip is the ToolTip property: (icon name, icon pixmaps, title, description).
type trayTooltip struct {
	Name  string
	Icons []trayPixmap
	Title string
	Text  string
}

type trayPixmap struct {
	W, H int32
	Pix  []byte
}

func TestOpenTrayOverDBus(t *testing.T) {
	bus := startSessionBus(t)
	conn, err := dbus.Connect(bus)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := &sniWatcher{items: make(chan [2]string, 4)}
	if err := conn.Export(w, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the watcher name: %v %v", reply, err)
	}

	ts := startServer(t, testConfig(t), "")
	p := startOpenBinary(t, trayBinary(t), t.TempDir(), []string{"DBUS_SESSION_BUS_ADDRESS=" + bus}, ts.addr)
	var item [2]string
	select {
	case item = <-w.items:
	case <-time.After(ioTimeout):
		t.Fatalf("no StatusNotifierItem registered; stderr: %s", p.stderr.String())
	}
	if item[1] != "/StatusNotifierItem" {
		t.Fatalf("registered %q, want the item's object path", item[1])
	}
	obj := conn.Object(item[0], "/StatusNotifierItem")
	tooltip := func() string {
		v, err := obj.GetProperty("org.kde.StatusNotifierItem.ToolTip")
		if err != nil {
			t.Fatalf("read ToolTip: %v", err)
		}
		var tt trayTooltip
		if err := dbus.Store([]any{v.Value()}, &tt); err != nil {
			t.Fatalf("ToolTip %v: %v", v, err)
		}
		return tt.Title
	}
	pixmap := func() []byte {
		v, err := obj.GetProperty("org.kde.StatusNotifierItem.IconPixmap")
		if err != nil {
			t.Fatalf("read IconPixmap: %v", err)
		}
		var px []trayPixmap
		if err := dbus.Store([]any{v.Value()}, &px); err != nil || len(px) == 0 {
			t.Fatalf("IconPixmap %v: %v", v, err)
		}
		return px[0].Pix
	}
	waitTooltip := func(want string) {
		t.Helper()
		deadline := time.Now().Add(ioTimeout)
		for got := tooltip(); got != want; got = tooltip() {
			if time.Now().After(deadline) {
				t.Fatalf("tray tooltip %q, want %q", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitTooltip("labchat: offline") // no page logged in yet
	offlineIcon := pixmap()

	post := func(state string) {
		t.Helper()
		req, _ := http.NewRequest("POST", p.url+"open/state", strings.NewReader(state))
		req.Header.Set("Origin", strings.TrimSuffix(p.url, "/"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 204 {
			t.Fatalf("POST /open/state: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	post(`{"connected":true,"loggedIn":true}`)
	waitTooltip("labchat: online")
	onlineIcon := pixmap()
	if bytes.Equal(onlineIcon, offlineIcon) {
		t.Error("online and offline show the same icon")
	}

	// A DM the page has not shown: the icon flashes (two icons in turn) until it is read.
	post(`{"connected":true,"loggedIn":true,"unread":1,"attention":1,"from":"alice"}`)
	waitTooltip("labchat: 1 unread, new from alice")
	seen := map[string]bool{}
	deadline := time.Now().Add(ioTimeout)
	for time.Now().Before(deadline) && len(seen) < 2 {
		seen[string(pixmap())] = true
		time.Sleep(trayFlashInterval / 4)
	}
	if len(seen) < 2 {
		t.Errorf("the icon did not alternate while a DM was unread")
	}
	post(`{"connected":true,"loggedIn":true}`) // read
	waitTooltip("labchat: online")
	for range 3 {
		time.Sleep(trayFlashInterval / 2)
		if !bytes.Equal(pixmap(), onlineIcon) {
			t.Fatal("the icon still flashes after the DM was read")
		}
	}
	post(`{"connected":true,"loggedIn":true,"away":true}`)
	waitTooltip("labchat: away")

	// The menu: its items are those of the issue; Set back and Quit reach labchat open.
	menu := conn.Object(item[0], "/StatusNotifierItem/menu")
	var revision uint32
	var layout struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	var items map[string]int32
	deadline = time.Now().Add(ioTimeout)
	for {
		if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&revision, &layout); err != nil {
			t.Fatalf("GetLayout: %v", err)
		}
		items = map[string]int32{}
		for _, c := range layout.Children {
			var child struct {
				ID       int32
				Props    map[string]dbus.Variant
				Children []dbus.Variant
			}
			if err := dbus.Store([]any{c.Value()}, &child); err != nil {
				t.Fatalf("menu item %v: %v", c, err)
			}
			if l, ok := child.Props["label"].Value().(string); ok {
				items[l] = child.ID
			}
		}
		if _, ok := items["Set back"]; ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("menu items %v, want Open labchat, Set back, Mute sounds, Quit", items)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"Open labchat", "Set back", "Mute sounds", "Quit"} {
		if _, ok := items[want]; !ok {
			t.Errorf("no %q in the tray menu %v", want, items)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", p.url+"open/events", nil)
	req.Header.Set("Origin", strings.TrimSuffix(p.url, "/"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	events.ReadString('\n') // the stream's opening comment
	click := func(label string) {
		t.Helper()
		if err := menu.Call("com.canonical.dbusmenu.Event", 0, items[label], "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
			t.Fatalf("click %s: %v", label, err)
		}
	}
	click("Set back")
	for {
		line, err := events.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		if line == "data: back\n" {
			break
		}
	}
	click("Quit")
	if code := p.waitExit(t); code != 0 {
		t.Errorf("exit code after the tray's Quit: %d, want 0; stderr: %s", code, p.stderr.String())
	}
	_ = revision
}
