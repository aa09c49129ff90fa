// Package session keeps shoppers' sessions in Redis, so that any gateway instance serves any
// request and a session outlives the instance that made it.
//
// A session is named by a cookie value (32 random bytes, base64url) that only the browser and
// the gateway ever see. Redis and the services behind the gateway know the session by its key,
// hex(SHA-256(cookie)): whoever reads Redis or a service's logs cannot turn a key back into a
// cookie that signs them in. Entries live SESSION_TTL after their last use (GETEX … EX).
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// CookieName is the cookie that carries a session's value.
const CookieName = "fc_session"

// keyPrefix is the namespace of sessions in Redis; the ACL user "sessions" may touch only it
// (and the login limits).
const keyPrefix = "session:"

// cookieBytes is the entropy of a cookie value: far beyond guessing.
const cookieBytes = 32

// Session is what Redis holds for a session. A guest's has no customer.
type Session struct {
	Customer int64     `json:"cid"`
	Email    string    `json:"email"`
	Created  time.Time `json:"created"`
}

// SignedIn reports whether a customer has logged in on the session.
func (s Session) SignedIn() bool { return s.Customer > 0 }

// New returns a fresh cookie value and the key that names its session.
func New() (cookie, key string) {
	var b [cookieBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	cookie = base64.RawURLEncoding.EncodeToString(b[:])
	return cookie, keyOf(cookie)
}

// KeyOf returns the key of a cookie value, or false when the value is not one New makes: a
// client-made value never reaches Redis.
func KeyOf(cookie string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil || len(b) != cookieBytes {
		return "", false
	}
	return keyOf(cookie), true
}

func keyOf(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// Store keeps sessions in Redis. Its methods take a session's key, never its cookie.
type Store struct {
	rdb *redis.Client
	ttl time.Duration
}

// NewStore returns a store whose sessions live ttl after their last use.
func NewStore(rdb *redis.Client, ttl time.Duration) *Store {
	return &Store{rdb: rdb, ttl: ttl}
}

// TTL is how long a session lives after its last use.
func (s *Store) TTL() time.Duration { return s.ttl }

// Get returns the session named key and restarts its TTL, in one command (GETEX). found is
// false when there is none: never made, expired or deleted.
func (s *Store) Get(ctx context.Context, key string) (sess Session, found bool, err error) {
	b, err := s.rdb.GetEx(ctx, keyPrefix+key, s.ttl).Bytes()
	if errors.Is(err, redis.Nil) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("session get: %w", err)
	}
	if err := json.Unmarshal(b, &sess); err != nil {
		return Session{}, false, fmt.Errorf("session get: %w", err)
	}
	return sess, true, nil
}

// Put stores sess under key for the TTL.
func (s *Store) Put(ctx context.Context, key string, sess Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("session put: %w", err)
	}
	if err := s.rdb.Set(ctx, keyPrefix+key, b, s.ttl).Err(); err != nil {
		return fmt.Errorf("session put: %w", err)
	}
	return nil
}

// Replace stores sess under key and deletes the session named old (when old is not empty),
// in one round trip: at login the session gets a new id, so one that an attacker planted or
// saw before cannot be used to act as the customer.
func (s *Store) Replace(ctx context.Context, old, key string, sess Session) error {
	if old == "" {
		return s.Put(ctx, key, sess)
	}
	b, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("session replace: %w", err)
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, keyPrefix+key, b, s.ttl)
		p.Del(ctx, keyPrefix+old)
		return nil
	})
	if err != nil {
		return fmt.Errorf("session replace: %w", err)
	}
	return nil
}

// Delete removes the session named key; removing one that is gone is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, keyPrefix+key).Err(); err != nil {
		return fmt.Errorf("session delete: %w", err)
	}
	return nil
}
