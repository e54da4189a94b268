# mooring's build. `make demo` and `make test` are the two commands a user
# needs; both install or build everything they use (Go modules, the test
# components under tools/, Debian packages).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
export GOFLAGS := -buildvcs=false
export GOTOOLCHAIN := local

CACHE  := $(CURDIR)/.cache
ASSETS := $(CACHE)/assets
TOOLBIN := $(CACHE)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# Tests find the binaries that tools/ builds here (envtest reads
# KUBEBUILDER_ASSETS; mooring's own test helpers read MOORING_ASSETS).
export KUBEBUILDER_ASSETS := $(ASSETS)
export MOORING_ASSETS := $(ASSETS)

KUBE_VERSION := v1.37.2
KUBE_LDFLAGS := -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION)

TEST_TIMEOUT ?= 30m

.PHONY: all build test test-unit lint generate demo bench bench-vip assets deps clean
all: build

build: bin/mooring

# kustomize_disable_go_plugin_support drops Go plugin loading, which mooring
# refuses anyway (kubectl builds the same way): without the "plugin" package
# the linker does not export every symbol, and mooring starts in 30 MB less.
MOORING_TAGS := kustomize_disable_go_plugin_support

# A static binary (no cgo, as kubectl and kube-vip ship): it runs on any
# node, and skips the dynamic loader, which costs every start 2-3 ms.
bin/mooring: FORCE
	CGO_ENABLED=0 $(GO) build -tags $(MOORING_TAGS) -ldflags "-X main.version=$(VERSION)" -o $@ ./cmd/mooring
FORCE:

## deps: Debian packages the tests and benchmarks use (installed if missing).
DEB_PKGS := git iproute2
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

## assets: the real test components, built once from the Go module proxy.
assets: $(ASSETS)/kube-apiserver $(ASSETS)/kubectl $(ASSETS)/etcd $(ASSETS)/etcdctl $(ASSETS)/gitea

$(ASSETS)/kube-apiserver: tools/kube/go.mod tools/kube/go.sum
	cd tools/kube && $(GO) build -trimpath -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kube-apiserver
$(ASSETS)/kubectl: tools/kube/go.mod tools/kube/go.sum
	cd tools/kube && $(GO) build -trimpath -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kubectl
$(ASSETS)/etcd: tools/etcd/go.mod tools/etcd/go.sum tools/etcd/etcd/main.go
	cd tools/etcd && $(GO) build -trimpath -o $@ ./etcd
$(ASSETS)/etcdctl: tools/etcd/go.mod tools/etcd/go.sum tools/etcd/etcdctl/main.go
	cd tools/etcd && $(GO) build -trimpath -o $@ ./etcdctl
$(ASSETS)/gitea: tools/gitea/go.mod tools/gitea/go.sum
	cd tools/gitea && $(GO) build -trimpath -tags 'sqlite sqlite_unlock_notify' -o $@ code.gitea.io/gitea
	cd tools/gitea && $(GO) list -m -f '{{.Dir}}' code.gitea.io/gitea > $(ASSETS)/gitea.root

## test: every test, against real components (needs root for namespaces).
test: deps assets
	$(GO) test -tags $(MOORING_TAGS) -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-unit: the pure packages only, no components needed.
test-unit:
	$(GO) test -count=1 ./finding/... ./render/...

## lint: gofmt, go vet, staticcheck.
STATICCHECK := $(TOOLBIN)/staticcheck
$(STATICCHECK):
	GOBIN=$(TOOLBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## generate: deepcopy and CRD YAML of api/v1alpha1 (controller-gen).
CONTROLLER_GEN := $(TOOLBIN)/controller-gen
$(CONTROLLER_GEN):
	GOBIN=$(TOOLBIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0
generate: $(CONTROLLER_GEN)
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=api/v1alpha1/crd
	for f in api/v1alpha1/crd/*.yaml; do b=$$(basename $$f); k=$$(sed -n 's/^    kind: //p' $$f); \
	  { echo "# mooring's $$k CRD ($$f, from \`make generate\`), copied unchanged."; cat $$f; } > examples-repo/base/crds/$$b; done

## demo: mooring's whole job on the built-in example, on one machine; no
## docker, no cluster. It builds what it runs (mooring, and etcd,
## kube-apiserver and Gitea from the Go module proxy), one progress line and
## time per component; a second run reuses them.
DEMO_BUILDS := bin/mooring $(ASSETS)/etcd $(ASSETS)/kube-apiserver $(ASSETS)/gitea
DEMO_ARGS ?=
demo: deps
	@echo "make demo: building mooring, etcd, kube-apiserver and Gitea (cold, on 2 cores: about 10 minutes; later runs reuse them)"
	@mkdir -p $(CACHE)/logs; for t in $(DEMO_BUILDS); do \
	  name=$$(basename $$t); log=$(CACHE)/logs/build-$$name.log; \
	  if [ $$t != bin/mooring ] && $(MAKE) -s -q $$t 2>/dev/null; then printf '  %-15s up to date\n' $$name; continue; fi; \
	  printf '  %-15s building ...\n' $$name; start=$$(date +%s%N); \
	  if ! $(MAKE) -s --no-print-directory $$t >$$log 2>&1; then echo "  $$name: build failed; the end of $$log:"; tail -20 $$log; exit 1; fi; \
	  awk -v n=$$name -v s=$$start -v e=$$(date +%s%N) 'BEGIN { printf "  %-15s built in %.1fs\n", n, (e - s) / 1e9 }'; \
	done
	bin/mooring demo --assets $(ASSETS) $(DEMO_ARGS)

clean:
	rm -rf bin

# Per-area targets (benchmarks, demo steps) live in mk/.
-include mk/*.mk
