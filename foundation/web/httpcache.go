package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// Cache-Control policies, one per kind of response. Browsers may keep public data a minute: no
// purge reaches them. The edge keeps it as long as its s-maxage says.
const (
	// CachePublic is for public data that no write purges from the edge (listings, search):
	// a minute there too bounds how far it can lag a write.
	CachePublic = "public, max-age=60, s-maxage=60"
	// CachePurged is for public data whose URL every write purges from the edge (a product):
	// staleness is bounded by the purge, so the edge may keep it ten minutes, as long as
	// Redis does; the TTL only bounds a purge that got lost.
	CachePurged  = "public, max-age=60, s-maxage=600"
	CachePrivate = "private, no-store" // user-specific or admin data
	// CacheRevalidate is for HTML anyone may see: kept, but checked with its validator (ETag)
	// before every use, so a page is never stale and an unchanged one costs a 304.
	CacheRevalidate = "no-cache, must-revalidate"
	// EdgeRevalidated goes with CacheRevalidate, as CDN-Cache-Control (RFC 9213: a header for
	// shared caches only, which the edge strips): the edge may keep such a page 10 s and answer
	// everyone from it, 304s included. Writes purge a product's page; other pages lag up to 10 s.
	EdgeRevalidated = "max-age=10"
	// CacheImmutable is for files under content-hashed names: a change gets a new name, so
	// browsers and the edge keep them for a year and never ask again.
	CacheImmutable = "public, max-age=31536000, immutable"
)

// Tagged is a JSON body and its strong ETag (a hash of the body), computed once: a cache keeps
// the pair and answers from it as it is, with no decoding, encoding or hashing per request.
type Tagged struct {
	Body []byte
	ETag string
}

// Tag encodes v as a JSON body with its ETag.
func Tag(v any) (Tagged, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Tagged{}, err
	}
	b = append(b, '\n')
	sum := sha256.Sum256(b)
	return Tagged{Body: b, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
}

// RespondCacheable writes v as JSON with a strong ETag and the given Cache-Control, or answers
// 304 Not Modified when the request's If-None-Match already has it.
func RespondCacheable(w http.ResponseWriter, r *http.Request, cacheControl string, v any) {
	t, err := Tag(v)
	if err != nil {
		Fail(w, r, err)
		return
	}
	RespondTagged(w, r, cacheControl, t)
}

// RespondTagged is RespondCacheable for a body encoded before.
func RespondTagged(w http.ResponseWriter, r *http.Request, cacheControl string, t Tagged) {
	h := w.Header()
	h.Set("ETag", t.ETag)
	h.Set("Cache-Control", cacheControl)
	if NoneMatch(r.Header.Get("If-None-Match"), t.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(t.Body)
}

// ETag is the entity tag RespondCacheable gives v: a client's If-Match can be checked with it.
func ETag(v any) (string, error) {
	t, err := Tag(v)
	return t.ETag, err
}

// Match reports whether an If-Match header value matches etag. RFC 9110 asks for the strong
// comparison here: a weak tag W/"x" never matches.
func Match(header, etag string) bool {
	for _, candidate := range strings.Split(header, ",") {
		candidate = strings.TrimSpace(candidate)
		if candidate == "*" || candidate == etag {
			return true
		}
	}
	return false
}

// NoneMatch reports whether an If-None-Match header value matches etag. RFC 9110 asks for
// the weak comparison here: W/"x" matches "x".
func NoneMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, candidate := range strings.Split(header, ",") {
		candidate = strings.TrimSpace(candidate)
		if candidate == "*" || strings.TrimPrefix(candidate, "W/") == etag {
			return true
		}
	}
	return false
}
