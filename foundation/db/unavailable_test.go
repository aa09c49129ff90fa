package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnavailable(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("update product 1: %w", &pgconn.PgError{Code: code}) }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"pgbouncer cannot log in", pg("08P01"), true},
		{"connection failure", pg("08006"), true},
		{"server shutting down", pg("57P01"), true},
		{"server starting", pg("57P03"), true},
		{"write on a replica", pg("25006"), true},
		{"statement timeout", pg("57014"), false},
		{"unique violation", pg("23505"), false},
		{"check violation", pg("23514"), false},
		{"connection cut", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), true},
		{"a bug", errors.New("scan: wrong type"), false},
		{"the caller gave up", context.Canceled, false},
		{"the caller's deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), false},
	}
	for _, tc := range cases {
		if got := Unavailable(tc.err); got != tc.want {
			t.Errorf("%s: Unavailable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// A server that is not there: the connect fails, and both functions say so.
func TestNothingListening(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := pgconn.Connect(ctx, "postgres://u:p@127.0.0.1:1/db?connect_timeout=2")
	if err == nil {
		t.Fatal("connected to port 1")
	}
	if !Unavailable(err) || !NotSent(err) {
		t.Errorf("connect error %v: Unavailable %v, NotSent %v, want both", err, Unavailable(err), NotSent(err))
	}
}

// A balancer with no server behind it accepts and then says nothing (HAProxy at a cold start,
// before its checks find the leader): each try runs out of time, and the wait goes on trying
// until its own limit instead of failing at the first.
func TestWaitForPrimaryRetriesATryThatTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			accepted <- struct{}{}
		}
	}()
	url := fmt.Sprintf("postgres://u:p@%s/db?sslmode=disable", ln.Addr())
	try := func(ctx context.Context) error { return primary(ctx, url) }
	err = waitForPrimary(context.Background(), try, 2500*time.Millisecond, 300*time.Millisecond)
	if err == nil {
		t.Fatal("found a primary behind a silent listener")
	}
	if n := len(accepted); n < 2 {
		t.Errorf("%d tries in 2.5 s, want several (the first timed-out try ended the wait: %v)", n, err)
	}
}

// While HAProxy's checks settle, round robin sends one connection to the leader and the next to
// a replica: the wait ends only once several in a row reach a primary.
func TestWaitForPrimaryWantsSeveralInARow(t *testing.T) {
	synctest.Test(t, testWaitForPrimaryWantsSeveralInARow) // fake time, as for WaitFor's tests
}

func testWaitForPrimaryWantsSeveralInARow(t *testing.T) {
	replica := &pgconn.PgError{Code: "25006"}
	answers := []error{nil, replica, nil, nil, replica, nil, nil, nil, replica}
	tries := 0
	try := func(context.Context) error {
		tries++
		if tries > len(answers) {
			return nil
		}
		return answers[tries-1]
	}
	if err := waitForPrimary(context.Background(), try, 10*time.Second, time.Second); err != nil {
		t.Fatal(err)
	}
	if tries != 8 {
		t.Errorf("returned after %d tries, want 8 (the first three in a row on a primary)", tries)
	}

	alternating := func(context.Context) error {
		tries++
		if tries%2 == 0 {
			return replica
		}
		return nil
	}
	if err := waitForPrimary(context.Background(), alternating, 2500*time.Millisecond, time.Second); err == nil {
		t.Error("returned while every other connection reached a replica")
	}
}

func TestTimedOut(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("products: %w", &pgconn.PgError{Code: "57014"}), true},
		{fmt.Errorf("products: timeout: %w", context.DeadlineExceeded), true},
		{context.Canceled, false}, // the client went away: nobody waits for an answer
		{&pgconn.PgError{Code: "57P01"}, false},
		{nil, false},
	} {
		if got := TimedOut(c.err); got != c.want {
			t.Errorf("TimedOut(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
