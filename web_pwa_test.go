package main

// The installable app's files: the service worker's shell list is the embedded client, the
// manifest has what Chromium's installability check needs, and the icons are real PNGs of
// the sizes the manifest claims.

import (
	"encoding/json"
	"fmt"
	"image/png"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestServiceWorkerShellIsTheClient(t *testing.T) {
	files := webFiles()
	sw, err := fs.ReadFile(files, "sw.js")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)const SHELL = \[(.*?)\];`).FindSubmatch(sw)
	if block == nil {
		t.Fatal("sw.js has no SHELL list")
	}
	var listed []string
	for _, m := range regexp.MustCompile(`'([^']+)'`).FindAllSubmatch(block[1], -1) {
		listed = append(listed, string(m[1]))
	}
	var want []string
	fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == "sw.js" || strings.HasPrefix(name, "icons/tray-") {
			return err
		}
		if name == "index.html" {
			name = "./"
		}
		want = append(want, name)
		return nil
	})
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("sw.js SHELL lists\n  %v\nthe embedded client is\n  %v", listed, want)
	}
}

func TestManifestAndIcons(t *testing.T) {
	files := webFiles()
	b, err := fs.ReadFile(files, "manifest.webmanifest")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Name, ShortName, StartURL, Display, ThemeColor, BackgroundColor string
		Icons                                                           []struct{ Src, Sizes, Type, Purpose string }
	}
	dec := json.NewDecoder(strings.NewReader(strings.NewReplacer(`"short_name"`, `"ShortName"`, `"start_url"`, `"StartURL"`, `"theme_color"`, `"ThemeColor"`, `"background_color"`, `"BackgroundColor"`).Replace(string(b))))
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m.Name == "" || m.ShortName == "" || m.StartURL != "/" || m.Display != "standalone" || m.ThemeColor == "" || m.BackgroundColor == "" {
		t.Errorf("manifest %+v lacks a required member", m)
	}
	sizes := map[string]bool{}
	for _, ic := range m.Icons {
		f, err := files.Open(ic.Src)
		if err != nil {
			t.Errorf("icon %s: %v", ic.Src, err)
			continue
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Errorf("icon %s is not a PNG: %v", ic.Src, err)
			continue
		}
		if got := fmt.Sprintf("%dx%d", cfg.Width, cfg.Height); got != ic.Sizes {
			t.Errorf("icon %s is %s, the manifest says %s", ic.Src, got, ic.Sizes)
		}
		sizes[ic.Sizes+" "+ic.Purpose] = true
	}
	for _, want := range []string{"192x192 any", "512x512 any", "512x512 maskable"} {
		if !sizes[want] {
			t.Errorf("no %s icon in the manifest", want)
		}
	}
}
