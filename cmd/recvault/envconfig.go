package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// configFlag is the one serve flag no variable or file sets: the config
// file names itself. (The store flags' variables, RECVAULT_CATALOG,
// RECVAULT_BLOBS and RECVAULT_ENCRYPTION_KEY_FILE, are their envName: every
// operator command reads them too.)
const configFlag = "config"

// envName is the environment variable of a serve flag: RECVAULT_ and the
// flag's name in upper case with dashes as underscores (--max-conns-per-client:
// RECVAULT_MAX_CONNS_PER_CLIENT).
func envName(flagName string) string {
	return "RECVAULT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// applyConfig gives every flag of fs that the command line did not set a
// value from the environment (envName) or else from the config file, if
// one is named (--config, else RECVAULT_CONFIG): flags win over the
// environment, the environment over the file. The file has one "name =
// value" per line (flag names without dashes in front; # starts a comment);
// a repeatable flag may appear on several lines, and in the environment
// takes a comma-separated list. Unknown names in the file are errors, so a
// typo does not silently fall back to a default.
func applyConfig(fs *flag.FlagSet, configFile string, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if configFile == "" {
		configFile = getenv("RECVAULT_CONFIG")
	}
	fromFile := map[string][]string{}
	if configFile != "" {
		var err error
		if fromFile, err = readConfigFile(fs, configFile); err != nil {
			return err
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == configFlag {
			return
		}
		var values []string
		if v := getenv(envName(f.Name)); v != "" {
			values = []string{v}
			if _, multi := f.Value.(*multiFlag); multi {
				values = strings.Split(v, ",")
			}
			for _, v := range values {
				if err := fs.Set(f.Name, strings.TrimSpace(v)); err != nil {
					errs = append(errs, usagef("%s=%q: %v", envName(f.Name), v, err))
				}
			}
			return
		}
		for _, v := range fromFile[f.Name] {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, usagef("%s: %s = %q: %v", configFile, f.Name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// readConfigFile reads "name = value" lines, checking every name is a
// flag of fs.
func readConfigFile(fs *flag.FlagSet, path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, "=")
		name, value = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(name), "-")), strings.TrimSpace(value)
		if !ok || name == "" {
			return nil, usagef("%s:%d: want name = value, got %q", path, line, text)
		}
		if fs.Lookup(name) == nil || name == configFlag {
			return nil, usagef("%s:%d: unknown setting %q (settings are the serve flags: recvault serve -h)", path, line, name)
		}
		out[name] = append(out[name], strings.Trim(value, `"`))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return out, nil
}
