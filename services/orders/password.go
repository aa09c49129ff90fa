package orders

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// PasswordCost is bcrypt's work factor: about 50 ms a hash on one core today.
const PasswordCost = 10

// digest is what bcrypt hashes: bcrypt reads at most 72 bytes, and a password may hold 128
// characters of up to 4 bytes each, so it hashes the password's SHA-256 instead, base64 encoded
// (44 bytes, no NUL, which bcrypt would stop at).
func digest(password string) []byte {
	sum := sha256.Sum256([]byte(password))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

// HashPassword returns the hash a customer's password is stored as.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword(digest(password), PasswordCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash.
func CheckPassword(hash, password string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), digest(password)) == nil
}

// dummyHash is compared against when the email is unknown, so that a login takes the same
// time whether or not the account exists (no account enumeration by timing). Made on first use.
var dummyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword(digest("no such customer"), PasswordCost)
	if err != nil {
		panic(err) // only for a cost out of bcrypt's range
	}
	return h
})

// CheckNoAccount spends the time CheckPassword would, for an email with no account; it
// always reports false.
func CheckNoAccount(password string) bool {
	_ = bcrypt.CompareHashAndPassword(dummyHash(), digest(password))
	return false
}
