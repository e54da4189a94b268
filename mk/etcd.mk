# etcd: benchmark of `mooring drift etcd` against etcdctl (endpoint health
# --cluster + member list) on one real three-member etcd cluster, healthy and
# with one member stopped, in one run: a Go benchmark beside the code it
# measures (drift/etcd/bench_test.go).
.PHONY: bench-etcd
bench: bench-etcd
BENCH_ETCD_ROUNDS ?= 7
bench-etcd: bin/mooring $(ASSETS)/etcdctl
	MOORING_BIN=$(CURDIR)/bin/mooring MOORING_BENCH_ROUNDS=$(BENCH_ETCD_ROUNDS) \
	$(GO) test -tags $(MOORING_TAGS) -count=1 -run '^$$' -bench '^BenchmarkDriftEtcdVsEtcdctl$$' -benchtime 1x -timeout 30m ./drift/etcd/
