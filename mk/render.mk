# render: benchmark of `mooring render` (cold, and a cache hit) against
# `kubectl kustomize` on the generated repository at 1,204, 2,204, 4,204 and
# 8,204 objects (kubectl up to 4,204), in one run, with each tool's growth
# from the previous size: a Go benchmark beside the code it measures
# (render/bench_cli_test.go). kubectl is the v1.37.2 one built into
# $(ASSETS) when present, else the one on PATH.
.PHONY: bench-render
bench: bench-render
BENCH_RENDER_ROUNDS ?= 3
BENCH_RENDER_SIZES ?= 1204,2204,4204,8204
BENCH_RENDER_KUBECTL_MAX ?= 4204
BENCH_RENDER_KUBECTL = $(if $(wildcard $(ASSETS)/kubectl),$(ASSETS)/kubectl,kubectl)
# Build kubectl only when neither a built one nor one on PATH exists.
bench-render: bin/mooring deps $(if $(or $(wildcard $(ASSETS)/kubectl),$(shell command -v kubectl)),,$(ASSETS)/kubectl)
	MOORING_BIN=$(CURDIR)/bin/mooring MOORING_BENCH_KUBECTL=$(BENCH_RENDER_KUBECTL) \
	MOORING_BENCH_ROUNDS=$(BENCH_RENDER_ROUNDS) MOORING_BENCH_SIZES=$(BENCH_RENDER_SIZES) \
	MOORING_BENCH_KUBECTL_MAX=$(BENCH_RENDER_KUBECTL_MAX) \
	$(GO) test -tags $(MOORING_TAGS) -count=1 -run '^$$' -bench '^BenchmarkRenderVsKubectl$$' -benchtime 1x -timeout 120m ./render/
