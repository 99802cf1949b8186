// Command lb is a load balancer that reads HAProxy's configuration language and follows
// HAProxy's process lifecycle, native to systemd. See lb(8).
package main

import (
	"os"

	"lb/internal/lifecycle"
)

func main() {
	os.Exit(lifecycle.Main(os.Args[1:]))
}
