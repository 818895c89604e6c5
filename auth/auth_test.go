package auth

import (
	"encoding/base64"
	"strings"
	"testing"
)

var fast = Params{Memory: 1024, Time: 1, Threads: 1}

func TestPasswordHashVerify(t *testing.T) {
	h, err := HashPassword("correct horse", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string with the default parameters", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash contains the password")
	}
	if ok, err := VerifyPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("right password refused: %v %v", ok, err)
	}
	for _, wrong := range []string{"", "correct hors", "correct horse ", "Correct horse"} {
		if ok, _ := VerifyPassword(h, wrong); ok {
			t.Fatalf("wrong password %q accepted", wrong)
		}
	}
	h2, _ := HashPassword("correct horse", DefaultParams)
	if h2 == h {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if _, err := HashPassword("", fast); err == nil {
		t.Fatal("empty password hashed")
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	good, _ := HashPassword("pw", fast)
	parts := strings.Split(good, "$")
	for _, bad := range []string{
		"", "plain", "$2a$10$abcdefghijklmnopqrstuv", // bcrypt is not accepted
		strings.Replace(good, "argon2id", "argon2i", 1),
		strings.Replace(good, "v=19", "v=16", 1),
		strings.Replace(good, parts[3], "m=0,t=1,p=1", 1),
		strings.Replace(good, parts[3], "m=99999999,t=1,p=1", 1), // would allocate 95 GiB
		strings.Replace(good, parts[4], "!!!", 1),
		strings.Replace(good, parts[5], "", 1),
	} {
		if ok, err := VerifyPassword(bad, "pw"); ok || err == nil {
			t.Errorf("malformed hash %q: ok=%v err=%v", bad, ok, err)
		}
	}
}

func TestTokens(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok := NewToken(32)
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q: %d bytes, %v", tok, len(raw), err)
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
	}
	if raw, _ := base64.RawURLEncoding.DecodeString(NewToken(1)); len(raw) != 16 {
		t.Fatal("tokens must carry at least 128 bits")
	}
	tok := NewToken(32)
	h := HashToken(tok)
	if len(h) != 64 || strings.Contains(h, tok) {
		t.Fatalf("token hash %q", h)
	}
	if !TokenMatches(tok, h) || TokenMatches(tok+"x", h) || TokenMatches("", h) {
		t.Fatal("TokenMatches")
	}
	if !HashesMatch(h, h) || HashesMatch(HashToken(tok+"x"), h) || HashesMatch("", h) || HashesMatch(h[:63], h) {
		t.Fatal("HashesMatch")
	}
}

func BenchmarkHashPasswordDefault(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := HashPassword("correct horse battery staple", DefaultParams); err != nil {
			b.Fatal(err)
		}
	}
}
