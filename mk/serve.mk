# serve: push → applied (webhook and poll), PR → preview comment, idle cost
# (examples-repo and the generated 1,204 objects), and the cost of an unchanged
# commit, mooring serve beside `git fetch && kubectl kustomize | kubectl
# apply --server-side`, on a real API server, Gitea and git smart HTTP.
.PHONY: bench-serve
bench: bench-serve
bench-serve: deps bin/mooring $(ASSETS)/kube-apiserver $(ASSETS)/kubectl $(ASSETS)/etcd $(ASSETS)/gitea
	MOORING_BIN=$(CURDIR)/bin/mooring $(GO) test -tags $(MOORING_TAGS) -count=1 -run '^$$' -bench '^BenchmarkServe$$' -benchtime 1x -timeout 20m ./reconciler/serve/
