package relay

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echo starts a line echo server and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					if _, err := c.Write(append(s.Bytes(), '\n')); err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

// roundTrip sends a line through c and reads the answer within d.
func roundTrip(c net.Conn, d time.Duration) (string, error) {
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	_ = c.SetReadDeadline(time.Now().Add(d))
	return bufio.NewReader(c).ReadString('\n')
}

func TestRelay(t *testing.T) {
	r := New(t, echo(t))
	dial := func() net.Conn {
		c, err := net.Dial("tcp", r.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := dial()
	if got, err := roundTrip(c, 5*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("through the relay: %q, %v", got, err)
	}

	r.Stall(true)
	if got, err := roundTrip(c, 200*time.Millisecond); err == nil {
		t.Fatalf("stalled: the answer %q came through", got)
	}
	r.Stall(false) // c now gets the held answer late: not used again

	open := dial()
	if got, err := roundTrip(open, 5*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("through the relay: %q, %v", got, err)
	}
	r.Cut(true)
	if _, err := roundTrip(open, 5*time.Second); err == nil {
		t.Fatal("cut: the open connection still works")
	}
	if _, err := roundTrip(dial(), 5*time.Second); err == nil {
		t.Fatal("cut: a new connection works")
	}
	r.Cut(false)
	if got, err := roundTrip(dial(), 5*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("restored: %q, %v", got, err)
	}
}
