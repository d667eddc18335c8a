// Package snippet renders minimal, working mutual-TLS configurations
// for the stacks people wire certificates into (mtlskit snippet STACK
// NAME): nginx, Puma, Go, Node, Python, Ruby, curl and openssl s_client,
// server or client side. Each snippet names the store's files by absolute
// path; the templates are embedded (templates/*.tmpl).
//
// Stacks lists them; ParamsFromStore reads a name's files from a pki
// store and CheckCert refuses a certificate the stack would reject;
// Render fills a template. The tests in cmd/mtlskit run every snippet
// whose tool is installed against the harness: a server snippet must
// pass the server-side scenarios and refuse a client certificate its CRL
// lists, a client snippet must accept valid-server and refuse the bad
// servers of `harness serve`, server-revoked included.
//
// Revocation: every snippet checks the CRLs in Files.CRLs (the store's
// ca/crl.pem, and ca/root-crl.pem when an intermediate issues the
// leaves, or what --crl names). When there is none yet, the snippet has
// no revocation lines, only a comment saying to run `mtlskit crl` and
// render it again: pointing at a missing file would stop the server from
// starting, and turning the check on without a CRL refuses every peer.
//
// It does not run anything itself, and knows nothing of the harness.
package snippet

import (
	"bytes"
	"crypto/x509"
	"embed"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/mtlskit/mtlskit/pki"
)

//go:embed templates/*.tmpl
var snippetFS embed.FS

// sharedTemplate holds the {{define}}s several stacks use (the Go
// revocation check).
const sharedTemplate = "shared.tmpl"

// Role says which side of the connection a snippet configures.
type Role string

// Snippet roles.
const (
	RoleServer Role = "server"
	RoleClient Role = "client"
)

// Stack is one stack mtlskit has a snippet for.
type Stack struct {
	// Name is what `mtlskit snippet` takes: nginx, go-client, ...
	Name string `json:"name"`
	// Role is server or client: the certificate it needs.
	Role Role `json:"role"`
	// Language is how the text is written (nginx, go, python, ...).
	Language string `json:"language"`
	// Description says what the snippet is, in one line.
	Description string `json:"description"`
	template    string
}

var stacks = []Stack{
	{"nginx", RoleServer, "nginx", "nginx terminates mTLS (ssl_verify_client on) and proxies the WebSocket upgrade to a plain ws:// backend", "nginx.tmpl"},
	{"puma", RoleServer, "ruby", "Puma config (config/puma.rb): ssl_bind with verify_mode force_peer", "puma.tmpl"},
	{"go-server", RoleServer, "go", "Go: tls.Config with RequireAndVerifyClientCert, gorilla/websocket echo server", "go-server.tmpl"},
	{"go-client", RoleClient, "go", "Go: tls.Config with RootCAs and a client certificate, gorilla/websocket dialer", "go-client.tmpl"},
	{"node-server", RoleServer, "javascript", "Node.js: https.createServer with requestCert and rejectUnauthorized, ws WebSocketServer", "node-server.tmpl"},
	{"node-client", RoleClient, "javascript", "Node.js: ws WebSocket with ca, cert and key (https options)", "node-client.tmpl"},
	{"python-server", RoleServer, "python", "Python: ssl.SSLContext with CERT_REQUIRED for websockets.serve", "python-server.tmpl"},
	{"python-client", RoleClient, "python", "Python: ssl.SSLContext(PROTOCOL_TLS_CLIENT) with a client certificate for websockets.connect", "python-client.tmpl"},
	{"ruby-client", RoleClient, "ruby", "Ruby: OpenSSL::SSL::SSLContext with verify_mode PEER and verify_hostname", "ruby-client.tmpl"},
	{"curl", RoleClient, "shell", "curl with --cacert, --cert and --key: checks TLS both ways and the HTTP layer", "curl.tmpl"},
	{"openssl-s_client", RoleClient, "shell", "openssl s_client: the handshake, the server's chain and host name, the client certificate", "openssl-s_client.tmpl"},
}

// Stacks lists the stacks, servers and clients interleaved by
// technology, in a stable order.
func Stacks() []Stack { return slices.Clone(stacks) }

// StackNames lists the stack names.
func StackNames() []string {
	names := make([]string, len(stacks))
	for i, s := range stacks {
		names[i] = s.Name
	}
	return names
}

// LookupStack finds a stack by name; an unknown name is an error
// listing the valid ones.
func LookupStack(name string) (Stack, error) {
	for _, s := range stacks {
		if s.Name == name {
			return s, nil
		}
	}
	return Stack{}, fmt.Errorf("unknown stack %q: use one of %s (mtlskit snippet --list)", name, strings.Join(StackNames(), ", "))
}

