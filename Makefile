# lb — build, run, test, benchmark and package.
# `make run` and `make test` are the two commands the README names; both work as root on a
# fresh Debian 12 machine with Go installed.

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
VERSION ?= $(shell cat VERSION 2>/dev/null || echo 0.1.0)
BIN     := bin
LDFLAGS := -s -w -X lb/internal/version.Version=$(VERSION)
export CGO_ENABLED := 0

# Debian packages the tests use: haproxy (wire compatibility of the -x handover),
# systemd-container (end-to-end tests in a real systemd), lintian (package checks),
# iproute2 (ss), dbus (lbctl inside the container), curl, gcc and libc6-dev (the race
# detector needs cgo), chromium (the statistics page in a headless browser), debootstrap (the
# Debian 13 root the end-to-end tests also boot, built once into /var/cache/lb-test, or
# $LB_TEST_CACHE, from the Debian archive apt uses).
TEST_DEBS := haproxy systemd-container lintian iproute2 dbus curl gcc libc6-dev chromium debootstrap
# The benchmark runs the same config under HAProxy: it needs these as well.
BENCH_DEBS := haproxy nginx wrk iperf3 python3 openssl

.PHONY: all build run test test-unit test-e2e bench deb deps bench-deps fuzz soak clean

all: build

# lb is linked with cgo when a C compiler is there (on a machine without gcc, lb is static):
# it then loads OpenSSL's libcrypto.so.3 at run time and has it make the RSA signatures of TLS
# handshakes, four times faster than Go's crypto/rsa (internal/ossl). The netgo and osusergo
# tags keep Go's own DNS resolver and user lookups, as in a static build; PIE, full RELRO and
# a fortified C part are Debian's hardening. internal/lbtest/build.go builds it the same way.
LB_CGO    = $$(command -v gcc >/dev/null 2>&1 && echo 1 || echo 0)
LB_FLAGS := -tags netgo,osusergo -buildmode=pie
LB_EXTLD := -extldflags '-Wl,-z,relro,-z,now'
export CGO_CFLAGS := -O2 -g0 -D_FORTIFY_SOURCE=2

build:
	CGO_ENABLED=$(LB_CGO) $(GO) build -trimpath $(LB_FLAGS) -ldflags "$(LDFLAGS) $(LB_EXTLD)" -o $(BIN)/lb ./cmd/lb
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/lbctl ./cmd/lbctl

# Quick start: two small local servers and lb balancing between them on 127.0.0.1:8080.
run: build
	$(GO) build -o $(BIN)/demo-backend ./internal/lbtest/backend
	./scripts/run-demo.sh $(BIN)

NFPM := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

deps:
	@missing=""; for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
	@command -v nfpm >/dev/null || [ -x "$$($(GO) env GOPATH)/bin/nfpm" ] || $(GO) install $(NFPM)

