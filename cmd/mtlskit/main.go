// Command mtlskit is a private CA and a conformance harness for mutual-TLS
// WebSockets. See the README and docs/ for the commands.
package main

import (
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit status:
// 0 success, 1 the operation or check failed, 2 usage error.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	return exitCode(app.Run(interspersed(app, args)), stderr)
}
