package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"time"
)

// speedCommand is `lab speed`: how fast one core of this machine hashes right now, in MB/s of
// SHA-256 over two seconds. A virtual machine's host can slow the cores it lends without taking
// them away (steal counts only the time a core was taken from it): a staircase's limit moves
// with this figure, so the lab prints it beside each one.
func speedCommand(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%.0f\n", hashSpeed(2*time.Second))
	return err
}

// hashSpeed hashes a 1 MiB buffer over and over for d and returns MB per second of wall time.
func hashSpeed(d time.Duration) float64 {
	buf := make([]byte, 1<<20)
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		sha256.Sum256(buf)
		n++
	}
	return float64(n) * float64(len(buf)) / time.Since(start).Seconds() / 1e6
}