// Files are the store files a snippet names, as absolute paths.
type Files struct {
	// CA is the certificate to trust for the peer: the store's root.
	CA string `json:"ca"`
	// Cert is the leaf alone, Chain the leaf followed by its
	// intermediates (what a peer should send), Key its private key.
	Cert  string `json:"cert"`
	Chain string `json:"chain"`
	Key   string `json:"key"`
	// CRLs are the CRL files (PEM) to check the peer's chain against:
	// the issuing CA's first, then the root's when an intermediate
	// issues the leaves (ca/crl.pem, ca/root-crl.pem). Empty when the
	// store has no CRL yet: the snippet then checks no revocation and
	// says to run `mtlskit crl`.
	CRLs []string `json:"crls"`
}

// Params fill a snippet in.
type Params struct {
	// Name is the certificate's name in the store.
	Name  string
	Files Files
	// Listen is the host:port a server snippet listens on
	// (DefaultListen when empty).
	Listen string
	// ServerName is the server's host name (nginx server_name); when
	// empty, the certificate's first DNS SAN, else "localhost".
	ServerName string
	// Backend is where nginx proxies the upgrade: host:port or
	// unix:/path.sock (DefaultBackend when empty).
	Backend string
	// URL is the wss:// URL a client snippet connects to
	// (DefaultURL when empty). Its host is what the server
	// certificate must name.
	URL string
	// CRLNextUpdate is when the first of Files.CRLs expires (zero when
	// unknown): a peer refuses every certificate once its CRL has
	// expired, so the snippet says by when to run `mtlskit crl` again.
	CRLNextUpdate time.Time
}

// Defaults of Params.
const (
	DefaultListen  = "127.0.0.1:8443"
	DefaultBackend = "127.0.0.1:9000" // mtlskit harness echo's default
	DefaultURL     = "wss://localhost:8443/"
)

// Snippet is a rendered snippet.
type Snippet struct {
	Stack    string `json:"stack"`
	Name     string `json:"name"`
	Language string `json:"language"`
	Text     string `json:"text"`
	Files    Files  `json:"files"`
}

// ParamsFromStore reads the certificate NAME from the store and
// returns its files as absolute paths with the certificate itself, so a
// caller can check that it fits the stack's role (CheckCert).
func ParamsFromStore(st *pki.Store, name string) (Params, *x509.Certificate, error) {
	e, err := st.Get(name)
	if err != nil {
		return Params{}, nil, err
	}
	if e.Kind == pki.KindRoot || e.Kind == pki.KindIntermediate {
		return Params{}, nil, fmt.Errorf("%q is the %s CA, not a server or client certificate: name one from `mtlskit list`", name, e.Kind)
	}
	if e.Key == "" {
		return Params{}, nil, fmt.Errorf("%q was signed from a CSR and its key is not in the store: a snippet needs the key file", name)
	}
	iss, err := st.Load(name)
	if err != nil {
		return Params{}, nil, err
	}
	dir, err := filepath.Abs(st.Dir)
	if err != nil {
		return Params{}, nil, err
	}
	abs := func(rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
	chain := e.Chain
	if chain == "" {
		chain = e.Cert
	}
	p := Params{Name: name, Files: Files{
		CA: filepath.Join(dir, "ca", "root.pem"), Cert: abs(e.Cert), Chain: abs(chain), Key: abs(e.Key),
	}}
	if p.Files.CRLs, err = storeCRLs(st); err != nil {
		return Params{}, nil, err
	}
	if len(p.Files.CRLs) > 0 {
		if p.CRLNextUpdate, err = ReadCRLs(p.Files.CRLs); err != nil {
			return Params{}, nil, fmt.Errorf("the store's CRL: %v: run `mtlskit crl` to write it again", err)
		}
	}
	return p, iss.Cert, nil
}

// storeCRLs are the store's CRL files as absolute paths, none when
// `mtlskit crl` has not run yet. With an intermediate both the
// intermediate's and the root's are needed (a peer that checks the whole
// chain wants a CRL from each CA): one without the other is an error.
func storeCRLs(st *pki.Store) ([]string, error) {
	issuing, root := st.CRLPaths()
	var out, missing []string
	for _, p := range []string{issuing, root} {
		if p == "" {
			continue
		}
		p, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		} else {
			missing = append(missing, p)
		}
	}
	switch {
	case len(out) == 0:
		return []string{}, nil
	case len(missing) > 0:
		return nil, fmt.Errorf("the store has %s but not %s: run `mtlskit crl` to write both", out[0], missing[0])
	}
	return out, nil
}

