# Aibud — `make run` starts the service on its embedded defaults,
# `make test` installs what the tests need and runs them.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(shell go env GOPATH 2>/dev/null)/bin
GO ?= go
STRIPE_MOCK_VERSION := v0.183.0

.PHONY: run build test test-deps bench chaos lint fuzz eval clean

run: ## start Aibud on http://localhost:8080 with data in ./data
	$(GO) run ./cmd/aibud serve

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/aibud ./cmd/aibud
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/evolutionsim ./cmd/evolutionsim

test: test-deps ## every test, with the race detector; fuzz seed corpora included
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

# test-deps installs the real parts the tests talk to, when missing:
# redis-server and Chromium from Debian, stripe-mock through the Go proxy.
test-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	[ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@command -v stripe-mock >/dev/null || { echo "installing stripe-mock $(STRIPE_MOCK_VERSION)"; $(GO) install github.com/stripe/stripe-mock@$(STRIPE_MOCK_VERSION); }

bench: ## the benchmarks behind BENCHMARKS.md, short forms (a few minutes; aibud bench -h has the full ones)
	$(GO) build -o bin/aibud-bench ./cmd/aibud
	bin/aibud-bench bench credits -n 50000 -tenants 200
	bin/aibud-bench bench webhooks -n 5000
	bin/aibud-bench bench campaign -n 2000
	bin/aibud-bench bench tenants -tenants 1000 -max-open-tenants 64 -touches 4000 -probes 100 -idle 0
	$(GO) test -run '^$$' -bench 'ReopenTenant' -benchtime 2s ./store/
	$(GO) test -run '^$$' -bench 'Import50k|ExportImport100k' -benchtime 1x ./store/
	$(GO) test -run '^$$' -bench 'CampaignPage10k' -benchtime 10x ./httpapi/
	$(GO) test -run '^$$' -bench 'Classify$$' -cpu 1 ./ai/rules/
	AIBUD_BENCH_N=100 $(GO) test -run '^$$' -bench 'SendPaceUnderStorm' -benchtime 1x ./cmd/aibud/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

eval: ## the offline classifier's accuracy per intent and language, opt-out precision and recall
	$(GO) run ./cmd/aibud eval

# The short form of these runs in `make test`.
chaos: ## failures injected mid-campaign: SIGKILL, Redis lost, the gateway down 30 s, a webhook storm
	AIBUD_CHAOS=full $(GO) test -run '^TestChaos$$' -v -count=1 -timeout 30m ./cmd/aibud/

fuzz: ## each fuzz target for 60 s
	$(GO) test -run '^$$' -fuzz '^FuzzEvolutionWebhook$$' -fuzztime 60s ./whatsapp/evolution/
	$(GO) test -run '^$$' -fuzz '^FuzzNormalizePhone$$' -fuzztime 60s ./whatsapp/
	$(GO) test -run '^$$' -fuzz '^FuzzCSVImport$$' -fuzztime 60s ./tenants/
	$(GO) test -run '^$$' -fuzz '^FuzzClassify$$' -fuzztime 60s ./ai/rules/
	$(GO) test -run '^$$' -fuzz '^FuzzImportTenant$$' -fuzztime 60s ./store/
	$(GO) test -run '^$$' -fuzz '^FuzzParseWebhook$$' -fuzztime 60s ./billing/

clean:
	rm -rf bin
