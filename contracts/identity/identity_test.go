package identity

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestRoundTrip(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok, err := Sign(key, Identity{Session: "s1", Customer: 7, Email: "a@example.com"}, now)
	if err != nil {
		t.Fatal(err)
	}
	id, err := Verify(key, tok, now.Add(TTL))
	if err != nil {
		t.Fatal(err)
	}
	if id.Session != "s1" || id.Customer != 7 || id.Email != "a@example.com" || !id.SignedIn() {
		t.Fatalf("got %+v", id)
	}
}

func TestRefused(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok, err := Sign(key, Identity{Session: "s1", Customer: 7}, now)
	if err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(tok, ".")
	other, _ := Sign([]byte("another key, just as long as the first"), Identity{Session: "s1", Customer: 8}, now)
	otherBody, _, _ := strings.Cut(other, ".")
	for name, tc := range map[string]struct {
		key   []byte
		token string
		at    time.Time
	}{
		"expired":        {key, tok, now.Add(TTL + time.Second)},
		"other key":      {[]byte("another key, just as long as the first"), tok, now},
		"short key":      {key[:16], tok, now},
		"swapped body":   {key, otherBody + "." + sig, now},
		"no signature":   {key, body, now},
		"empty":          {key, "", now},
		"garbage":        {key, "%%%.%%%", now},
		"bare json":      {key, `{"sid":"s1","cid":7}.x`, now},
		"signature only": {key, "." + sig, now},
		"truncated sig":  {key, body + "." + sig[:10], now},
	} {
		if _, err := Verify(tc.key, tc.token, tc.at); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := Sign(key, Identity{}, now); err == nil {
		t.Error("signed an identity without a session")
	}
	if _, err := Sign(key[:31], Identity{Session: "s"}, now); err == nil {
		t.Error("signed with a short key")
	}
}
