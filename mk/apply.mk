# apply: benchmark of mooring apply / live diff against kubectl on the
# generated 1,204-object repository, each tool on fresh envtest API servers.
.PHONY: bench-apply
bench: bench-apply
BENCH_APPLY_ROUNDS ?= 3
bench-apply: bin/mooring $(ASSETS)/kube-apiserver $(ASSETS)/kubectl $(ASSETS)/etcd
	$(GO) run ./apply/bench -mooring bin/mooring -kubectl $(ASSETS)/kubectl -rounds $(BENCH_APPLY_ROUNDS)
