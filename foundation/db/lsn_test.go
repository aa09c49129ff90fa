package db

import "testing"

func TestLSN(t *testing.T) {
	for s, want := range map[string]uint64{"0/16B3748": 23803720, "1/0": 1 << 32, "0/0": 0, "FFFFFFFF/FFFFFFFF": 1<<64 - 1} {
		n, err := ParseLSN(s)
		if err != nil || n != want {
			t.Errorf("ParseLSN(%q) = %d, %v; want %d", s, n, err, want)
		}
		if got := FormatLSN(n); got != s {
			t.Errorf("FormatLSN(%d) = %q, want %q", n, got, s)
		}
	}
	for _, s := range []string{"", "x", "42", "1/", "/1", "g/1", "1/2/3", "100000000/0"} {
		if _, err := ParseLSN(s); err == nil {
			t.Errorf("ParseLSN(%q) accepted", s)
		}
	}
}
