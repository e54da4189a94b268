# sources: an up-to-date fetch through the real git smart-HTTP server,
# mooring's cache against `git fetch` into a bare clone, in one run.
.PHONY: bench-sources
bench: bench-sources
BENCH_SOURCES_TIME ?= 30x
bench-sources: deps
	@$(GO) test -count=1 -run '^$$' -bench 'BenchmarkFetchUpToDate' -benchtime $(BENCH_SOURCES_TIME) ./sources/ | tee /dev/stderr | \
	awk '/FetchUpToDate\/mooring/ {m=$$3} /FetchUpToDate\/git-cli/ {g=$$3} \
	END { if (m && g) printf "up-to-date fetch: mooring %.1f ms, git fetch %.1f ms, ratio %.2f\n", m/1e6, g/1e6, m/g; else { print "benchmark did not run"; exit 1 } }'
