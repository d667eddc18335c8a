package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Resource hygiene (issue 6): a full run, the negative controls, a
// --server-cmd run and a --client-cmd run leave no goroutine, no file
// descriptor and no process behind.

// helperEnv makes the test binary act as a subject command (see TestMain).
const helperEnv = "MTLSKIT_HARNESS_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "server":
		os.Exit(helperServer(os.Args[1:]))
	case "client":
		os.Exit(helperClient(os.Args[1:]))
	case "rotating-server":
		os.Exit(helperRotatingServer(os.Args[1:]))
	case "skewed-server":
		os.Exit(helperSkewedServer(os.Args[1:]))
	case "hup-server":
		os.Exit(helperHUPServer(os.Args[1:]))
	case "crl-server":
		os.Exit(helperCRLServer(os.Args[1:]))
	case "rotation-client":
		os.Exit(helperRotationClient(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func helperTLS(ca, cert, key string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no CA in " + ca)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}, nil
}

// helperServer is a strict mutual-TLS echo server: PORT CHAIN KEY CA.
func helperServer(args []string) int { return serveHelper("helper server", args, nil) }

// serveHelper is the main of the helper echo servers, PORT CHAIN KEY CA:
// helperTLS's config, changed by adjust when given (which may return
// another config to serve), and the echo loop on 127.0.0.1:PORT.
func serveHelper(who string, args []string, adjust func(*tls.Config) (*tls.Config, error)) int {
	if len(args) != 4 {
		fmt.Fprintln(os.Stderr, who+": PORT CHAIN KEY CA")
		return 2
	}
	cfg, err := helperTLS(args[3], args[1], args[2])
	if err == nil && adjust != nil {
		cfg, err = adjust(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, who+":", err)
		return 1
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:"+args[0], cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, who+":", err)
		return 1
	}
	return echoUntilError(ln, who)
}

// helperClient is a strict client: URL CA CERT KEY. It exits 0 when its
// message comes back.
func helperClient(args []string) int {
	if len(args) != 4 {
		fmt.Fprintln(os.Stderr, "helper client: URL CA CERT KEY")
		return 2
	}
	cfg, err := helperTLS(args[1], args[2], args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper client:", err)
		return 1
	}
	return helperEcho(args[0], cfg)
}

// helperEcho is one connection of a helper client: dial, send one
// message, check its echo, close; the exit status.
func helperEcho(url string, cfg *tls.Config) int {
	d := websocket.Dialer{TLSClientConfig: cfg, HandshakeTimeout: 2 * time.Second}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper client:", err)
		return 1
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hygiene")); err != nil {
		fmt.Fprintln(os.Stderr, "helper client:", err)
		return 1
	}
	if _, data, err := ws.ReadMessage(); err != nil || string(data) != "hygiene" {
		fmt.Fprintln(os.Stderr, "helper client: no echo:", err)
		return 1
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return 0
}

// openFDs lists this process's open descriptors (number -> target).
func openFDs(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	out := map[string]string{}
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out[e.Name()] = target
	}
	return out
}

// children lists the PIDs of this process's children, zombies included.
func children(t *testing.T) []string {
	t.Helper()
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var out []string
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		out = append(out, strings.Fields(string(data))...)
	}
	return out
}

