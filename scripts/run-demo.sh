#!/bin/bash
# Quick start: two demo backends and lb in the foreground on testdata/quickstart.cfg.
# Ctrl-C stops everything.
set -eu
BIN=${1:-bin}
mkdir -p /tmp/lb-demo
rm -f /tmp/lb-demo/app1.ready /tmp/lb-demo/app2.ready
"$BIN/demo-backend" -name app1 -http 127.0.0.1:9001 -ready /tmp/lb-demo/app1.ready >/tmp/lb-demo/app1.log 2>&1 &
A=$!
"$BIN/demo-backend" -name app2 -http 127.0.0.1:9002 -ready /tmp/lb-demo/app2.ready >/tmp/lb-demo/app2.log 2>&1 &
B=$!
trap 'kill $A $B 2>/dev/null; wait $A $B 2>/dev/null' EXIT
# The servers say when they listen: wait for that (5 s at most) so the first checks pass.
for _ in $(seq 100); do
	[ -e /tmp/lb-demo/app1.ready ] && [ -e /tmp/lb-demo/app2.ready ] && break
	kill -0 $A $B 2>/dev/null || { echo "a demo server failed:"; cat /tmp/lb-demo/app*.log; exit 1; }
	sleep 0.05
done
echo "lb on http://127.0.0.1:8080/ (balancing app1 and app2); Ctrl-C to stop"
"$BIN/lb" -db -f testdata/quickstart.cfg
