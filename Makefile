# klagx — see README.md. `make demo` and `make test` are the two commands a
# fresh machine needs; everything else is for development.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The revision is passed explicitly because Go's own VCS stamping is off in
# some setups (GOFLAGS=-buildvcs=false, git worktrees, source tarballs).
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)
BIN      := bin/klagx
PKGS     := ./...
BENCH_SIZES ?= 10k,100k
SOAK     ?= 10m
GOVULNDB ?= https://vuln.go.dev
# staticcheck: the installed binary (.ci/run installs this version), else
# built from the module proxy.
STATICCHECK_VERSION := v0.8.2
STATICCHECK ?= $(if $(shell command -v staticcheck 2>/dev/null),staticcheck,$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION))

# Kafka for the conformance suite and `make kafka`: empty means the default
# pinned in e2e/kafka/pom.xml (and internal/realkafka.DefaultVersion).
KLAGX_KAFKA_VERSION ?=
MVN      ?= mvn
# The packages that start real Kafka brokers (JVMs). make test runs them
# after the others, so that their CPU use does not disturb the timing of the
# kfake and end-to-end tests on a 2-core machine.
KAFKA_PKGS := ./internal/realkafka/ ./conformance/

.PHONY: all build install demo test test-short test-kafka kafka kafka-jars kafka-clients e2e helm-test lint vet fmt-check staticcheck generate bench fuzz soak vulncheck clean help

all: lint test build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/klagx with version info
	@test -x $(BIN) || echo 'Building $(BIN): the first build downloads the Go modules and compiles them, about 5 minutes on 2 cores; later builds take seconds.'
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/klagx

install: ## install klagx with version info into $(go env GOBIN), else $(go env GOPATH)/bin (put it on PATH)
	$(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/klagx
	@echo "installed $$(p=$$($(GO) env GOBIN); echo $${p:-$$($(GO) env GOPATH)/bin})/klagx"

demo: build ## run an in-process Kafka cluster with a realistic workload and the exporter against it
	./$(BIN) demo

test: lint ## vet, format check, staticcheck, every test (unit, kfake integration, e2e, generated-file drift) with -race, then the real-Kafka conformance suite, and the Helm chart tests
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list $(PKGS) | grep -v -e /conformance -e /internal/realkafka)
	$(GO) test -race -count=1 -timeout 20m $(KAFKA_PKGS)
	cd helm/test && $(GO) test -count=1 ./...

helm-test: ## the Helm chart tests alone (helm lint, helm template, strict decoding into Kubernetes types)
	cd helm/test && $(GO) test -count=1 -v ./...

e2e: ## the end-to-end suite alone: klagx binary, real Prometheus, Alertmanager, kcat, python3-kafka (make test runs it too)
	$(GO) test -count=1 -v -timeout 10m ./e2e/

kafka-jars: ## copy a real Kafka's jars from Maven Central (via ~/.m2) to ~/.cache/klagx/kafka/VERSION (KLAGX_KAFKA_VERSION=3.9.1 for the older line)
	$(MVN) -q -B -f e2e/kafka/pom.xml dependency:copy-dependencies $(if $(KLAGX_KAFKA_VERSION),-Dkafka.version=$(KLAGX_KAFKA_VERSION))

kafka-clients: ## build the Java clients the conformance suite runs (e2e/kafka/clients: reference consumer, Streams app) against the same Kafka
	$(MVN) -q -B -f e2e/kafka/clients/pom.xml package $(if $(KLAGX_KAFKA_VERSION),-Dkafka.version=$(KLAGX_KAFKA_VERSION))

kafka: kafka-jars ## start a real 3-broker Kafka (KRaft, PLAINTEXT + SASL_SSL/SCRAM) and print how to point klagx at it; Ctrl-C stops it
	$(GO) run ./internal/realkafka/cmd/kafka

test-kafka: kafka-jars kafka-clients ## the conformance suite alone: klagx against a real Kafka cluster and Kafka's own tools (make test runs it too)
	$(GO) test -count=1 -v -timeout 20m $(KAFKA_PKGS)

test-short: ## tests without the race detector and without the soaks (-short), for a quick loop
	$(GO) test -short -count=1 $(PKGS)

lint: vet fmt-check staticcheck ## go vet, gofmt and staticcheck

vet:
	$(GO) vet $(PKGS)
	cd helm/test && $(GO) vet ./...

staticcheck:
	$(STATICCHECK) $(PKGS)
	cd helm/test && $(STATICCHECK) ./...

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

generate: ## regenerate committed artifacts (docs/metrics.md, goldens, alert rules, dashboards)
	$(GO) test ./metrics -run TestDocsInSync -update
	$(GO) test ./promexport -run TestGolden -update
	$(GO) test ./check -run TestGoldenOutputs -update
	$(GO) test ./alerts -run TestCommittedFilesInSync -update
	$(GO) test ./dashboards -run TestGenerated -update
	cp alerts/klagx-rules.yaml helm/klagx/files/klagx-rules.yaml
	cp dashboards/json/*.json helm/klagx/files/dashboards/

bench: ## Go benchmarks of the hot paths, then the scale harness and churn soak (BENCH_SIZES=10k,100k,1m for more)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	$(GO) run ./bench/cmd/klagx-bench --sizes=$(BENCH_SIZES)

fuzz: ## run every fuzz target for FUZZTIME each (default 10s)
	FUZZTIME=$(or $(FUZZTIME),10s) GO=$(GO) bash scripts/fuzz.sh

soak: ## the churn-and-faults soak of the klagx binary for SOAK (default 10m; make test runs it for 5m)
	KLAGX_SOAK=$(SOAK) $(GO) test -count=1 -v -timeout 0 -run '^TestSoak$$' ./e2e/

vulncheck: ## govulncheck (from the module proxy) against the Go vulnerability database at GOVULNDB
	$(GO) run golang.org/x/vuln/cmd/govulncheck@v1.9.0 -db $(GOVULNDB) ./...

clean:
	rm -rf bin
