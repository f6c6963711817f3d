// Command vulnerable is the known-vulnerable program that scripts/vulncheck.sh
// scans before the repository's modules: it serves HTTP/2 through
// golang.org/x/net v0.17.0, which GO-2024-2687 (HTTP/2 CONTINUATION flood,
// fixed in v0.23.0) affects. A database and scanner that do not report it
// cannot be trusted with a clean result. It lives under testdata, so no go
// command of the repository builds it and no other scan includes it.
package main

import (
	"net/http"

	"golang.org/x/net/http2"
)

func main() {
	srv := &http.Server{Addr: "127.0.0.1:0"}
	if err := http2.ConfigureServer(srv, nil); err != nil {
		panic(err)
	}
	_ = srv.ListenAndServeTLS("cert.pem", "key.pem")
}
