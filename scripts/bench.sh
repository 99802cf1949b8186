#!/bin/bash
# make bench: lb against HAProxy on loopback, same configuration, same run, rounds alternated
# (HAProxy, lb, HAProxy, lb …) so that machine drift hits both; prints medians and ratios.
#   scripts/bench.sh LB_BINARY [ROUNDS]        DUR=seconds per measurement (default 5)
# Needs haproxy, nginx, wrk, iperf3, python3 (make bench installs them) and root for ulimit.
# Each measurement runs at nbthread 1 and at nbthread 2 (NBTHREADS="1 2"), for both proxies.
# SETS="tcp http tls" chooses what is measured (tcp and http by default).
# In mode tcp:
#   tcp_keepalive_rps  wrk -t1 -c64 keep-alive through a `mode tcp` frontend to 2 nginx
#   tcp_close_rps      the same with a new connection per request
#   tcp_p99_ms         99th percentile latency of the keep-alive run
#   bulk_gbit          iperf3 through a `mode tcp` listen
#   rss_2000_idle_kib  proxy RSS with 2000 idle client connections open
#   acl20_close_rps    tcp_close_rps through a frontend that evaluates 20 ACL rules per
#                      connection (tcp-request connection rules and use_backend conditions)
#   keepalive_cpu_us   the proxy's CPU time (user + system) per request in the keep-alive run,
#   close_cpu_us       and in the connection-per-request run: lower is better. The load
#                      generator, the servers and the proxy share the machine's CPUs, so the
#                      request rates also depend on what the other two get.
# In mode http (a `mode http` frontend to the same 2 nginx, default keep-alive both sides):
#   http_keepalive_rps, http_close_rps, http_p99_ms   as their tcp_ counterparts
#   http_rss_2000_idle_kib  RSS with 2000 keep-alive clients idle after one request each
#   http_rules_rps     keep-alive through a frontend with 10 ACLs and 10 header rules
#                      evaluated per request
#   http_keepalive_cpu_us, http_close_cpu_us   the proxy's CPU time per request, as above
# In TLS (SETS=tls: `mode http` frontends with `bind … ssl crt`, to the same nginx in clear),
# each as the proxy's CPU time per request (wrk's one thread is often the limit here, so
# the request rate alone hides the difference), lower is better:
#   tls_full_ecdsa_cpu_us  a new connection and a full handshake per request, ECDSA P-256
#                          certificate, no session tickets nor cache (`no-tls-tickets`, and
#                          `tune.ssl.cachesize 0`: wrk resumes sessions otherwise)
#   tls_full_rsa_cpu_us    the same with an RSA-2048 certificate
#   tls_resumed_cpu_us     a new connection per request, resumed by session ticket
#   tls_keepalive_rps, tls_keepalive_cpu_us   keep-alive requests over TLS
#   tls_bulk_mbyte_s, tls_bulk_cpu_us_mb      wrk -c8 fetching a 1 MiB file over TLS
#                          keep-alive: throughput, and CPU per MiB
set -u
LB=$(readlink -f "${1:?usage: bench.sh LB_BINARY [ROUNDS]}")
ROUNDS=${2:-3}
DUR=${DUR:-5}
for t in haproxy nginx wrk iperf3 python3 openssl; do
	command -v $t >/dev/null || { echo "missing $t: apt-get install -y haproxy nginx wrk iperf3 python3 openssl"; exit 2; }
done
W=$(mktemp -d)
chmod 755 "$W"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT

# Ports: one block above 20000 chosen from this script's pid, so that two runs do not collide.
B=$((20000 + ($$ % 400) * 10))
P_NG1=$B P_NG2=$((B + 1)) P_IPERF=$((B + 2)) P_TCP=$((B + 3)) P_BULK=$((B + 4)) P_ACL=$((B + 5))
P_HTTP=$((B + 6)) P_HRULES=$((B + 7))
P_TLSE=$((B + 8)) P_TLSEF=$((B + 9)) P_TLSRF=$((B + 10))
SETS=${SETS:-tcp http}

