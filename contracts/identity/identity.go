// Package identity is how the gateway tells an internal service who is asking. The gateway owns
// sessions; for each request it forwards, it signs a short-lived statement of the session and,
// once someone has logged in, the customer. A service verifies the signature with the shared
// key and trusts nothing else: a bare header from whoever can reach it proves nothing.
//
// The token is base64url(JSON) "." base64url(HMAC-SHA256(key, base64url(JSON))).
package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Header carries the signed token from the gateway to the services behind it.
const Header = "X-Flashcrowd-Identity"

// TTL bounds how long a signed token is accepted: long enough for one request's trip through
// the internal load balancer and its retries, too short to be worth replaying.
const TTL = 30 * time.Second

// MinKeyLen is the shortest key Sign and Verify accept: an HMAC-SHA256 key should carry at
// least as many bytes as the hash.
const MinKeyLen = 32

// ErrInvalid is every reason a token is refused; the details are in the wrapped message.
var ErrInvalid = errors.New("identity token invalid")

// Identity is who is asking. Session is always set; Customer and Email only after a login.
type Identity struct {
	Session  string `json:"sid"`
	Customer int64  `json:"cid,omitempty"`
	Email    string `json:"email,omitempty"`
	Expires  int64  `json:"exp"` // Unix seconds
}

// SignedIn reports whether a customer has logged in on this session.
func (id Identity) SignedIn() bool { return id.Customer > 0 }

// Sign returns the token for id, valid for TTL from now.
func Sign(key []byte, id Identity, now time.Time) (string, error) {
	if len(key) < MinKeyLen {
		return "", fmt.Errorf("identity key: %d bytes, want at least %d", len(key), MinKeyLen)
	}
	if id.Session == "" {
		return "", errors.New("identity: no session")
	}
	id.Expires = now.Add(TTL).Unix()
	b, err := json.Marshal(id)
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(mac(key, body)), nil
}

// Verify checks token's signature and expiry and returns the identity it carries.
func Verify(key []byte, token string, now time.Time) (Identity, error) {
	var id Identity
	if len(key) < MinKeyLen {
		return id, fmt.Errorf("%w: key too short", ErrInvalid)
	}
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return id, fmt.Errorf("%w: malformed", ErrInvalid)
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, body)) {
		return id, fmt.Errorf("%w: bad signature", ErrInvalid)
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return id, fmt.Errorf("%w: malformed", ErrInvalid)
	}
	if err := json.Unmarshal(b, &id); err != nil {
		return Identity{}, fmt.Errorf("%w: malformed", ErrInvalid)
	}
	if id.Session == "" || id.Customer < 0 {
		return Identity{}, fmt.Errorf("%w: incomplete", ErrInvalid)
	}
	if now.Unix() > id.Expires {
		return Identity{}, fmt.Errorf("%w: expired", ErrInvalid)
	}
	return id, nil
}

func mac(key []byte, body string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(body))
	return h.Sum(nil)
}
