package main

import (
	"testing"
	"time"
)

func TestHashSpeedMeasuresHashing(t *testing.T) {
	// Any core hashes well over 10 MB/s; a loop that did no work, or timed nothing, would not
	// give a finite figure above it.
	if got := hashSpeed(100 * time.Millisecond); !(got > 10 && got < 1e6) {
		t.Fatalf("hashSpeed = %v MB/s, want a plausible figure", got)
	}
}
