// Package keyfile reads and writes master key files for blob/sealed.
//
// A key file is text, one key a line:
//
//	recvault-master-key v1 <key-id> <base64 of 32 bytes>
//
// with the standard base64 alphabet and padding. Blank lines and lines
// starting with '#' are ignored. Several keys are allowed; the first is
// current (new data keys are wrapped under it), the others are kept so
// that data keys wrapped under them still unwrap until every recording has
// been re-wrapped (sealed.Rewrap). Key ids are what sealed.ValidKeyID
// accepts and must be unique in a file.
//
// The file holds secrets, so Generate writes it with mode 0600 and Load
// refuses a file that its group or others can read or write: a key file
// readable by everyone on the host would make encryption at rest moot.
package keyfile

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/recvault/recvault/blob/sealed"
)

const prefix = "recvault-master-key"

// Generate writes a new key file at path holding one fresh random key,
// with an id made of the date and random digits (k20261201-1a2b3c4d), and
// returns its id. It refuses to overwrite an existing file: losing a
// master key loses every recording sealed under it.
func Generate(path string) (string, error) {
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	id := "k" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(rnd[:])
	key := make([]byte, sealed.MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	if err := Write(path, []sealed.MasterKey{{ID: id, Key: key}}); err != nil {
		return "", err
	}
	return id, nil
}

// Write creates the key file path with keys (the first current), mode
// 0600, synced. It refuses to overwrite an existing file.
func Write(path string, keys []sealed.MasterKey) error {
	if _, err := sealed.NewKeyring(keys...); err != nil {
		return fmt.Errorf("key file %s: %w", path, err)
	}
	var buf bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&buf, "%s v1 %s %s\n", prefix, k.ID, base64.StdEncoding.EncodeToString(k.Key))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("key file %s exists: refusing to overwrite it", path)
	} else if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	_, werr := f.Write(buf.Bytes())
	if werr == nil {
		werr = f.Sync()
	}
	if err := errors.Join(werr, f.Close()); err != nil {
		return errors.Join(fmt.Errorf("write key file %s: %w", path, err), os.Remove(path))
	}
	return nil
}

// Load reads the key file path into a key ring, its first key current.
func Load(path string) (*sealed.Keyring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close() // read-only
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %04o: it must not be accessible to group or others (chmod 600)", path, perm)
	}
	var keys []sealed.MasterKey
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 4 || fields[0] != prefix {
			return nil, fmt.Errorf("key file %s:%d: want %q", path, line, prefix+" v1 <key-id> <base64 key>")
		}
		if fields[1] != "v1" {
			return nil, fmt.Errorf("key file %s:%d: version %q not supported (want v1)", path, line, fields[1])
		}
		key, err := base64.StdEncoding.DecodeString(fields[3])
		if err != nil {
			// The error would quote key material: say only where.
			return nil, fmt.Errorf("key file %s:%d: key is not valid base64", path, line)
		}
		keys = append(keys, sealed.MasterKey{ID: fields[2], Key: key})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	ring, err := sealed.NewKeyring(keys...)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return ring, nil
}
