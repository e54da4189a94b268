# apply: benchmark of mooring apply / live diff / drift against kubectl on
# the generated 1,204-object repository, each tool on fresh envtest API
# servers: a Go benchmark beside the code it measures (apply/bench_test.go).
.PHONY: bench-apply
bench: bench-apply
BENCH_APPLY_ROUNDS ?= 3
bench-apply: bin/mooring $(ASSETS)/kube-apiserver $(ASSETS)/kubectl $(ASSETS)/etcd
	MOORING_BIN=$(CURDIR)/bin/mooring MOORING_BENCH_ROUNDS=$(BENCH_APPLY_ROUNDS) \
	$(GO) test -tags $(MOORING_TAGS) -count=1 -run '^$$' -bench '^BenchmarkApplyVsKubectl$$' -benchtime 1x -timeout 60m ./apply/
