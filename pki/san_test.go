package pki

import (
	"net"
	"reflect"
	"strings"
	"testing"
)

func TestParseSANsClassifies(t *testing.T) {
	t.Parallel()
	label63 := strings.Repeat("a", 63)
	name253 := strings.Repeat(label63+".", 3) + strings.Repeat("b", 61) // 64*3 + 61 = 253
	tests := []struct {
		name   string
		in     string
		dns    []string
		ips    []string
		emails []string
		uris   []string
	}{
		{name: "empty list is no names", in: ""},
		{name: "blank list is no names", in: "  "},
		{name: "IPv4", in: "127.0.0.1", ips: []string{"127.0.0.1"}},
		{name: "IPv6 loopback", in: "::1", ips: []string{"::1"}},
		{name: "bracketed IPv6", in: "[::1]", ips: []string{"::1"}},
		{name: "full IPv6", in: "2001:db8:0:0:0:0:0:1", ips: []string{"2001:db8::1"}},
		{name: "single-label DNS name", in: "localhost", dns: []string{"localhost"}},
		{name: "DNS name lowercased", in: "API.Example.COM", dns: []string{"api.example.com"}},
		{name: "wildcard as whole leftmost label", in: "*.example.com", dns: []string{"*.example.com"}},
		{name: "hyphen inside label", in: "my-host.example", dns: []string{"my-host.example"}},
		{name: "digit-only label before the last", in: "10.example", dns: []string{"10.example"}},
		{name: "punycode label", in: "xn--bcher-kva.example", dns: []string{"xn--bcher-kva.example"}},
		{name: "63-character label", in: label63 + ".example", dns: []string{label63 + ".example"}},
		{name: "253-character name", in: name253, dns: []string{name253}},
		{name: "email", in: "alice@example.com", emails: []string{"alice@example.com"}},
		{name: "email domain lowercased, local part kept", in: "Alice@Example.COM", emails: []string{"Alice@example.com"}},
		{name: "SPIFFE URI", in: "spiffe://corp/alice", uris: []string{"spiffe://corp/alice"}},
		{name: "HTTPS URI", in: "https://api.example.com/v1", uris: []string{"https://api.example.com/v1"}},
		{name: "URN", in: "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", uris: []string{"urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"}},
		{
			name: "mixed list with spaces around entries",
			in:   "localhost, 127.0.0.1 ,::1,spiffe://corp/alice,alice@example.com",
			dns:  []string{"localhost"}, ips: []string{"127.0.0.1", "::1"},
			emails: []string{"alice@example.com"}, uris: []string{"spiffe://corp/alice"},
		},
		{name: "duplicates dropped", in: "localhost,LOCALHOST,127.0.0.1,127.0.0.1,[::1],::1", dns: []string{"localhost"}, ips: []string{"127.0.0.1", "::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSANs(tt.in)
			if err != nil {
				t.Fatalf("ParseSANs(%q): %v", tt.in, err)
			}
			var ips, uris []string
			for _, ip := range got.IPs {
				ips = append(ips, ip.String())
			}
			for _, u := range got.URIs {
				uris = append(uris, u.String())
			}
			check := func(what string, got, want []string) {
				if len(got) == 0 && len(want) == 0 {
					return
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("ParseSANs(%q) %s = %q, want %q", tt.in, what, got, want)
				}
			}
			check("DNS", got.DNS, tt.dns)
			check("IPs", ips, tt.ips)
			check("emails", got.Emails, tt.emails)
			check("URIs", uris, tt.uris)
			if want := len(tt.dns)+len(tt.ips)+len(tt.emails)+len(tt.uris) == 0; got.Empty() != want {
				t.Errorf("Empty() = %v, want %v", got.Empty(), want)
			}
		})
	}
}

func TestParseSANsIPv4IsFourBytes(t *testing.T) {
	t.Parallel()
	// A 16-byte IPv4 address would be encoded as an IPv6 SAN (::ffff:a.b.c.d)
	// that no verifier matches against 127.0.0.1.
	s := mustParseSANs(t, "127.0.0.1,::1")
	if len(s.IPs[0]) != net.IPv4len || len(s.IPs[1]) != net.IPv6len {
		t.Errorf("IP lengths = %d, %d; want 4, 16", len(s.IPs[0]), len(s.IPs[1]))
	}
}

