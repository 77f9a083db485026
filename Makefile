# Vigil — build, run locally, test, deploy.
#   make run    the demo against the local emulator (no AWS account)
#   make test   every test, with the race detector
# Prerequisites are installed on demand by `make deps`.

SHELL := /bin/bash
GO ?= go
PYTHON ?= python3
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/npm/node_modules/.bin:$(PATH)

FUNCTIONS := healthcheck recovery status
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w"
MOTO_VERSION := 5.2.1
ASL_VALIDATOR_VERSION := 4.0.0

.PHONY: all deps run test lint bench build invoke status alarms clean \
	build-HealthCheckFunction build-RecoveryFunction build-StatusFunction

all: lint test

## deps: install what the tests and the local run need, only where missing.
deps:
	@echo "make deps: moto, cfn-lint, aws-sam-translator, asl-validator and Go modules (installed only where missing)"
	@command -v moto_server >/dev/null || $(PYTHON) -m pip install --quiet 'moto[server]==$(MOTO_VERSION)'
	@command -v cfn-lint >/dev/null || $(PYTHON) -m pip install --quiet cfn-lint
	@$(PYTHON) -c 'import samtranslator' 2>/dev/null || $(PYTHON) -m pip install --quiet aws-sam-translator
	@command -v asl-validator >/dev/null || npm install --silent --no-audit --no-fund --prefix $(TOOLS)/npm asl-validator@$(ASL_VALIDATOR_VERSION) >/dev/null
	@$(GO) mod download

## run: the demo scenario on the local emulator; stops everything it started.
run: deps
	@echo "make run: compiling cmd/vigil-local (the first time takes a minute or two)"
	$(GO) run ./cmd/vigil-local run

## test: all Go tests with the race detector (emulator, RIE and loopback servers included).
test: deps
	$(GO) test -race -count=1 -timeout 20m ./...

## lint: gofmt, go vet, staticcheck.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

## build: stripped arm64 bootstraps in build/<function>/bootstrap, as Lambda runs them,
##   each beside the compiled document vigil.json (DOC, validated: a bad one fails the build).
# The functions read the document compiled to JSON: validated here, and read
# at a third of the YAML's cost at a cold start.
COMPILE = $(GO) run ./cmd/vigil-local compile
build:
	@for fn in $(FUNCTIONS); do \
		GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o build/$$fn/bootstrap ./functions/$$fn || exit 1; \
		$(COMPILE) -o build/$$fn/vigil.json $(DOC) || exit 1; \
		printf '%-12s %s bytes\n' $$fn $$(stat -c %s build/$$fn/bootstrap); \
	done

# sam build (BuildMethod: makefile) calls these with ARTIFACTS_DIR set.
build-HealthCheckFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/healthcheck
	$(COMPILE) -o $(ARTIFACTS_DIR)/vigil.json $(DOC)
build-RecoveryFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/recovery
	$(COMPILE) -o $(ARTIFACTS_DIR)/vigil.json $(DOC)
build-StatusFunction:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/status
	$(COMPILE) -o $(ARTIFACTS_DIR)/vigil.json $(DOC)

## invoke: one function under the Runtime Interface Emulator with an event from events/;
##   prints the function's own log lines and its answer (moto's and the emulator's
##   output go to .vigil/invoke.log).
##   make invoke FN=healthcheck EVENT=events/healthcheck-scheduler.json
##   make invoke FN=status EVENT=events/status-markdown.json
FN ?= healthcheck
EVENT ?= events/healthcheck-scheduler.json
invoke: deps
	$(GO) run ./cmd/vigil-local invoke $(FN) $(EVENT)

## alarms: the alarms and dashboard a document makes, without touching anything.
##   make alarms [DOC=config/vigil.yaml] [ALARMS_FLAGS="-live -stack vigil"]
DOC ?= config/vigil.yaml
alarms:
	@$(GO) run ./cmd/vigil-local alarms $(ALARMS_FLAGS) $(DOC)

clean:
	rm -rf build .tools

## status: the Markdown health report of the last `make run`, served by the Status function.
status: deps
	$(GO) run ./cmd/vigil-local status

## bench: SPEC §9 budgets — Go benchmarks of the hot paths, then the end-to-end table
##   (real HealthCheck bootstrap under RIE, moto, loopback targets with known delays).
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 20x ./internal/...
	$(GO) run ./cmd/vigil-bench