// ReadCRLs checks that each file holds at least one PEM CRL ("X509
// CRL", what `mtlskit crl` writes as ca/crl.pem) and returns the earliest
// NextUpdate among them (zero when none has one).
func ReadCRLs(paths []string) (time.Time, error) {
	var next time.Time
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return time.Time{}, err
		}
		n := 0
		for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
			if block.Type != "X509 CRL" {
				continue
			}
			crl, err := x509.ParseRevocationList(block.Bytes)
			if err != nil {
				return time.Time{}, fmt.Errorf("%s: %v", path, err)
			}
			n++
			if !crl.NextUpdate.IsZero() && (next.IsZero() || crl.NextUpdate.Before(next)) {
				next = crl.NextUpdate
			}
		}
		if n == 0 {
			return time.Time{}, fmt.Errorf("%s holds no PEM CRL (-----BEGIN X509 CRL-----): give the .pem, not the .der", path)
		}
	}
	return next, nil
}

// CheckCert says whether a certificate can play the stack's
// role: a server stack needs serverAuth, a client stack clientAuth.
func CheckCert(stack Stack, name string, c *x509.Certificate) error {
	want, wantName, other := x509.ExtKeyUsageServerAuth, "serverAuth", "mtlskit issue server --san ..."
	if stack.Role == RoleClient {
		want, wantName, other = x509.ExtKeyUsageClientAuth, "clientAuth", "mtlskit issue client --cn ..."
	}
	if len(c.ExtKeyUsage) == 0 || slices.Contains(c.ExtKeyUsage, want) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return nil
	}
	return fmt.Errorf("%q cannot be used by %s, a %s: its extended key usage is %s, not %s; issue one with `%s`",
		name, stack.Name, stack.Role, strings.Join(pki.ExtKeyUsageNames(c.ExtKeyUsage), ", "), wantName, other)
}

// templateData is what the templates see.
type templateData struct {
	Params
	Stack               string
	ListenHost          string
	ListenPort          int
	URLHost, URLHostIP  string
	URLPort             int
	URLPath             string
	HTTPSURL            string
	BackendIsUnix       bool
	BackendPath         string
	ServerNameFromCert  bool
	ConnectAddr         string // host:port for openssl -connect
	VerifyHost          string // the host name or IP the server certificate must name
	VerifyHostIsAddress bool

	// Revocation (Files.CRLs; none: HasCRL is false).
	HasCRL bool
	// LeafCRL is the issuing CA's CRL alone, for a tool that takes one
	// CRL and checks the leaf with it (openssl s_client -CRL).
	LeafCRL string
	// CRLBundle is one file holding every CRL, for a tool that takes
	// one file and checks the whole chain (nginx ssl_crl): the CRL
	// itself when there is one, else a file CRLBundleCmd writes.
	CRLBundle, CRLBundleCmd string
	// CACRLBundle is the CA followed by every CRL, for a tool whose CA
	// file is its only way in (Puma's ca), written by CACRLBundleCmd.
	CACRLBundle, CACRLBundleCmd string
	// CRLValidUntil is Params.CRLNextUpdate in UTC ("" when unknown);
	// CRLExpired says it is past.
	CRLValidUntil string
	CRLExpired    bool
}

// Bundle file names, written next to the first CRL (the store's ca/).
const (
	crlBundleName   = "crl-bundle.pem"
	caCRLBundleName = "ca-with-crls.pem"
)

// revocationData fills in the revocation fields of d from its CRLs.
func (d *templateData) revocationData(now time.Time) {
	crls := d.Files.CRLs
	if len(crls) == 0 {
		return
	}
	d.HasCRL, d.LeafCRL = true, crls[0]
	dir := filepath.Dir(crls[0])
	d.CRLBundle = crls[0]
	if len(crls) > 1 {
		d.CRLBundle = bundlePath(dir, crlBundleName, crls)
		d.CRLBundleCmd = catCommand(crls, d.CRLBundle)
	}
	inputs := append([]string{d.Files.CA}, crls...)
	d.CACRLBundle = bundlePath(dir, caCRLBundleName, inputs)
	d.CACRLBundleCmd = catCommand(inputs, d.CACRLBundle)
	if !d.CRLNextUpdate.IsZero() {
		d.CRLValidUntil = d.CRLNextUpdate.UTC().Format("2006-01-02 15:04 UTC")
		d.CRLExpired = now.After(d.CRLNextUpdate)
	}
}

// bundlePath is dir/name, or dir/N-name when that is one of the inputs
// (cat would truncate it before reading it).
func bundlePath(dir, name string, inputs []string) string {
	p := filepath.Join(dir, name)
	for i := 2; slices.Contains(inputs, p); i++ {
		p = filepath.Join(dir, strconv.Itoa(i)+"-"+name)
	}
	return p
}