mkdir -p "$W/www"
head -c 64 /dev/zero | tr '\0' x >"$W/www/small"
head -c 1048576 /dev/urandom >"$W/www/big"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ec.key" -out "$W/ec.crt" \
	-days 2 -subj /CN=bench.test 2>/dev/null && cat "$W/ec.crt" "$W/ec.key" >"$W/ec.pem"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/rsa.key" -out "$W/rsa.crt" \
	-days 2 -subj /CN=bench.test 2>/dev/null && cat "$W/rsa.crt" "$W/rsa.key" >"$W/rsa.pem"
cat >"$W/nginx.conf" <<EOF
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$P_NG1 backlog=4096; root $W/www; }
  server { listen 127.0.0.1:$P_NG2 backlog=4096; root $W/www; } }
EOF
nginx -c "$W/nginx.conf" -g 'daemon off;' &
PIDS+=($!)
iperf3 -s -p $P_IPERF >/dev/null 2>&1 &
PIDS+=($!)

for nbt in ${NBTHREADS:-1 2}; do
cat >"$W/bench$nbt.cfg" <<EOF
global
    maxconn 4000
    nbthread $nbt
defaults
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend tcp_in
    mode tcp
    bind 127.0.0.1:$P_TCP
    default_backend tcp_out
backend tcp_out
    mode tcp
    balance roundrobin
    server a 127.0.0.1:$P_NG1
    server b 127.0.0.1:$P_NG2
listen bulk
    mode tcp
    bind 127.0.0.1:$P_BULK
    server i 127.0.0.1:$P_IPERF
backend nowhere
    mode tcp
    server z 127.0.0.1:9
frontend tcp_acl
    mode tcp
    bind 127.0.0.1:$P_ACL
$(for i in $(seq 1 10); do echo "    tcp-request connection reject if { src 10.$i.0.0/16 }"; done)
$(for i in $(seq 1 5); do echo "    tcp-request connection reject if { dst_port $((1000 + i)) }"; done)
    acl from_lan src 192.168.0.0/16 172.16.0.0/12
    tcp-request connection reject if from_lan !{ src_port 0:1023 }
$(for i in $(seq 1 3); do echo "    use_backend nowhere if { src 192.0.2.$i }"; done)
    use_backend tcp_out if { dst_port $P_ACL }
    default_backend nowhere
frontend http_in
    mode http
    bind 127.0.0.1:$P_HTTP
    default_backend http_out
backend http_out
    mode http
    balance roundrobin
    server a 127.0.0.1:$P_NG1
    server b 127.0.0.1:$P_NG2
frontend http_rules
    mode http
    bind 127.0.0.1:$P_HRULES
$(for i in $(seq 1 5); do echo "    acl blocked$i path_beg /admin$i"; done)
$(for i in $(seq 1 5); do echo "    acl badhost$i hdr(host) -i evil$i.example"; done)
$(for i in $(seq 1 5); do echo "    http-request deny if blocked$i || badhost$i"; done)
$(for i in $(seq 1 5); do echo "    http-request set-header X-Bench-$i value$i"; done)
    http-request del-header X-Unused
    http-request add-header X-Forwarded-Proto http
    http-request set-header X-Client %[src]
    http-request del-header X-Bench-5
    http-request add-header X-Via lb
    default_backend http_out
frontend tls_ecdsa
    mode http
    bind 127.0.0.1:$P_TLSE ssl crt $W/ec.pem
    default_backend http_out
frontend tls_ecdsa_full
    mode http
    bind 127.0.0.1:$P_TLSEF ssl crt $W/ec.pem no-tls-tickets
    default_backend http_out
frontend tls_rsa_full
    mode http
    bind 127.0.0.1:$P_TLSRF ssl crt $W/rsa.pem no-tls-tickets
    default_backend http_out
EOF
# Both keep a session cache that resumes the "no-tls-tickets" binds: off, so that "full" is full.
sed -i 's/^    maxconn 4000$/    maxconn 4000\n    tune.ssl.cachesize 0/' "$W/bench$nbt.cfg"
done
ulimit -n 20000 2>/dev/null

