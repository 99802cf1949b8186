// Command backend is the server behind lb in its end-to-end tests and demo: an HTTP responder
// and a TCP echo server on the given addresses.
//
//	backend [-name NAME] [-http ADDR[,ADDR…]] [-echo ADDR[,ADDR…]] [-ready FILE]
//
// HTTP: every path answers 200 with the body "ok NAME\n" and the header "X-Backend: NAME";
// "/sleep?ms=N" answers the same after N milliseconds (a long session for drain tests);
// "/status/CODE" answers with that status. Echo: every byte read is written back.
//
// Once every address listens it signals readiness: "READY=1" to $NOTIFY_SOCKET when set (so
// `systemd-run -p Type=notify` returns only then), the line "ready" on stdout, and -ready FILE
// when given. SIGTERM or SIGINT stop it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	name := flag.String("name", "backend", "name returned in the body and the X-Backend header")
	httpAddrs := flag.String("http", "", "comma-separated `addresses` for the HTTP responder")
	echoAddrs := flag.String("echo", "", "comma-separated `addresses` for the TCP echo server")
	ready := flag.String("ready", "", "create this `file` once listening")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *httpAddrs == "" && *echoAddrs == "" {
		fmt.Fprintln(os.Stderr, "backend: give -http and/or -echo")
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	srv := &http.Server{Handler: handler(*name), ReadHeaderTimeout: 10 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	errc := make(chan error, 16)
	for _, a := range split(*httpAddrs) {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			log.Error("listen", "addr", a, "err", err)
			os.Exit(1)
		}
		go func() { errc <- srv.Serve(ln) }()
	}
	for _, a := range split(*echoAddrs) {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			log.Error("listen", "addr", a, "err", err)
			os.Exit(1)
		}
		go func() { <-ctx.Done(); ln.Close() }()
		go func() { errc <- echo(ln) }()
	}
	if *ready != "" {
		if f, err := os.Create(*ready); err == nil {
			f.Close()
		}
	}
	notifyReady()
	fmt.Println("ready")

	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error("serve", "err", err)
			os.Exit(1)
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
}

func split(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func handler(name string) http.Handler {
	body := "ok " + name + "\n"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		w.Header().Set("Content-Type", "text/plain")
		switch {
		case r.URL.Path == "/sleep":
			ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
			select {
			case <-time.After(time.Duration(ms) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		case strings.HasPrefix(r.URL.Path, "/status/"):
			code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
			if err == nil && code >= 100 && code <= 999 {
				w.WriteHeader(code)
			}
		}
		io.WriteString(w, body)
	})
}

func echo(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// notifyReady sends READY=1 to the service manager (sd_notify(3)) when NOTIFY_SOCKET is set.
func notifyReady() {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write([]byte("READY=1"))
}
