package orders

import (
	"strings"
	"testing"

	"github.com/flashcrowd/flashcrowd/contracts/identity"
)

func TestValidEmail(t *testing.T) {
	for email, ok := range map[string]bool{
		"ada@example.com": true, "a.b+tag@shop.example.co.uk": true,
		"": false, "ada": false, "ada@": false, "@example.com": false, "ada@localhost": false,
		"Ada <ada@example.com>": false, "ada@example.com (Ada)": false, "ada@@example.com": false,
		"ada example@example.com": false, strings.Repeat("a", 250) + "@example.com": false,
	} {
		if got := ValidEmail(email) == ""; got != ok {
			t.Errorf("ValidEmail(%q) ok = %v, want %v", email, got, ok)
		}
	}
	if got := NormalizeEmail("  Ada@Example.COM\t"); got != "ada@example.com" {
		t.Errorf("NormalizeEmail = %q", got)
	}
}

func TestValidPassword(t *testing.T) {
	for pw, ok := range map[string]bool{
		"12345678": true, strings.Repeat("p", 128): true, strings.Repeat("é", 128): true,
		"1234567": false, strings.Repeat("p", 129): false, "": false, "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8": false,
	} {
		if got := ValidPassword(pw) == ""; got != ok {
			t.Errorf("ValidPassword(%q) ok = %v, want %v", pw, got, ok)
		}
	}
}

func TestValidKey(t *testing.T) {
	for key, ok := range map[string]bool{
		"a": true, "order-2026_12-01": true, strings.Repeat("k", 64): true,
		"": false, strings.Repeat("k", 65): false, "a b": false, "a/b": false, "ключ": false, "a\n": false,
	} {
		if ValidKey(key) != ok {
			t.Errorf("ValidKey(%q) = %v, want %v", key, !ok, ok)
		}
	}
}

func TestOwner(t *testing.T) {
	if got := Owner(identity.Identity{Session: "abc"}); got != "s:abc" {
		t.Errorf("guest owner %q", got)
	}
	if got := Owner(identity.Identity{Session: "abc", Customer: 42, Email: "a@b.co"}); got != "c:42" || got != CustomerOwner(42) {
		t.Errorf("customer owner %q", got)
	}
}

func TestPasswords(t *testing.T) {
	// Longer than bcrypt's 72 bytes, and differing only past them: both count.
	long := strings.Repeat("ü", 60)
	hash, err := HashPassword(long + "a")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$2a$10$") {
		t.Errorf("hash %q: want bcrypt at cost 10", hash)
	}
	if !CheckPassword(hash, long+"a") || CheckPassword(hash, long+"b") || CheckPassword(hash, "") {
		t.Error("CheckPassword accepts the wrong password or refuses the right one")
	}
	if CheckPassword("not a hash", long+"a") || CheckNoAccount(long+"a") {
		t.Error("a check without an account passed")
	}
}
