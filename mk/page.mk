# page: the status page (statuspage/). Its browser test needs Debian's
# chromium and axe-core, fetched from the npm registry into .cache; `make
# test` depends on deps-page. bench-page prints the server time and weight
# of the 1,204-object target's page.
.PHONY: deps-page bench-page
AXE_VERSION ?= 4.14.1
AXE_DIR := $(CACHE)/axe-core
export MOORING_AXE := $(AXE_DIR)/axe.min.js
test: deps-page
deps-page: $(AXE_DIR)/axe.min.js
	@dpkg -s chromium >/dev/null 2>&1 || { echo "installing: chromium"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
$(AXE_DIR)/axe.min.js:
	@command -v npm >/dev/null 2>&1 || { echo "installing: npm"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	mkdir -p $(CACHE)/npm $(AXE_DIR)
	cd $(CACHE)/npm && npm pack --silent axe-core@$(AXE_VERSION) > axe-core.pack
	tar -xzf $(CACHE)/npm/$$(tail -n 1 $(CACHE)/npm/axe-core.pack) -C $(AXE_DIR) --strip-components=1 package/axe.min.js package/LICENSE
	touch $@

bench: bench-page
BENCH_PAGE_TIMES ?= 20x
bench-page:
	@$(GO) test -tags $(MOORING_TAGS) -count=1 -run '^$$' -bench '^BenchmarkPage$$' -benchtime $(BENCH_PAGE_TIMES) ./statuspage/ | tee $(CACHE)/bench-page.txt | grep -E '^(Benchmark|status page)'
