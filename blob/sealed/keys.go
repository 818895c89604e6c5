package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownKey is wrapped by the error of an unwrap whose master key id is
// not in the key ring. The error names the id, so that an operator knows
// which key file is missing; it never yields a wrong data key (which would
// only show up later as every chunk failing to authenticate).
var ErrUnknownKey = errors.New("unknown master key")

// MasterKeySize is the length of a master key and of a data key: AES-256.
const MasterKeySize = 32

// MasterKey is one key-encryption key with the id that wrapped data keys
// carry, so that the ring can hold old keys beside the current one.
type MasterKey struct {
	ID  string
	Key []byte
}

// Keyring holds master keys; the first is current (new data keys are
// wrapped under it), the others only unwrap. It is immutable and safe for
// concurrent use.
type Keyring struct {
	keys  []MasterKey
	aeads map[string]cipher.AEAD
}

// ValidKeyID reports whether id may name a master key: 1-64 characters
// from letters, digits, '-', '_' and '.', so that it fits the key file's
// one-line format and an error message unescaped.
func ValidKeyID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// NewKeyring returns a ring of keys, the first being current. It refuses
// an empty ring, keys that are not 32 bytes, invalid or repeated ids.
func NewKeyring(keys ...MasterKey) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("key ring: no master key")
	}
	r := &Keyring{aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if !ValidKeyID(k.ID) {
			return nil, fmt.Errorf("key ring: invalid key id %q", k.ID)
		}
		if len(k.Key) != MasterKeySize {
			return nil, fmt.Errorf("key ring: key %s is %d bytes, want %d", k.ID, len(k.Key), MasterKeySize)
		}
		if _, dup := r.aeads[k.ID]; dup {
			return nil, fmt.Errorf("key ring: key id %s given twice", k.ID)
		}
		a, err := newGCM(k.Key)
		if err != nil {
			return nil, fmt.Errorf("key ring: key %s: %w", k.ID, err)
		}
		r.aeads[k.ID] = a
		r.keys = append(r.keys, MasterKey{ID: k.ID, Key: append([]byte(nil), k.Key...)})
	}
	return r, nil
}

// Current is the id of the key new data keys are wrapped under.
func (r *Keyring) Current() string { return r.keys[0].ID }

// IDs lists the ring's key ids, current first.
func (r *Keyring) IDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.ID
	}
	return ids
}

// Keys returns copies of the ring's keys, current first (for writing a key
// file).
func (r *Keyring) Keys() []MasterKey {
	out := make([]MasterKey, len(r.keys))
	for i, k := range r.keys {
		out[i] = MasterKey{ID: k.ID, Key: append([]byte(nil), k.Key...)}
	}
	return out
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// WrappedKey is a recording's data key encrypted under a master key. Its
// bytes are
//
//	1 byte   version (1)
//	1 byte   n, the length of the key id
//	n bytes  key id
//	12 bytes AES-GCM nonce (random)
//	48 bytes the 32-byte data key sealed with AES-256-GCM under the master
//	         key, associated data "recvault wrapped data key v1" + key id
//
// It is what the catalogue stores beside a recording; re-wrapping it under
// another master key (Rewrap) changes only these bytes, never the blob.
type WrappedKey []byte

const (
	wrapVersion = 1
	wrapAD      = "recvault wrapped data key v1\x00"
)

// KeyID returns the id of the master key wk is wrapped under.
func (wk WrappedKey) KeyID() (string, error) {
	if len(wk) < 2 || wk[0] != wrapVersion || len(wk) != 2+int(wk[1])+12+MasterKeySize+16 {
		return "", fmt.Errorf("%w: malformed wrapped data key", ErrIntegrity)
	}
	return string(wk[2 : 2+int(wk[1])]), nil
}

// wrap seals the data key dk under the current master key.
func (r *Keyring) wrap(dk []byte) (WrappedKey, error) {
	id := r.Current()
	out := make([]byte, 0, 2+len(id)+12+len(dk)+16)
	out = append(out, wrapVersion, byte(len(id)))
	out = append(out, id...)
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	out = append(out, nonce...)
	out = r.aeads[id].Seal(out, nonce, dk, []byte(wrapAD+id))
	return out, nil
}

// unwrap returns the data key in wk. An id the ring lacks is ErrUnknownKey;
// a wrapped key that does not authenticate is ErrIntegrity.
func (r *Keyring) unwrap(wk WrappedKey) ([]byte, error) {
	id, err := wk.KeyID()
	if err != nil {
		return nil, err
	}
	a, ok := r.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w %q (the key ring holds %s)", ErrUnknownKey, id, strings.Join(r.IDs(), ", "))
	}
	body := wk[2+len(id):]
	dk, err := a.Open(nil, body[:12], body[12:], []byte(wrapAD+id))
	if err != nil {
		return nil, fmt.Errorf("%w: data key wrapped under master key %q does not authenticate (wrong key material for that id, or damaged)", ErrIntegrity, id)
	}
	return dk, nil
}

// Rewrap returns wk re-wrapped under newRing's current key: what `keys
// rotate` does for every recording, touching only the catalogue. oldRing
// must hold the key wk is wrapped under.
func Rewrap(wk WrappedKey, oldRing, newRing *Keyring) (WrappedKey, error) {
	dk, err := oldRing.unwrap(wk)
	if err != nil {
		return nil, fmt.Errorf("rewrap: %w", err)
	}
	defer clear(dk)
	out, err := newRing.wrap(dk)
	if err != nil {
		return nil, fmt.Errorf("rewrap: %w", err)
	}
	return out, nil
}
