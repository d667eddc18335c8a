package main

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mtlskit/mtlskit/pki"
	"github.com/urfave/cli/v2"
	"golang.org/x/net/netutil"
)

// serveCommand is `mtlskit serve`: the store's revocation information
// over HTTP, one listener for both the CRLs and OCSP, as the URLs of
// `ca init --crl-url/--ocsp-url` name them.
func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the store's CRLs (GET /crl.der, /crl.pem, /root-crl.*) and OCSP (POST /ocsp, GET /ocsp/BASE64) until interrupted",
		Flags: []cli.Flag{dirFlag, passphraseFlag,
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "`ADDRESS:PORT` to listen on"},
			&cli.IntFlag{Name: "max-conns", Value: 256, Usage: "connections open at once; more wait in the kernel's queue"},
			&cli.BoolFlag{Name: "quiet", Usage: "do not log one line per OCSP answer on stderr"},
		},
		Action: serve,
	}
}

// Limits of `mtlskit serve`: an OCSP request is ~100 bytes and a CRL
// fetch a bare GET, so anything slow or large is a hostile client.
const (
	serveHeaderTimeout = 5 * time.Second
	serveReadTimeout   = 10 * time.Second
	serveWriteTimeout  = 30 * time.Second // a CRL of 100,000 entries is ~4 MB
	serveIdleTimeout   = 60 * time.Second
	serveMaxHeader     = 8 << 10
)

func serve(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("serve takes no arguments, got %q", c.Args().First())
	}
	if c.Int("max-conns") < 1 {
		return usagef("--max-conns %d: give at least 1", c.Int("max-conns"))
	}
	store := storeOf(c)
	iss, err := store.Issuer(caPassphrase(c))
	if err != nil {
		return failf("serve: %v", err)
	}
	signer, err := pki.NewOCSPSigner(iss, 7*pki.Day)
	if err != nil {
		return failf("serve: minting the OCSP responder certificate: %v", err)
	}
	stderr := c.App.ErrWriter
	responder := &pki.OCSPResponder{Issuer: iss, Signer: signer, Status: store.OCSPStatusFunc(iss)}
	if !c.Bool("quiet") {
		responder.Observe = func(serial *big.Int, status string) {
			fmt.Fprintf(stderr, "ocsp: serial %x: %s\n", serial, status)
		}
	}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return failf("--listen %s: %v: pick a free port", c.String("listen"), err)
	}
	srv := &http.Server{
		Handler:           &pki.RevocationService{OCSP: responder, CRL: store.CRLFileFunc()},
		ReadHeaderTimeout: serveHeaderTimeout, ReadTimeout: serveReadTimeout, WriteTimeout: serveWriteTimeout,
		IdleTimeout: serveIdleTimeout, MaxHeaderBytes: serveMaxHeader,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stderr, "mtlskit serve: CRLs at http://%s/crl.der and OCSP at http://%s/ocsp for %q, until interrupted\n", ln.Addr(), ln.Addr(), iss.Cert.Subject.CommonName)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(netutil.LimitListener(ln, c.Int("max-conns"))) }()
	select {
	case err := <-errc:
		return failf("serve: %v", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return failf("serve: %v", err)
	}
	return nil
}