func TestParseSANsRejects(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60) + "." +
		strings.Repeat("d", 60) + "." + strings.Repeat("e", 48) + ".example" // 300 characters
	if len(long) != 300 {
		t.Fatalf("test name is %d characters, want 300", len(long))
	}
	label64 := strings.Repeat("x", 64) + ".example"
	tests := []struct {
		name string
		in   string
		// want are the substrings the error must have: the entry, quoted,
		// and why it is refused.
		want []string
	}{
		{name: "space in DNS name", in: "local host", want: []string{`"local host"`, "space"}},
		{name: "wildcard not leftmost", in: "*.*.example", want: []string{`"*.*.example"`, "only be the whole leftmost label"}},
		{name: "partial wildcard", in: "f*o.example", want: []string{`"f*o.example"`, "partial wildcard"}},
		{name: "bare wildcard", in: "*", want: []string{`"*"`, "needs a domain after it"}},
		{name: "IPv4 octet over 255", in: "999.1.1.1", want: []string{`"999.1.1.1"`, "not a valid IP address"}},
		{name: "IPv4 with three parts", in: "1.2.3", want: []string{`"1.2.3"`, "not a valid IP address"}},
		{name: "IPv6 with zone", in: "fe80::1%eth0", want: []string{`"fe80::1%eth0"`, "not a valid IP address"}},
		{name: "all-digit last label", in: "host.123", want: []string{`"host.123"`, "all digits"}},
		{name: "leading hyphen", in: "-foo.example", want: []string{`"-foo.example"`, "hyphen"}},
		{name: "trailing hyphen", in: "foo-.example", want: []string{`"foo-.example"`, "hyphen"}},
		{name: "name over 253 characters", in: long, want: []string{long, "300 characters", "253"}},
		{name: "label over 63 characters", in: label64, want: []string{label64, "64 characters", "63"}},
		{name: "empty label", in: "a..b", want: []string{`"a..b"`, "empty label"}},
		{name: "leading dot", in: ".example.com", want: []string{`".example.com"`, "empty label"}},
		{name: "underscore", in: "foo_bar.example", want: []string{`"foo_bar.example"`, "underscore"}},
		{name: "trailing dot", in: "example.com.", want: []string{`"example.com."`, "trailing dot"}},
		{name: "unicode", in: "bücher.example", want: []string{`"bücher.example"`, "punycode"}},
		{name: "other punctuation", in: "foo!.example", want: []string{`"foo!.example"`, "only letters, digits and hyphens"}},
		{name: "empty entry in the middle", in: "localhost,,127.0.0.1", want: []string{"empty entry"}},
		{name: "trailing comma", in: "localhost,", want: []string{"empty entry"}},
		{name: "blank entry", in: "localhost, ,::1", want: []string{"empty entry"}},
		{name: "email without local part", in: "@example.com", want: []string{`"@example.com"`, "before @"}},
		{name: "email with bad domain", in: "alice@exa_mple.com", want: []string{`"alice@exa_mple.com"`, "underscore"}},
		{name: "email with wildcard domain", in: "alice@*.example.com", want: []string{`"alice@*.example.com"`, "wildcard is not allowed"}},
		{name: "URI without host or path", in: "spiffe://", want: []string{`"spiffe://"`, "not a valid URI"}},
		{name: "URI with a space", in: "spiffe://corp/al ice", want: []string{`"spiffe://corp/al ice"`, "space"}},
		{name: "bad entry later in list", in: "localhost,127.0.0.1,a..b", want: []string{`"a..b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSANs(tt.in)
			if err == nil {
				t.Fatalf("ParseSANs(%q) = %v, want an error", tt.in, got.Strings())
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseSANs(%q) error %q does not mention %q", tt.in, err, w)
				}
			}
			if !got.Empty() {
				t.Errorf("ParseSANs(%q) returned names %v along with the error", tt.in, got.Strings())
			}
		})
	}
}

func TestSANsAddSkipsDuplicatesAndKeepsOrder(t *testing.T) {
	t.Parallel()
	s := mustParseSANs(t, "alice@example.com,localhost")
	for _, e := range []string{"LOCALHOST", " 10.0.0.1 ", "spiffe://corp/alice", "10.0.0.1", "db.internal"} {
		if err := s.Add(e); err != nil {
			t.Fatalf("Add(%q): %v", e, err)
		}
	}
	if err := s.Add("a..b"); err == nil {
		t.Error("Add(a..b) succeeded, want an error")
	}
	want := []string{"localhost", "db.internal", "10.0.0.1", "alice@example.com", "spiffe://corp/alice"}
	if got := s.Strings(); !reflect.DeepEqual(got, want) {
		t.Errorf("Strings() = %q, want %q", got, want)
	}
}

// mustParseSANs parses a SAN list the test knows to be valid.
func mustParseSANs(t testing.TB, list string) SANs {
	t.Helper()
	s, err := ParseSANs(list)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
