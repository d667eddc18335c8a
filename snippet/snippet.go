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
// pass the server-side scenarios, a client snippet must accept
// valid-server and refuse the bad servers of `harness serve`.
//
// It does not run anything itself, and knows nothing of the harness.
package snippet

import (
	"bytes"
	"crypto/x509"
	"embed"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/mtlskit/mtlskit/pki"
)

//go:embed templates/*.tmpl
var snippetFS embed.FS

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
	return p, iss.Cert, nil
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

	src, err := snippetFS.ReadFile("templates/" + st.template)
	if err != nil {
		return nil, err
	}
	t, err := template.New(st.template).Funcs(snippetFuncs).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("snippet template %s: %v", st.template, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("snippet template %s: %v", st.template, err)
	}
	return &Snippet{Stack: st.Name, Name: p.Name, Language: st.Language, Text: b.String(), Files: p.Files}, nil
}

// snippetFuncs quote a value for each language, so a path with spaces
// or quotes stays one literal.
var snippetFuncs = template.FuncMap{
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
