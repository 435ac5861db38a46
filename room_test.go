package main

import (
	"slices"
	"strings"
	"testing"
)

func TestListFilter(t *testing.T) {
	rooms := map[string]int{"#chan1": 1, "#chan2": 2, "#lab": 5}
	tests := []struct {
		arg  string
		want []string
	}{
		{"", []string{"#chan1", "#chan2", "#lab"}},
		{"#CHAN1", []string{"#chan1"}},
		{"*an2", []string{"#chan2"}},
		{"#ch*", []string{"#chan1", "#chan2"}},
		{"!#ch*", []string{"#lab"}},
		{"#ch*,!*2", []string{"#chan1"}},
		{">1", []string{"#chan2", "#lab"}},
		{"<2", []string{"#chan1"}},
		{">1,<5", []string{"#chan2"}},
		{"#lab,#nonexistent", []string{"#lab"}},
		{"<x", nil}, // not a count: a mask that matches nothing
	}
	for _, tt := range tests {
		f := parseListFilter(tt.arg)
		var got []string
		for key, n := range rooms {
			if f.match(key, n) {
				got = append(got, key)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("LIST %q = %v; want %v", tt.arg, got, tt.want)
		}
	}
}

func TestModeChange(t *testing.T) {
	var mc modeChange
	mc.add(true, 'n', "")
	mc.add(true, 'o', "ann")
	mc.add(false, 'v', "bob")
	mc.add(false, 't', "")
	mc.add(true, 'm', "")
	if got := string(mc.modes) + " " + strings.Join(mc.args, " "); got != "+no-vt+m ann bob" {
		t.Errorf("modeChange = %q; want %q", got, "+no-vt+m ann bob")
	}
}

func TestMemberPrefixes(t *testing.T) {
	tests := []struct {
		modes     memberModes
		all, want string
	}{
		{0, "", ""},
		{memberVoice, "+", "+"},
		{memberOp, "@", "@"},
		{memberOp | memberVoice, "@+", "@"},
	}
	for _, tt := range tests {
		if got := tt.modes.prefixes(true); got != tt.all {
			t.Errorf("prefixes(%b, multi-prefix) = %q; want %q", tt.modes, got, tt.all)
		}
		if got := tt.modes.prefixes(false); got != tt.want {
			t.Errorf("prefixes(%b) = %q; want %q", tt.modes, got, tt.want)
		}
	}
}

func TestClientTagsTooLong(t *testing.T) {
	tag := func(data int) string { return "@+a=" + strings.Repeat("x", data-3) + " PRIVMSG #a :hi" }
	tests := []struct {
		line string
		want bool
	}{
		{"PRIVMSG #a :hi", false},
		{tag(maxClientTagData), false},
		{tag(maxClientTagData + 1), true},
		{"@" + strings.Repeat("x", maxClientTagData+1), true}, // no command at all
	}
	for _, tt := range tests {
		if got := clientTagsTooLong(tt.line); got != tt.want {
			t.Errorf("clientTagsTooLong(%d-byte line) = %v; want %v", len(tt.line), got, tt.want)
		}
	}
}
