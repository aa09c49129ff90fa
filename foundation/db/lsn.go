package db

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseLSN reads a WAL position as Postgres prints it (pg_current_wal_lsn()::text): two hex
// numbers, X/Y, the high and low 32 bits of a byte offset.
func ParseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not a WAL position (X/Y in hex)", s)
	}
	return h<<32 | l, nil
}

// FormatLSN writes a WAL position the way Postgres does, X/Y.
func FormatLSN(n uint64) string { return fmt.Sprintf("%X/%X", n>>32, uint32(n)) }
