# VIP failover benchmark: mooring's agent against keepalived, side by side in
# one run, in network namespaces (needs root). keepalived is Debian's package,
# installed here if missing, and curl for its track_script on /readyz.
.PHONY: bench-vip keepalived
VIP_BENCH_TRIALS ?= 10

keepalived:
	@missing=""; for p in keepalived curl; do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

## bench-vip: time from the owner's fault (link cut, graceful stop, agent SIGKILL, local API server stopped) to the new owner's first ARP reply.
bench-vip: deps keepalived $(ASSETS)/etcd $(ASSETS)/etcdctl $(ASSETS)/kube-apiserver
	MOORING_BENCH_TRIALS=$(VIP_BENCH_TRIALS) $(GO) test -tags $(MOORING_TAGS) -count=1 -run '^$$' -bench '^BenchmarkFailover$$' -benchtime 1x -timeout 60m ./vip/
