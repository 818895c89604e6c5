package v1

import (
	_ "embed"
	"net/http"

	"github.com/recvault/recvault/vault"
)

// openAPI is the OpenAPI 3.1 description of this API. It is embedded, not
// generated at run time, so that the document a client reads is exactly the
// one cmd/recvault's openapi_test.go validates the server's real answers
// against: a route, parameter or field changed here without it fails there.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the embedded OpenAPI document (for tests and tools; the
// slice is shared, so callers must not modify it).
func OpenAPI() []byte { return openAPI }

// serveOpenAPI answers GET /api/v1/openapi.json without authentication:
// the document holds nothing secret, and code generators and API consoles
// fetch it before they have a token. It may be cached briefly, unlike the
// API's answers, since it changes only with the binary.
func (h *Handler) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, err := w.Write(openAPI); err != nil {
		// The client hung up: nobody is left to answer, so this is no
		// error of the server's, only worth a debug line.
		h.log.Debug("openapi document not sent", "err", err, "request_id", vault.RequestInfoFrom(r.Context()).RequestID)
	}
}
