//go:build e2e

package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The edge terminates TLS on EDGE_TLS_PORT with the development certificate its local CA signed
// (the one make trust-cert hands out): HTTP/2 through ALPN, TLS 1.2 at least, the session cookie
// Secure, a cross-origin check that knows the https origin, and HSTS outside development only.
func TestTLSAtTheEdge(t *testing.T) {
	ca, err := composeExec(t, nil, "haproxy", "cat", "/certs/ca.crt")
	if err != nil {
		t.Fatalf("the development CA: %v %s", err, ca)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(ca)) {
		t.Fatalf("not a PEM certificate: %.200s", ca)
	}
	origin := "https://127.0.0.1:" + getenv("EDGE_TLS_PORT", dotenv("EDGE_TLS_PORT"))
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
	}}
	r, err := c.Get(origin + "/api/v1/products?limit=1")
	if err != nil {
		t.Fatalf("GET over TLS, trusting the development CA: %v", err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK || r.Proto != "HTTP/2.0" || r.TLS == nil || r.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("over TLS: %d %s, TLS %+v: want 200 over HTTP/2, TLS 1.2 or later", r.StatusCode, r.Proto, r.TLS)
	}
	hsts := r.Header.Get("Strict-Transport-Security")
	if dev := getenv("FLASHCROWD_ENV", dotenv("FLASHCROWD_ENV")) == "development"; dev != (hsts == "") {
		t.Errorf("Strict-Transport-Security %q in mode %q: want it outside development only", hsts, dotenv("FLASHCROWD_ENV"))
	}

	// A cart write from the https origin: accepted (PUBLIC_ORIGINS), and the session cookie is Secure.
	req, _ := http.NewRequest(http.MethodPut, origin+"/api/v1/cart/items/1", strings.NewReader(`{"quantity":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	r, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("a cart write over TLS from %s: %d", origin, r.StatusCode)
	}
	secure := false
	for _, ck := range r.Cookies() {
		secure = secure || ck.Secure
	}
	if len(r.Cookies()) == 0 || !secure {
		t.Errorf("the session cookie over TLS: %v, want Secure", r.Header.Values("Set-Cookie"))
	}

	// TLS 1.1 and older are refused at the handshake.
	old := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11},
	}}
	if r, err := old.Get(origin + "/healthz"); err == nil {
		r.Body.Close()
		t.Errorf("TLS 1.1 was accepted: %d", r.StatusCode)
	} else {
		t.Logf("TLS 1.1 refused: %v", err)
	}
}
