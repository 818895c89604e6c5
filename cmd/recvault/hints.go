package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/recvault/recvault"
	"github.com/recvault/recvault/client"
)

// hinted is an error told in the operator's terms: what went wrong and
// what to do, naming the flag. It keeps the cause for errors.Is/As;
// describe shows its message instead of the cause's.
type hinted struct {
	msg string
	err error
}

func (h *hinted) Error() string { return h.msg }
func (h *hinted) Unwrap() error { return h.err }

// hintf wraps err with a message that replaces it for the operator.
func hintf(err error, format string, args ...any) error {
	return &hinted{msg: fmt.Sprintf(format, args...), err: err}
}

// tlsHint explains a certificate the client does not trust: servers of
// this kind mostly run with self-signed certificates, and the fix is a
// flag away.
func tlsHint(err error) error {
	var ua x509.UnknownAuthorityError
	var cv *tls.CertificateVerificationError
	var hn x509.HostnameError
	switch {
	case errors.As(err, &hn):
		return hintf(err, "the server's certificate is not for this host name (%v): check --server, "+
			"or connect by a name the certificate lists", hn)
	case errors.As(err, &ua), errors.As(err, &cv):
		return hintf(err, "the server's certificate is not trusted (%v): add --cacert FILE naming the PEM "+
			"certificate of the CA that signed it (or the server's own, if self-signed); --insecure skips the check, for tests only", err)
	}
	return err
}

// sessionHint explains a stored session the server no longer accepts.
func sessionHint(err error, proto string, ss storedSession) error {
	if !errors.Is(err, client.ErrUnauthenticated) {
		return err
	}
	why := "the stored " + proto + " session has expired or was ended"
	if proto == "ccgw" {
		why = "the stored CC-Gateway session has expired (CC-Gateway ends a sign-in after 2 minutes without requests)"
	}
	return hintf(err, "%s: run \"recvault login %s --server %s --user %s\" again, or set RECVAULT_PASSWORD "+
		"so that get signs in again by itself (%v)", why, proto, ss.Server, ss.User, err)
}

// userHint names the login an operator command did not find.
func userHint(err error, login string) error {
	if recvault.ErrorCode(err) != recvault.ENOTFOUND {
		return err
	}
	return hintf(err, "user %q not found: \"recvault user list\" shows the logins (mind --data)", login)
}