bench-deps:
	@missing=""; for p in $(BENCH_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

# Every test: unit, integration on loopback (the real lb binary), and end-to-end in a real
# systemd container (needs root).
# Then the whole suite runs again under the race detector: the tests themselves and the lb
# binaries the end-to-end tests build (LB_TEST_RACE=1: lb built with -race; a race it reports
# fails the test that started it). The container tests run once, without it: the systemd they
# drive is the same either way and the race detector would double their time. Last, the proxy
# package once more on its goroutine engine (the event loops serve its tests by default).
RACE_PKGS = $(shell $(GO) list ./... | grep -v /internal/e2e/systemd)
test: deps build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m ./...
	CGO_ENABLED=1 $(GO) vet ./internal/ossl/
	CGO_ENABLED=1 $(GO) test -count=1 ./internal/ossl/ ./internal/tlsconf/
	LB_TEST_RACE=1 CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 25m $(RACE_PKGS)
	LB_TEST_GOROUTINES=1 $(GO) test -count=1 -timeout 10m ./internal/proxy/

test-unit: build
	$(GO) test -count=1 -short ./...

# Every fuzz target for FUZZTIME each (the seed corpora under testdata/fuzz run in make test).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./internal/config/
	$(GO) test -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime $(FUZZTIME) ./internal/rules/
	$(GO) test -run '^$$' -fuzz '^FuzzEval$$' -fuzztime $(FUZZTIME) ./internal/rules/
	$(GO) test -run '^$$' -fuzz '^FuzzCompileLogFormat$$' -fuzztime $(FUZZTIME) ./internal/logs/
	$(GO) test -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(FUZZTIME) ./internal/http1/
	$(GO) test -run '^$$' -fuzz '^FuzzParseResponse$$' -fuzztime $(FUZZTIME) ./internal/http1/
	$(GO) test -run '^$$' -fuzz '^FuzzChunkScanner$$' -fuzztime $(FUZZTIME) ./internal/http1/
	$(GO) test -run '^$$' -fuzz '^FuzzURLParam$$' -fuzztime $(FUZZTIME) ./internal/rules/
	$(GO) test -run '^$$' -fuzz '^FuzzCookie$$' -fuzztime $(FUZZTIME) ./internal/rules/
	$(GO) test -run '^$$' -fuzz '^FuzzCookieHeader$$' -fuzztime $(FUZZTIME) ./internal/proxy/
	$(GO) test -run '^$$' -fuzz '^FuzzExec$$' -fuzztime $(FUZZTIME) ./internal/admin/
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./internal/srvstate/
	$(GO) test -run '^$$' -fuzz '^FuzzProxyHeader$$' -fuzztime $(FUZZTIME) ./internal/proxy/
	$(GO) test -run '^$$' -fuzz '^FuzzParseHello$$' -fuzztime $(FUZZTIME) ./internal/rules/
	$(GO) test -run '^$$' -fuzz '^FuzzCheckReply$$' -fuzztime $(FUZZTIME) ./internal/health/
	$(GO) test -run '^$$' -fuzz '^FuzzFetchSockets$$' -fuzztime $(FUZZTIME) ./internal/listener/

bench: bench-deps build
	./scripts/bench.sh ./$(BIN)/lb $${ROUNDS:-3}

deb: build
	GO=$(GO) ./scripts/deb.sh $(VERSION)

# The soak and fault tests' long variants (TestSoak* with LB_SOAK=1, one package at a time;
# their short variants run in make test), then every fuzz target found in the sources for
# SOAK_FUZZTIME each; prints the rows of the README's "Faults" table that the tests wrote to
# $LB_SOAK_TABLE. Bounded: under 30 minutes on 2 cores.
SOAK_FUZZTIME ?= 20s
SOAK_TABLE    ?= $(CURDIR)/$(BIN)/soak-table.md
SOAK_PKGS     := ./internal/e2e/soak/ ./internal/e2e/systemd/
soak: deps build
	@mkdir -p $(BIN) && rm -f $(SOAK_TABLE) $(BIN)/soak.rc; \
	{ LB_SOAK=1 LB_SOAK_TABLE=$(SOAK_TABLE) $(GO) test -p 1 -count=1 -timeout 28m -v -run '^TestSoak' $(SOAK_PKGS) 2>&1; \
		echo $$? >$(BIN)/soak.rc; } | tee $(BIN)/soak.log | grep --line-buffered -E '^(=== RUN|\s*--- |PASS|FAIL|ok)|row: '; \
	GO=$(GO) FUZZTIME=$(SOAK_FUZZTIME) ./scripts/fuzz-all.sh; fuzzrc=$$?; \
	echo; echo '| fault | load | what happened | lost | reproduce |'; echo '|---|---|---|---|---|'; \
	cat $(SOAK_TABLE) 2>/dev/null; \
	echo "soak tests: exit $$(cat $(BIN)/soak.rc) (log in $(BIN)/soak.log); fuzz: exit $$fuzzrc"; \
	test "$$(cat $(BIN)/soak.rc)" = 0 && test $$fuzzrc = 0

clean:
	rm -rf $(BIN) dist
