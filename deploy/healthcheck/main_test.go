package main

import (
	"net"
	"net/http"
	"testing"
	"time"
)

// serve answers on a real loopback listener with status and returns its
// /healthz URL.
func serve(t *testing.T, status int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String() + "/healthz"
}

func TestProbe(t *testing.T) {
	if err := probe(serve(t, http.StatusOK), time.Second); err != nil {
		t.Fatalf("healthy server: %v", err)
	}
	if err := probe(serve(t, http.StatusServiceUnavailable), time.Second); err == nil {
		t.Fatal("a 503 passed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if err := probe("http://"+addr+"/healthz", time.Second); err == nil {
		t.Fatal("nothing listening passed")
	}
}