wait_port() { # until something accepts on 127.0.0.1:$1 (5 s at most)
	for _ in $(seq 100); do
		python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
rps() { wrk -t1 -c64 -d"${DUR}s" "$@" 2>/dev/null | awk '/Requests\/sec/{print $2}'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system CPU time, in clock ticks
# rps_cpu PID ARGS…: the request rate, then the proxy's CPU microseconds per request.
rps_cpu() {
	local pid=$1 t0 t1 out
	shift
	t0=$(ticks "$pid")
	out=$(wrk -t1 -c64 -d"${DUR}s" "$@" 2>/dev/null)
	t1=$(ticks "$pid")
	echo "$out" | awk -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" '
		/requests in/{n=$1} /Requests\/sec/{r=$2}
		END{printf "%s %.1f\n", r, (n > 0 ? (t1-t0)*1e6/hz/n : 0)}'
}
# bulk_tls PID URL: MiB/s fetching URL (1 MiB) with 8 keep-alive connections, then the
# proxy's CPU microseconds per MiB.
bulk_tls() {
	local pid=$1 t0 t1 out
	t0=$(ticks "$pid")
	out=$(wrk -t1 -c8 -d"${DUR}s" "$2" 2>/dev/null)
	t1=$(ticks "$pid")
	echo "$out" | awk -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" -v d="$DUR" '
		/requests in/{n=$1}
		END{printf "%.1f %.1f\n", n/d, (n > 0 ? (t1-t0)*1e6/hz/n : 0)}'
}
p99() {
	wrk -t1 -c64 -d"${DUR}s" --latency "$@" 2>/dev/null | awk '$1=="99%"{v=$2;
		if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}
		print v}'
}
gbit() { iperf3 -c 127.0.0.1 -p $P_BULK -t "$DUR" -f g 2>/dev/null | awk '/receiver/{print $7}'; }
rss_idle() { # PID PORT [http]: 2000 idle connections (after one request each with http)
	python3 - "$1" "$2" "${3:-}" <<'PY'
import socket, sys, time
pid, port, http = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "http"
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(2000)]
if http:
    for c in conns:
        c.sendall(b"GET /small HTTP/1.1\r\nHost: bench\r\n\r\n")
    for c in conns:
        got = b""
        while not got.endswith(b"x" * 64):
            got += c.recv(4096)
time.sleep(1.5)
print(next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")))
PY
}

