## bench-forge: commit status round trip through a real Gitea, mooring's
## client beside a hand-written HTTP POST (the anchor), same run.
.PHONY: bench-forge test-forge
bench: bench-forge
bench-forge: $(ASSETS)/gitea
	$(GO) test -count=1 -run '^$$' -bench 'StatusRoundTrip' -benchtime 50x ./forge/gitea/ | tee $(CACHE)/bench-forge.txt
	@awk '/StatusRoundTrip\/mooring/ {m=$$3} /StatusRoundTrip\/anchor/ {a=$$3} END {if (a>0) printf "status round trip: mooring %.2f ms, anchor %.2f ms, ratio %.2f\n", m/1e6, a/1e6, m/a}' $(CACHE)/bench-forge.txt

## test-forge: the forge packages and mooring report, against real Gitea and git smart HTTP.
test-forge: deps $(ASSETS)/gitea
	$(GO) test -count=1 ./forge/... && $(GO) test -count=1 -run TestReport ./cmd/mooring/
