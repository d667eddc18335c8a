package wire

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Endpoint is a parsed wss:// endpoint.
type Endpoint struct {
	Host string
	Port string
	// Path is the request path with its query, "/" when the input had
	// none; PathGiven says whether the input had one.
	Path      string
	PathGiven bool
}

// Addr is host:port, for dialling.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, e.Port) }

// URL is the endpoint as a wss:// URL.
func (e Endpoint) URL() string { return "wss://" + e.Addr() + e.Path }

// EndpointError says why a string is not an endpoint. Problem is in plain
// words ("no port", "ws:// has no TLS, and mutual TLS needs wss://").
type EndpointError struct {
	Input   string
	Problem string
}

func (e *EndpointError) Error() string {
	return fmt.Sprintf("%q: %s (use HOST:PORT or wss://HOST:PORT/PATH)", e.Input, e.Problem)
}

// ParseEndpoint reads wss://HOST[:PORT][/PATH] (https:// too: the same
// TLS) or a bare HOST:PORT. The port defaults to 443 in a URL; a bare
// form needs one. ws:// and http:// are refused: mutual TLS needs TLS.
func ParseEndpoint(s string) (Endpoint, error) {
	s = strings.TrimSpace(s)
	var e Endpoint
	bad := func(why string) (Endpoint, error) { return Endpoint{}, &EndpointError{Input: s, Problem: why} }
	if s == "" {
		return bad("empty")
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return bad("not a URL")
		}
		switch strings.ToLower(u.Scheme) {
		case "wss", "https":
		case "ws", "http":
			return bad(u.Scheme + ":// has no TLS, and mutual TLS needs wss://")
		default:
			return bad("scheme " + u.Scheme + " is not wss")
		}
		e.Host, e.Port = u.Hostname(), u.Port()
		if e.Port == "" {
			e.Port = "443"
		}
		e.Path = u.EscapedPath()
		if e.Path == "" {
			e.Path = "/" // wss://h?q: the query goes after the root path
		}
		if u.RawQuery != "" {
			e.Path += "?" + u.RawQuery
		}
		e.PathGiven = e.Path != "" && e.Path != "/"
	} else {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return bad("no port")
		}
		e.Host, e.Port = h, p
	}
	if e.Host == "" {
		return bad("no host")
	}
	if strings.IndexFunc(e.Host, func(r rune) bool { return !hostRune(r) }) >= 0 || strings.Contains(e.Host, ":") && net.ParseIP(e.Host) == nil {
		return bad(fmt.Sprintf("host %q is not a host name or an IP address", e.Host))
	}
	if n, err := strconv.Atoi(e.Port); err != nil || n < 1 || n > 65535 || strings.Trim(e.Port, "0123456789") != "" {
		return bad("port " + e.Port + " is not a number from 1 to 65535")
	}
	if e.Path == "" {
		e.Path = "/"
	}
	return e, nil
}

// hostRune is a character a bare HOST of HOST:PORT may hold: a DNS name's
// or an IP address's (IPv6 inside brackets, which SplitHostPort drops).
func hostRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == ':'
}