// catCommand is the shell command that concatenates inputs into out.
func catCommand(inputs []string, out string) string {
	words := []string{"cat"}
	for _, in := range inputs {
		words = append(words, shellQuote(in))
	}
	return strings.Join(words, " ") + " > " + shellQuote(out)
}

// Render fills in the stack's template. cert, when given, supplies
// the default server_name (its first DNS SAN).
func Render(stack string, p Params, cert *x509.Certificate) (*Snippet, error) {
	st, err := LookupStack(stack)
	if err != nil {
		return nil, err
	}
	d := templateData{Params: p, Stack: st.Name}
	if d.Listen == "" {
		d.Listen = DefaultListen
	}
	if d.Backend == "" {
		d.Backend = DefaultBackend
	}
	if d.URL == "" {
		d.URL = DefaultURL
	}
	host, port, err := net.SplitHostPort(d.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: use HOST:PORT, such as %s", d.Listen, DefaultListen)
	}
	if d.ListenPort, err = strconv.Atoi(port); err != nil || d.ListenPort < 1 || d.ListenPort > 65535 {
		return nil, fmt.Errorf("--listen %q: the port must be a number from 1 to 65535", d.Listen)
	}
	d.ListenHost = host
	if d.ServerName == "" {
		d.ServerName = "localhost"
		if cert != nil && len(cert.DNSNames) > 0 {
			d.ServerName = cert.DNSNames[0]
		}
	}
	if path, ok := strings.CutPrefix(d.Backend, "unix:"); ok {
		if !filepath.IsAbs(path) {
			return nil, fmt.Errorf("--backend %q: a unix socket needs an absolute path, such as unix:/run/app.sock", d.Backend)
		}
		d.BackendIsUnix, d.BackendPath = true, path
	} else if _, _, err := net.SplitHostPort(d.Backend); err != nil {
		return nil, fmt.Errorf("--backend %q: use HOST:PORT or unix:/path.sock", d.Backend)
	}
	u, err := url.Parse(d.URL)
	if err != nil || u.Scheme != "wss" || u.Hostname() == "" {
		return nil, fmt.Errorf("--url %q: use a wss:// URL, such as %s", d.URL, DefaultURL)
	}
	d.URLHost = u.Hostname()
	d.URLPort = 443
	if u.Port() != "" {
		if d.URLPort, err = strconv.Atoi(u.Port()); err != nil {
			return nil, fmt.Errorf("--url %q: bad port", d.URL)
		}
	}
	d.URLPath = u.EscapedPath()
	if d.URLPath == "" {
		d.URLPath = "/"
	}
	d.HTTPSURL = "https://" + u.Host + d.URLPath
	d.ConnectAddr = net.JoinHostPort(d.URLHost, strconv.Itoa(d.URLPort))
	d.VerifyHost = d.URLHost
	d.VerifyHostIsAddress = net.ParseIP(d.URLHost) != nil
	if d.Files.CRLs == nil {
		d.Files.CRLs = []string{}
	}
	d.revocationData(time.Now())

	src, err := snippetFS.ReadFile("templates/" + st.template)
	if err != nil {
		return nil, err
	}
	shared, err := snippetFS.ReadFile("templates/" + sharedTemplate)
	if err != nil {
		return nil, err
	}
	t, err := template.New(st.template).Funcs(snippetFuncs).Parse(string(src))
	if err == nil {
		_, err = t.New(sharedTemplate).Parse(string(shared))
	}
	if err != nil {
		return nil, fmt.Errorf("snippet template %s: %v", st.template, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("snippet template %s: %v", st.template, err)
	}
	return &Snippet{Stack: st.Name, Name: p.Name, Language: st.Language, Text: b.String(), Files: d.Files}, nil
}

// snippetFuncs quote a value for each language, so a path with spaces
// or quotes stays one literal.
var snippetFuncs = template.FuncMap{
	// args: a list, to hand a {{template}} several values.
	"args": func(v ...any) []any { return v },
	// go: a Go string literal.
	"go": func(s string) string { return strconv.Quote(s) },
	// js, py: a JSON string is a valid JavaScript and Python literal.
	"js": jsonString,
	"py": jsonString,
	// rb: a double-quoted Ruby string, with #{ } interpolation escaped.
	"rb": func(s string) string { return strings.ReplaceAll(jsonString(s), "#", `\#`) },
	// sh: a single-quoted POSIX shell word.
	"sh": shellQuote,
	// ngx: an nginx parameter, quoted when it holds blanks or specials.
	"ngx": func(s string) string {
		if s != "" && !strings.ContainsAny(s, " \t\n\"'\\;{}$#") {
			return s
		}
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	},
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// shellQuote quotes s for a POSIX shell; plain words stay as they are.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
