# etcd: benchmark of `mooring drift etcd` against etcdctl (endpoint health
# --cluster + member list) on one real three-member etcd cluster, healthy and
# with one member stopped, in one run.
.PHONY: bench-etcd
bench: bench-etcd
BENCH_ETCD_ROUNDS ?= 7
bench-etcd: bin/mooring $(ASSETS)/etcdctl
	cd tools/etcd && $(GO) run ./bench -mooring $(CURDIR)/bin/mooring -etcdctl $(ASSETS)/etcdctl -rounds $(BENCH_ETCD_ROUNDS)
