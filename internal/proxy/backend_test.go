package proxy

import (
	"testing"
	"time"
)

// TestQueues drives a backend's queues directly: with source hashing a
// full server keeps its clients in its own queue up to maxqueue, then they
// wait in the backend queue; freed slots go to the server queue first.
func TestQueues(t *testing.T) {
	be, err := NewBackend(BackendConfig{Name: "be", Balance: "source", TimeoutQueue: 5 * time.Second,
		Servers: []ServerConfig{{Name: "a", Addr: "127.0.0.1:1", Weight: 1, Maxconn: 1, Maxqueue: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	s, qi, err := be.acquire(42, nil, nil)
	if err != nil || qi.queued {
		t.Fatalf("first acquire = %v, %+v; want a server at once", err, qi)
	}
	type res struct {
		name string
		qi   queueInfo
	}
	got := make(chan res, 2)
	wait := func(name string) {
		go func() {
			_, qi, err := be.acquire(42, nil, nil)
			if err != nil {
				name += " failed: " + err.Error()
			}
			got <- res{name, qi}
		}()
	}
	waitQueued := func(srvQ, beQ int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			st, bst := s.Stats(), be.Stats()
			if st.Queue == srvQ && bst.Queue == beQ {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("queues = server %d, backend %d; want %d, %d", st.Queue, bst.Queue, srvQ, beQ)
			}
			time.Sleep(time.Millisecond) // polling counters: no event for "queued"
		}
	}
	wait("second")
	waitQueued(1, 0)
	wait("third") // the server queue is at maxqueue: backend queue
	waitQueued(1, 1)

	be.release(s)
	if r := <-got; r.name != "second" || r.qi.srvQueue != 1 {
		t.Errorf("after the first release got %+v; want second from the server queue", r)
	}
	be.release(s)
	if r := <-got; r.name != "third" || r.qi.beQueue != 1 {
		t.Errorf("after the second release got %+v; want third from the backend queue", r)
	}
	be.release(s)
	if st := s.Stats(); st.Cur != 0 || st.Total != 3 || st.MaxQueue != 1 {
		t.Errorf("server stats = %+v; want Cur 0, Total 3, MaxQueue 1", st)
	}
}
