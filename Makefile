# kuryr-go
SHELL := /bin/bash
GO ?= go
BIN ?= bin
TESTBED := hack/testbed.sh
GOTEST_FLAGS ?= -count=1

.PHONY: all build test test-unit test-integration test-e2e test-e2e-hybrid test-e2e-pools test-all generate verify-generated \
	testbed-up testbed-down testbed-status quickstart fmt vet lint bench clean

all: build

## build: the controller, node daemon, CNI plugin and kuryrctl into ./bin
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

## test: the fast unit suite (no root, no testbed)
test test-unit:
	$(GO) test $(GOTEST_FLAGS) ./...

## test-integration: suites against the real testbed (brings it up if needed; root)
test-integration: build
	$(TESTBED) up
	$(TESTBED) kuryr-stop   # the controller tests run their own controller
	$(TESTBED) exec $(GO) test $(GOTEST_FLAGS) -tags integration -timeout 30m ./test/testbed/... ./test/integration/...

## test-e2e: end-to-end suites with the real kubelet (brings the testbed up if needed; root)
test-e2e: build
	$(TESTBED) up
	$(TESTBED) kuryr-start
	$(TESTBED) exec $(GO) test $(GOTEST_FLAGS) -tags e2e -timeout 30m ./test/e2e/...

## test-e2e-hybrid: the hybrid (qbr/qvb/qvo) plug with the OVS agent's iptables_hybrid firewall;
## switches the testbed's agent to it and back
test-e2e-hybrid: build
	TB_FIREWALL=iptables_hybrid $(TESTBED) up
	$(TESTBED) kuryr-start
	rc=0; $(TESTBED) exec $(GO) test $(GOTEST_FLAGS) -tags e2e -timeout 10m -run TestHybridPlug -v ./test/e2e/... || rc=$$?; \
	  TB_FIREWALL=openvswitch $(TESTBED) up >/dev/null; exit $$rc

## test-all: unit, integration and end-to-end suites (what CI runs)
# test-e2e-pools: the controller with port pools; the node daemon plugs free ports ahead.
POOLS_CONF := /var/lib/kuryr-testbed/etc/kuryr-e2e-pools.conf
test-e2e-pools: build
	$(TESTBED) up
	sed -e 's/^\[kubernetes\]$$/[kubernetes]\nvif_pool_driver = neutron/' /var/lib/kuryr-testbed/etc/kuryr.conf >$(POOLS_CONF)
	printf '\n[vif_pool]\nports_pool_min = 3\nports_pool_batch = 3\nports_pool_update_frequency = 2\n' >>$(POOLS_CONF)
	$(TESTBED) kuryr-start $(POOLS_CONF)
	rc=0; KURYR_E2E_POOLS=1 $(TESTBED) exec $(GO) test $(GOTEST_FLAGS) -tags e2e -timeout 10m -run TestPools -v ./test/e2e/... || rc=$$?; \
	  $(TESTBED) kuryr-stop; $(TESTBED) exec $(BIN)/kuryrctl --config $(POOLS_CONF) pools drain --any-status; \
	  $(TESTBED) kuryr-start >/dev/null; exit $$rc

test-all: test-unit test-integration test-e2e test-e2e-hybrid test-e2e-pools

## generate: deepcopy code and CRD manifests from api/ (with the os-vif form of a KuryrPort VIF)
generate:
	$(GO) tool controller-gen object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(GO) tool controller-gen crd:crdVersions=v1 paths=./api/... output:crd:dir=deploy/crds
	$(GO) run ./hack/crdschema deploy/crds/openstack.org_kuryrports.yaml

verify-generated: generate
	@git diff --exit-code -- api deploy/crds || { echo "generated files are stale: run make generate"; exit 1; }

testbed-up:
	$(TESTBED) up
testbed-down:
	$(TESTBED) down
testbed-status:
	$(TESTBED) status

## quickstart: the seed scenario on the all-in-one testbed
quickstart:
	hack/quickstart.sh

## bench: pod bursts (bridge floor, raw Neutron, kuryr-go) on the testbed; N pods (default 50)
N ?= 50
bench:
	hack/bench.sh -n $(N)

fmt:
	gofmt -l -w $$(git ls-files '*.go')
vet:
	$(GO) vet ./...
	$(GO) vet -tags integration ./test/...
	$(GO) vet -tags e2e ./test/...

## lint: golangci-lint (.golangci.yml) at a pinned version, installed under ./bin on first use
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...
$(GOLANGCI_LINT):
	GOBIN=$(abspath $(dir $@)) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

clean:
	rm -rf $(BIN)
