# VIP failover benchmark: mooring's agent against keepalived, side by side in
# one run, in network namespaces (needs root). keepalived is Debian's package,
# installed here if missing.
.PHONY: bench-vip keepalived
VIP_BENCH_TRIALS ?= 10

keepalived:
	@command -v keepalived >/dev/null 2>&1 || { echo "installing: keepalived"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq keepalived; }

## bench-vip: time from the owner's fault (link cut, graceful stop) to the new owner's first ARP reply.
bench-vip: deps keepalived $(ASSETS)/etcd $(ASSETS)/etcdctl
	MOORING_BENCH_TRIALS=$(VIP_BENCH_TRIALS) $(GO) test -count=1 -run '^$$' -bench '^BenchmarkFailover$$' -benchtime 1x -timeout 30m ./vip/
