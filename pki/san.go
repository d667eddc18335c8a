package pki

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// SANs is a classified list of subject alternative names.
type SANs struct {
	DNS    []string
	IPs    []net.IP
	Emails []string
	URIs   []*url.URL
}

// Empty reports whether there are no names at all.
func (s SANs) Empty() bool {
	return len(s.DNS)+len(s.IPs)+len(s.Emails)+len(s.URIs) == 0
}

// Strings lists the names in the order DNS, IP, email, URI, each as the
// user would type it.
func (s SANs) Strings() []string {
	out := make([]string, 0, len(s.DNS)+len(s.IPs)+len(s.Emails)+len(s.URIs))
	out = append(out, s.DNS...)
	for _, ip := range s.IPs {
		out = append(out, ip.String())
	}
	out = append(out, s.Emails...)
	for _, u := range s.URIs {
		out = append(out, u.String())
	}
	return out
}

// SANsOf reads the subject alternative names of a parsed certificate
// or request.
func SANsOf(dns []string, ips []net.IP, emails []string, uris []*url.URL) SANs {
	return SANs{DNS: dns, IPs: ips, Emails: emails, URIs: uris}
}

// ParseSANs reads a comma-separated list such as
// "localhost,127.0.0.1,::1,spiffe://corp/alice,alice@example.com".
// Each entry is classified as an IP address, an email address, a URI or a
// DNS name; an entry that is none of them is an error naming the entry.
func ParseSANs(list string) (SANs, error) {
	var s SANs
	if strings.TrimSpace(list) == "" {
		return s, nil
	}
	seen := map[string]bool{}
	for _, raw := range strings.Split(list, ",") {
		e := strings.TrimSpace(raw)
		if e == "" {
			return SANs{}, fmt.Errorf("SAN list %q has an empty entry: separate names with single commas", list)
		}
		if err := s.add(e, seen); err != nil {
			return SANs{}, err
		}
	}
	return s, nil
}

// Add classifies one entry and appends it; duplicates are ignored.
func (s *SANs) Add(entry string) error {
	seen := map[string]bool{}
	for _, v := range s.Strings() {
		seen[v] = true
	}
	return s.add(strings.TrimSpace(entry), seen)
}

func (s *SANs) add(e string, seen map[string]bool) error {
	switch {
	case looksLikeIP(e):
		ip := net.ParseIP(strings.Trim(e, "[]"))
		if ip == nil {
			return fmt.Errorf("SAN %q is not a valid IP address: each IPv4 part must be 0-255, IPv6 must be in standard form", e)
		}
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if !seen[ip.String()] {
			seen[ip.String()] = true
			s.IPs = append(s.IPs, ip)
		}
	case strings.Contains(e, "://") || strings.HasPrefix(strings.ToLower(e), "urn:"):
		u, err := url.Parse(e)
		if err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "" && u.Path == "") {
			return fmt.Errorf("SAN %q is not a valid URI: use a form such as spiffe://trust-domain/workload", e)
		}
		if strings.ContainsAny(e, " \t") {
			return fmt.Errorf("SAN %q is not a valid URI: it contains a space", e)
		}
		if !seen[u.String()] {
			seen[u.String()] = true
			s.URIs = append(s.URIs, u)
		}
	case strings.Contains(e, "@"):
		at := strings.LastIndex(e, "@")
		local, domain := e[:at], e[at+1:]
		if local == "" || strings.ContainsAny(local, " \t@<>()[]\\,;:\"") {
			return fmt.Errorf("SAN %q is not a valid email address: the part before @ is empty or has characters not allowed", e)
		}
		if err := checkDNSName(domain, false); err != nil {
			return fmt.Errorf("SAN %q is not a valid email address: its domain %v", e, err)
		}
		addr := local + "@" + strings.ToLower(domain)
		if !seen[addr] {
			seen[addr] = true
			s.Emails = append(s.Emails, addr)
		}
	default:
		// Check before lower-casing: strings.ToLower maps some non-ASCII
		// letters to ASCII (the Kelvin sign K to k), which would silently
		// certify another name.
		if err := checkDNSName(e, true); err != nil {
			return fmt.Errorf("SAN %q is not a valid DNS name: %v", e, err)
		}
		name := strings.ToLower(e)
		if !seen[name] {
			seen[name] = true
			s.DNS = append(s.DNS, name)
		}
	}
	return nil
}

// looksLikeIP reports whether e is meant as an address: it has a colon
// (IPv6), brackets, or only digits and dots with a numeric last part.
func looksLikeIP(e string) bool {
	if strings.HasPrefix(e, "[") || (strings.Contains(e, ":") && !strings.Contains(e, "://") && !strings.Contains(e, "@") && !strings.HasPrefix(strings.ToLower(e), "urn:")) {
		return true
	}
	for _, r := range e {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return e != ""
}

// checkDNSName applies RFC 1123 to name, allowing "*" as the whole
// leftmost label when wildcard is true. The error text completes the
// sentence "SAN X is not a valid DNS name: ...".
func checkDNSName(name string, wildcard bool) error {
	if name == "" {
		return fmt.Errorf("it is empty")
	}
	if strings.HasSuffix(name, ".") {
		return fmt.Errorf("it ends with a dot: drop the trailing dot")
	}
	if len(name) > 253 {
		return fmt.Errorf("it is %d characters long, over the limit of 253", len(name))
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		switch {
		case l == "":
			return fmt.Errorf("it has an empty label (two dots in a row or a leading dot)")
		case l == "*":
			if !wildcard {
				return fmt.Errorf("a wildcard is not allowed here")
			}
			if i != 0 {
				return fmt.Errorf("a wildcard may only be the whole leftmost label, as in *.example.com")
			}
			if len(labels) < 2 {
				return fmt.Errorf("a wildcard needs a domain after it, as in *.example.com")
			}
			continue
		case strings.Contains(l, "*"):
			return fmt.Errorf("label %q has a partial wildcard: a wildcard may only be the whole leftmost label, as in *.example.com", l)
		case len(l) > 63:
			return fmt.Errorf("label %.20q... is %d characters long, over the limit of 63", l, len(l))
		case l[0] == '-' || l[len(l)-1] == '-':
			return fmt.Errorf("label %q starts or ends with a hyphen", l)
		}
		for _, r := range l {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			case r == ' ':
				return fmt.Errorf("it contains a space")
			case r == '_':
				return fmt.Errorf("label %q contains an underscore, which host names may not have", l)
			case r > 127:
				return fmt.Errorf("it has non-ASCII characters: write it in punycode (xn--...)")
			default:
				return fmt.Errorf("label %q contains %q: only letters, digits and hyphens are allowed", l, r)
			}
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" {
		return fmt.Errorf("its last label %q is all digits: if it is meant as an IP address it is not a valid one", last)
	}
	return nil
}