declare -A R
measure() { # label nbthread set command…: one proxy process per set, so that one set's
	# memory (RSS is measured) does not carry over into the other's
	local label=$1 nbt=$2 set=$3
	shift 3
	local cfg="$W/bench$nbt.cfg"
	"$@" -db -f "$cfg" >"$W/$label.log" 2>&1 &
	local pid=$!
	if ! wait_port $P_TCP || ! kill -0 $pid 2>/dev/null; then
		echo "$label did not start: $(tail -3 "$W/$label.log")"
		kill $pid 2>/dev/null
		return 1
	fi
	local v
	if [ "$set" = tls ]; then
		read -r -a v < <(rps_cpu $pid -H 'Connection: close' https://127.0.0.1:$P_TLSEF/small)
		R[$label,$nbt,tls_full_ecdsa_rps]+="${v[0]} "
		R[$label,$nbt,tls_full_ecdsa_cpu_us]+="${v[1]} "
		read -r -a v < <(rps_cpu $pid -H 'Connection: close' https://127.0.0.1:$P_TLSRF/small)
		R[$label,$nbt,tls_full_rsa_rps]+="${v[0]} "
		R[$label,$nbt,tls_full_rsa_cpu_us]+="${v[1]} "
		read -r -a v < <(rps_cpu $pid -H 'Connection: close' https://127.0.0.1:$P_TLSE/small)
		R[$label,$nbt,tls_resumed_rps]+="${v[0]} "
		R[$label,$nbt,tls_resumed_cpu_us]+="${v[1]} "
		read -r -a v < <(rps_cpu $pid https://127.0.0.1:$P_TLSE/small)
		R[$label,$nbt,tls_keepalive_rps]+="${v[0]} "
		R[$label,$nbt,tls_keepalive_cpu_us]+="${v[1]} "
		read -r -a v < <(bulk_tls $pid https://127.0.0.1:$P_TLSE/big)
		R[$label,$nbt,tls_bulk_mbyte_s]+="${v[0]} "
		R[$label,$nbt,tls_bulk_cpu_us_mb]+="${v[1]} "
	elif [ "$set" = http ]; then
		read -r -a v < <(rps_cpu $pid http://127.0.0.1:$P_HTTP/small)
		R[$label,$nbt,http_keepalive_rps]+="${v[0]} "
		R[$label,$nbt,http_keepalive_cpu_us]+="${v[1]} "
		read -r -a v < <(rps_cpu $pid -H 'Connection: close' http://127.0.0.1:$P_HTTP/small)
		R[$label,$nbt,http_close_rps]+="${v[0]} "
		R[$label,$nbt,http_close_cpu_us]+="${v[1]} "
		R[$label,$nbt,http_p99_ms]+="$(p99 http://127.0.0.1:$P_HTTP/small) "
		R[$label,$nbt,http_rss_2000_idle_kib]+="$(rss_idle $pid $P_HTTP http) "
		R[$label,$nbt,http_rules_rps]+="$(rps http://127.0.0.1:$P_HRULES/small) "
	else
		read -r -a v < <(rps_cpu $pid http://127.0.0.1:$P_TCP/small)
		R[$label,$nbt,tcp_keepalive_rps]+="${v[0]} "
		R[$label,$nbt,keepalive_cpu_us]+="${v[1]} "
		read -r -a v < <(rps_cpu $pid -H 'Connection: close' http://127.0.0.1:$P_TCP/small)
		R[$label,$nbt,tcp_close_rps]+="${v[0]} "
		R[$label,$nbt,close_cpu_us]+="${v[1]} "
		R[$label,$nbt,tcp_p99_ms]+="$(p99 http://127.0.0.1:$P_TCP/small) "
		R[$label,$nbt,bulk_gbit]+="$(gbit) "
		R[$label,$nbt,rss_2000_idle_kib]+="$(rss_idle $pid $P_TCP) "
		R[$label,$nbt,acl20_close_rps]+="$(rps -H 'Connection: close' http://127.0.0.1:$P_ACL/small) "
	fi
	kill $pid
	wait $pid 2>/dev/null
}

wait_port $P_NG1 && wait_port $P_NG2 || { echo "nginx did not start"; exit 1; }
for r in $(seq "$ROUNDS"); do
	for nbt in ${NBTHREADS:-1 2}; do
		for set in $SETS; do
			measure haproxy "$nbt" "$set" haproxy
			measure lb "$nbt" "$set" "$LB"
		done
	done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
echo "lb vs HAProxy $(haproxy -v | awk 'NR==1{print $3}'), $ROUNDS alternated rounds of ${DUR}s, medians"
for nbt in ${NBTHREADS:-1 2}; do
	echo "nbthread $nbt"
	printf "%-20s %12s %12s %8s\n" metric haproxy lb ratio
	for m in tcp_keepalive_rps tcp_close_rps tcp_p99_ms bulk_gbit rss_2000_idle_kib acl20_close_rps keepalive_cpu_us close_cpu_us \
		http_keepalive_rps http_close_rps http_p99_ms http_rss_2000_idle_kib http_rules_rps http_keepalive_cpu_us http_close_cpu_us \
		tls_full_ecdsa_rps tls_full_ecdsa_cpu_us tls_full_rsa_rps tls_full_rsa_cpu_us tls_resumed_rps tls_resumed_cpu_us \
		tls_keepalive_rps tls_keepalive_cpu_us tls_bulk_mbyte_s tls_bulk_cpu_us_mb; do
		[ -n "${R[haproxy,$nbt,$m]:-}${R[lb,$nbt,$m]:-}" ] || continue
		a=$(echo "${R[haproxy,$nbt,$m]:-}" | median)
		b=$(echo "${R[lb,$nbt,$m]:-}" | median)
		ratio=$(awk -v a="$a" -v b="$b" 'BEGIN{ if (a+0 > 0 && b != "nan") printf "%.2f", b/a; else print "nan" }')
		printf "%-20s %12s %12s %8s   (haproxy: %s; lb: %s)\n" "$m" "$a" "$b" "$ratio" "${R[haproxy,$nbt,$m]:-}" "${R[lb,$nbt,$m]:-}"
	done
done
