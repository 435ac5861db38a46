package main

// webhost.go: the Host check of the web port, against DNS rebinding. A page on
// http://evil.example:8080/ whose name the attacker re-points at this server is same-origin
// with it in the browser: the Origin check alone passes (Origin and Host are both
// evil.example:8080), and the page could drive the chat as the visitor. So the web port
// answers only to names and addresses that are its own: its listen address, the machine's
// addresses and hostname, localhost, server.name, and the server.web_hosts list. Anything
// else gets 403 naming the setting. `labchat open` and the HTTPS port reuse hostCheck.

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// hostAddrsTTL is how long the machine's addresses are cached: DHCP may change them, a
// request flood must not list the interfaces for each request.
const hostAddrsTTL = 10 * time.Second

// hostCheck decides which Host headers a listener answers to.
type hostCheck struct {
	names    map[string]bool // lower-case exact names
	patterns []string        // server.web_hosts, lower-case, path.Match patterns
	listenIP netip.Addr      // the listen address, when it is one address

	mu      sync.Mutex // guards addrs and addrsAt
	addrs   map[netip.Addr]bool
	addrsAt time.Time
}

// newHostCheck builds the check for a listener on listen; extra is server.web_hosts.
func newHostCheck(listen net.Addr, serverName string, extra []string) *hostCheck {
	h := &hostCheck{names: map[string]bool{"localhost": true}}
	if serverName != "" {
		h.names[strings.ToLower(serverName)] = true
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		h.names[name] = true
		short, _, _ := strings.Cut(name, ".")
		h.names[short] = true
		h.names[short+".local"] = true // mDNS, as lab PCs often reach each other
	}
	if ap, err := netip.ParseAddrPort(listen.String()); err == nil && !ap.Addr().IsUnspecified() {
		h.listenIP = ap.Addr().Unmap()
	}
	for _, p := range extra {
		h.patterns = append(h.patterns, strings.ToLower(p))
	}
	return h
}

// checkHostPattern validates one server.web_hosts entry.
func checkHostPattern(p string) error {
	if p == "" || strings.ContainsAny(p, "/ ") || strings.Contains(p, ":") && !isIPv6Literal(p) {
		return errors.New("want a host name, address or pattern such as chat.example.org, 10.0.0.5 or *.example.org (no scheme, port or path)")
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("bad pattern: %w", err)
	}
	return nil
}

func isIPv6Literal(s string) bool {
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil && a.Is6()
}

// hostOnly is the name or address in a Host header, lower-case, without port, brackets or a
// trailing dot.
func hostOnly(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
}

// allowed reports whether the listener answers to hostport (a Host header). An empty Host
// (HTTP/1.0, scripts) is allowed: a browser always sends one, and rebinding needs a browser.
func (h *hostCheck) allowed(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostOnly(hostport)
	for _, p := range h.patterns {
		if ok, _ := path.Match(p, host); ok || p == strings.Trim(host, "[]") {
			return true
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return a.IsLoopback() || a == h.listenIP || h.ownAddr(a)
	}
	return h.names[host] || strings.HasSuffix(host, ".localhost") // RFC 6761: always loopback
}

// ownAddr reports whether a is one of the machine's addresses now.
func (h *hostCheck) ownAddr(a netip.Addr) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.addrs == nil || time.Since(h.addrsAt) > hostAddrsTTL {
		h.addrs = make(map[netip.Addr]bool)
		h.addrsAt = time.Now()
		if list, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range list {
				if p, err := netip.ParsePrefix(ia.String()); err == nil {
					h.addrs[p.Addr().Unmap().WithZone("")] = true
				}
			}
		}
	}
	return h.addrs[a.WithZone("")]
}

// refuseHost answers a request for a name the server does not serve.
func (w *webServer) refuseHost(rw http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(rw.Header())
	http.Error(rw, fmt.Sprintf("403 forbidden: this server does not answer to the name %q (a guard against DNS rebinding). "+
		"If it is a name of this server, add it to server.web_hosts in the server's config, e.g. web_hosts = [%q].",
		hostOnly(r.Host), hostOnly(r.Host)), http.StatusForbidden)
}
