# render: benchmark of `mooring render` (cold and cache hit) against
# `kubectl kustomize` on the generated 1,204-object repository, in one run.
# kubectl is the v1.37.2 one built into $(ASSETS) when present, else the one on
# PATH.
.PHONY: bench-render
bench: bench-render
BENCH_RENDER_ROUNDS ?= 5
BENCH_RENDER_KUBECTL = $(if $(wildcard $(ASSETS)/kubectl),$(ASSETS)/kubectl,kubectl)
# Build kubectl only when neither a built one nor one on PATH exists.
bench-render: bin/mooring deps $(if $(or $(wildcard $(ASSETS)/kubectl),$(shell command -v kubectl)),,$(ASSETS)/kubectl)
	$(GO) run ./internal/gen/cmd/benchrender -mooring bin/mooring -kubectl $(BENCH_RENDER_KUBECTL) \
		-dir $(CACHE)/bench/bigrepo -rounds $(BENCH_RENDER_ROUNDS)
