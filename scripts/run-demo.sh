#!/bin/bash
# Quick start: two demo backends and lb in the foreground on testdata/quickstart.cfg.
# Ctrl-C stops everything.
set -eu
BIN=${1:-bin}
mkdir -p /tmp/lb-demo
"$BIN/demo-backend" -name app1 -http 127.0.0.1:9001 >/tmp/lb-demo/app1.log 2>&1 &
A=$!
"$BIN/demo-backend" -name app2 -http 127.0.0.1:9002 >/tmp/lb-demo/app2.log 2>&1 &
B=$!
trap 'kill $A $B 2>/dev/null; wait $A $B 2>/dev/null' EXIT
echo "lb on http://127.0.0.1:8080/ (balancing app1 and app2); Ctrl-C to stop"
"$BIN/lb" -db -f testdata/quickstart.cfg
