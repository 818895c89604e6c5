package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// cmdVersion prints what the binary was built from: the module version
// and the VCS revision Go stamps into the build info, which is what an
// operator needs to say exactly which build runs.
func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	bi, _ := debug.ReadBuildInfo() // nil when not built with module support
	fmt.Fprintln(stdout, versionLine(bi))
	return nil
}

// versionLine renders build info as "recvault VERSION (revision R, TIME,
// modified) GO"; bi nil (a binary built without module support) says so.
func versionLine(bi *debug.BuildInfo) string {
	if bi == nil {
		return "recvault (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var parts []string
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if r := settings["vcs.revision"]; r != "" {
		parts = append(parts, "revision "+r)
	} else {
		parts = append(parts, "revision unknown")
	}
	if t := settings["vcs.time"]; t != "" {
		parts = append(parts, t)
	}
	if settings["vcs.modified"] == "true" {
		parts = append(parts, "modified")
	}
	return fmt.Sprintf("recvault %s (%s) %s", v, strings.Join(parts, ", "), bi.GoVersion)
}
