package main

import (
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestGetV1NamesFileAsServer: get v1 saves the file under the name the
// server's Content-Disposition gives, for the stored file and a
// conversion; --name still overrides.
func TestGetV1NamesFileAsServer(t *testing.T) {
	clientSetup(t)
	env := startEnv(t)
	cliLogin(t, env.URL, "v1", "admin", "admin-demo-pass")
	id := env.recordingID(110, "1621413752-2011-voice").ID
	for _, format := range []string{"", "mp3"} {
		q := ""
		if format != "" {
			q = "?format=" + format
		}
		_, hdr := fetchSHA(t, http.DefaultClient, env.URL, "/api/v1/recordings/"+id+"/media"+q)
		_, params, err := mime.ParseMediaType(hdr.Get("Content-Disposition"))
		if err != nil || params["filename"] == "" {
			t.Fatalf("server sent no file name: %q (%v)", hdr.Get("Content-Disposition"), err)
		}
		dir := t.TempDir()
		args := []string{"get", "v1", "--id", id, "-o", dir, "--progress", "none"}
		if format != "" {
			args = append(args, "--format", format)
		}
		if code, out, errs := runCLI(t, "", args...); code != 0 {
			t.Fatalf("%v: %d %s%s", args, code, out, errs)
		}
		if _, err := os.Stat(filepath.Join(dir, params["filename"])); err != nil {
			ents, _ := os.ReadDir(dir)
			t.Errorf("format %q: no file %q (the server's name); the folder holds %v", format, params["filename"], ents)
		}
	}
	dir := t.TempDir()
	if code, out, errs := runCLI(t, "", "get", "v1", "--id", id, "--name", "mine", "-o", dir, "--progress", "none"); code != 0 {
		t.Fatalf("--name: %d %s%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "mine.wav")); err != nil {
		t.Errorf("--name: %v", err)
	}
}
