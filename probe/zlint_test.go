package probe

// The offline checks of a live probe lint the server's certificate: in
// these tests, in process (mtlskit itself starts mtlskit-lint).
import _ "github.com/mtlskit/mtlskit/pki/zlinter/inprocess"