// noLeak runs fn and fails unless, within a settling time, the goroutine
// count and the open descriptors are back to what they were, and this
// process has no child left (running or zombie).
func noLeak(t *testing.T, what string, fn func()) {
	t.Helper()
	runtime.GC()
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	fn()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, f, kids := runtime.NumGoroutine(), openFDs(t), children(t)
		if g <= g0 && len(f) <= len(f0) && len(kids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var extra []string
			for fd, target := range f {
				if f0[fd] != target {
					extra = append(extra, fd+" -> "+target)
				}
			}
			sort.Strings(extra)
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%s leaked: goroutines %d -> %d, descriptors %d -> %d %v, children %v\n%s", what, g0, g, len(f0), len(f), extra, kids, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupGone waits (bounded: an orphaned grandchild is reaped by init in
// its own time) until no process is left in the process group pgid.
func groupGone(t *testing.T, pgid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still exists after the run (kill -0: %v)", pgid, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quote makes s one word of a command template.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func TestNoLeakAfterRuns(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors and processes through /proc")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m := testMaterials()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Warm up what the runtime creates once (the network poller, the
	// process reaper).
	if _, err := Run(ctx, nil, Options{Materials: m, Timeout: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	_ = exec.Command("true").Run()

	noLeak(t, "a full run", func() {
		rep, err := Run(ctx, nil, Options{Materials: m, Timeout: 2 * time.Second})
		if err != nil || !rep.OK() {
			t.Fatalf("full run: OK=%v, %v", rep != nil && rep.OK(), err)
		}
	})

	noLeak(t, "the negative controls", func() {
		rep, err := RunNegativeControls(ctx, Options{Materials: m, Timeout: 300 * time.Millisecond})
		if err != nil || !rep.OK() {
			t.Fatalf("negative controls: OK=%v, %v", rep != nil && rep.OK(), err)
		}
	})

	// A server command that leaves a grandchild in its group.
	noLeak(t, "a --server-cmd run", func() {
		tpl, err := ParseTemplate(`sh -c 'sleep 60 & ` + helperEnv + `=server exec "$0" "$@"' ` + quote(exe) + ` {port} {chain} {key} {ca}`)
		if err != nil {
			t.Fatal(err)
		}
		p, err := StartServerCommand(ctx, ServerCommandConfig{Command: tpl, Materials: m, Dir: t.TempDir(), StopGrace: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		pgid := p.cmd.Process.Pid
		rep, err := Run(ctx, OfSide(Scenarios(), ServerSide), Options{Materials: m, Server: p.Subject("helper"), Timeout: 2 * time.Second})
		if stopErr := p.Stop(); stopErr != nil {
			t.Errorf("stopping the server command: %v", stopErr)
		}
		if err != nil {
			t.Fatal(err)
		}
		if r := rep.Results[0]; r.Scenario.Name != "valid-client" || r.Outcome != Accepted {
			t.Fatalf("the helper server did not serve: %s %s/%s %s", r.Scenario.Name, r.Outcome, r.Reason.ID, r.Reason.Text)
		}
		groupGone(t, pgid)
	})

	// A client command that leaves a grandchild in its group and writes
	// its process group ID (its PID: it leads the group) to {dir}/pgid.
	noLeak(t, "a --client-cmd run", func() {
		dir := t.TempDir()
		tpl, err := ParseTemplate(`sh -c 'echo $$ > "$5/pgid"; sleep 60 >/dev/null 2>&1 & ` + helperEnv + `=client exec "$0" "$1" "$2" "$3" "$4"' ` + quote(exe) + ` {url} {ca} {cert} {key} {dir}`)
		if err != nil {
			t.Fatal(err)
		}
		scenarios := OfSide(Scenarios(), ClientSide)
		rep, err := Run(ctx, scenarios, Options{Materials: m, Client: &ClientCommand{Command: tpl, Dir: dir}, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if r := rep.Results[0]; r.Scenario.Name != "valid-server" || r.Outcome != Accepted {
			t.Fatalf("the helper client did not connect: %s %s/%s %s", r.Scenario.Name, r.Outcome, r.Reason.ID, r.Reason.Text)
		}
		for _, s := range scenarios {
			data, err := os.ReadFile(filepath.Join(dir, s.Name, "pgid"))
			if err != nil {
				t.Fatalf("%s: the client command did not run: %v", s.Name, err)
			}
			pgid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			groupGone(t, pgid)
		}
	})
}

// echoUntilError serves WebSocket echo on ln for a helper process until
// the listener fails, then says why on stderr and returns exit status 1.
func echoUntilError(ln net.Listener, who string) int {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	err := http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			mt, data, err := ws.ReadMessage()
			if err != nil || ws.WriteMessage(mt, data) != nil {
				return
			}
		}
	}))
	fmt.Fprintln(os.Stderr, who+":", err)
	return 1
}
