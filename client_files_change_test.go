package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A file that grows while it is uploaded (a capture still being written) is refused with
// words about the file, not net/http's "ContentLength=… with Body length …".
func TestUploadOfAGrowingFileSaysItChanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lab.pcapng")
	const size = 32 << 20 // more than loopback's socket buffers hold, so the upload is mid-way
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, grown := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-grown
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	cs := &clientSession{}
	cs.files.filehost = "http://" + ln.Addr().String() + "/upload/secret"
	errc := make(chan error, 1)
	go func() {
		_, _, err := cs.uploadFile(context.Background(), path, nil)
		errc <- err
	}()
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the upload never reached the server")
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 4096))
	f.Close()
	close(grown)
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "changed while it was being sent") {
			t.Fatalf("upload of a growing file: %v", err)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("the error shows the upload token: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the upload did not end")
	}
}

// The upload URL's last segment is a secret: a failed upload names the server, not it.
func TestUploadErrorHidesTheToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(path, []byte("hello\n"), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: the POST fails to connect
	cs := &clientSession{}
	cs.files.filehost = "http://" + addr + "/upload/secret-token"
	_, _, err = cs.uploadFile(context.Background(), path, nil)
	if err == nil || strings.Contains(err.Error(), "secret-token") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("failed upload: %v", err)
	}
}
