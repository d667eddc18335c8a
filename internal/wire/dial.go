package wire

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"
)

// DialFirst connects to addr within timeout. A host name is tried at each
// of its addresses in turn, IPv4 first ("localhost" at 127.0.0.1 and ::1,
// whatever /etc/hosts says), so a server listening on only one family is
// found; answered names the address that accepted, tried every address.
func DialFirst(ctx context.Context, addr string, timeout time.Duration) (conn net.Conn, answered string, tried []string, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, "", []string{addr}, err
	}
	tried = HostAddrs(ctx, host, port, timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	for _, a := range tried {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", a)
		if err == nil {
			return c, a, tried, nil
		}
		errs = append(errs, err)
	}
	return nil, "", tried, errors.Join(errs...)
}

// HostAddrs lists the host:port addresses to try for host.
func HostAddrs(ctx context.Context, host, port string, timeout time.Duration) []string {
	if strings.EqualFold(host, "localhost") {
		return []string{net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)}
	}
	if net.ParseIP(host) != nil {
		return []string{net.JoinHostPort(host, port)}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return []string{net.JoinHostPort(host, port)}
	}
	var v4, v6 []string
	for _, ip := range ips {
		if ip.IP.To4() != nil {
			v4 = append(v4, net.JoinHostPort(ip.IP.String(), port))
		} else {
			v6 = append(v6, net.JoinHostPort(ip.String(), port))
		}
	}
	return append(v4, v6...)
}
