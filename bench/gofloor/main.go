// Command gofloor is the floor under recvault's serve path: Go's net/http
// serving files with nothing else, no authentication, catalogue, audit or
// verification, so that bench/atrest.sh can show how much of the distance
// to nginx is Go's HTTP server itself and how much is recvault's work.
//
// It serves every file of -dir at /file/NAME through http.ServeContent on
// an open file (the standard library's sendfile path, as a plain Go file
// server would) and at /mem/NAME from a copy read into memory at start (a
// single Write: the most any handler can do per request). Like the nginx
// of the bench it wants an Authorization header, checks none, and answers
// 401 without one, so that both take the same wrk command.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	dir := flag.String("dir", ".", "directory whose files are served")
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	if err := run(*dir, *addr); err != nil {
		log.Fatal(err)
	}
}

func run(dir, addr string) error {
	names, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("gofloor: %w", err)
	}
	mem := map[string][]byte{}
	for _, e := range names {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("gofloor: %w", err)
		}
		mem[e.Name()] = b
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /file/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if _, ok := mem[name]; !ok { // only the files listed at start: no path is opened from the request
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "audio/wav")
		http.ServeContent(w, r, "", time.Time{}, f)
	})
	mux.HandleFunc("GET /mem/{name}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := mem[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if _, err := w.Write(b); err != nil {
			return // the client went away: nothing to tell it
		}
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		return fmt.Errorf("gofloor: %w", err)
	}
	return nil
}
