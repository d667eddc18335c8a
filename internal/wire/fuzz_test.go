package wire

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseEndpoint: outside input (--target, verify --connect): an
// accepted endpoint has a host, a port from 1 to 65535 and a path that
// starts with /, and its URL parses back to the same endpoint; a refused
// one is an *EndpointError on one line.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"wss://localhost:8443/echo?x=1", "localhost:8443", "wss://[::1]/", "ws://x/", "https://h:0/", "h:99999", ":1", "wss://h:1/%zz", " wss://h:2/ "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEndpoint(s)
		if err != nil {
			if _, ok := err.(*EndpointError); !ok || strings.Contains(err.Error(), "\n") && !strings.Contains(s, "\n") {
				t.Fatalf("error %T %q", err, err)
			}
			return
		}
		if n, err := strconv.Atoi(e.Port); err != nil || n < 1 || n > 65535 || e.Host == "" || !strings.HasPrefix(e.Path, "/") {
			t.Fatalf("accepted %q as %+v", s, e)
		}
		if _, _, err := net.SplitHostPort(e.Addr()); err != nil {
			t.Fatalf("Addr %q: %v", e.Addr(), err)
		}
		back, err := ParseEndpoint(e.URL())
		if err != nil || back.Addr() != e.Addr() {
			t.Fatalf("%q -> %q -> %+v %v", s, e.URL(), back, err)
		}
	})
}
