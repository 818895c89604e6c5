// Package auth holds recvault's credentials: passwords hashed with Argon2id
// (memory-hard, per RFC 9106) in PHC string form, and session tokens that are
// random, opaque and stored only as their SHA-256.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are Argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultParams follow the OWASP minimum for Argon2id (19 MiB, 2 passes, 1
// lane): about 30 ms per hash on one core, cheap for a sign-in, costly for
// an attacker with a stolen catalog.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
)

// HashPassword returns the PHC string of password under p.
func HashPassword(password string, p Params) (string, error) {
	if password == "" {
		return "", errors.New("empty password")
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string encoded.
// The comparison is constant-time.
func VerifyPassword(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("unsupported password hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errors.New("unsupported argon2 version")
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, errors.New("malformed argon2 parameters")
	}
	if p.Memory == 0 || p.Memory > 4<<20 || p.Time == 0 || p.Time > 100 || p.Threads == 0 {
		return false, errors.New("argon2 parameters out of range")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, errors.New("malformed salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return false, errors.New("malformed hash")
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when a login is unknown, so that answering
// "no such user" takes as long as "wrong password".
var dummyHash, _ = HashPassword("recvault-timing-equaliser", DefaultParams)

// VerifyDummy spends the time of one password verification.
func VerifyDummy(password string) { _, _ = VerifyPassword(dummyHash, password) }

// NewToken returns n random bytes (n ≥ 16) as unpadded base64url text.
func NewToken(n int) string {
	if n < 16 {
		n = 16
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // cannot happen on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is the form in which a session token is stored and looked up.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	var out [2 * sha256.Size]byte // on the stack: one allocation, the string
	hex.Encode(out[:], h[:])
	return string(out[:])
}

// HashesMatch compares a presented token's HashToken against a stored hash
// in constant time.
func HashesMatch(hash, storedHash string) bool {
	return subtle.ConstantTimeCompare([]byte(hash), []byte(storedHash)) == 1
}

// TokenMatches compares a presented token against a stored hash in constant time.
func TokenMatches(token, storedHash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashToken(token)), []byte(storedHash)) == 1
}
