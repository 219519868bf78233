# One-command entry points. Each sets GOFLAGS=-trimpath (the flag Pulumi builds the program with, so the build
# cache is shared) and installs or builds the pinned tools it needs into .tools/bin.
#
#   make plan [STACK=prod] [FORMAT=tree|mermaid|dot|snapshot|cost|cost-json] [SET='key=value ...']   offline plan, Go only
#   make test        everything CI runs: formatting, vet, the mocked tests and the real-CLI engine tests
#   make unit        the mocked tests alone (seconds once compiled): the loop while you change infra/ or stacks/
#   make engine      the real-CLI engine tests alone
#   make bench-tests measure the test times (cold and warm) into docs/test-times.md; takes about 25 minutes
#   make snapshots   rewrite the plan snapshots of your stacks after reviewing the change
#   make golden      regenerate docs/policies.md, the engine tests' golden preview text, the component's schema
#   make tools       the pinned tools alone (helm, actionlint, the Pulumi CLI)
#   make system      the Debian packages the tests need (shellcheck, jq, the service template's Python)
#   make ci          what CI runs (.ci/run): `make test` on a fresh machine

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export GOFLAGS := -trimpath
# The compiler and linker collect garbage less often: about a tenth less CPU on a cold build, for a larger peak
# (about 4 GB for the largest SDK package instead of 3).
GOGC ?= 300
export GOGC
TOOLS := $(CURDIR)/.tools
# The PATH without .tools/bin: where an installed pinned tool is found and used as it is.
USER_PATH := $(PATH)
export PATH := $(TOOLS)/bin:$(PATH)
TIMED := bash $(CURDIR)/tools/timed
# An installed tool at the pinned version, or nothing: `$(call installed,pulumi,pulumi version,v3.274.1)`.
installed = $(shell p=$$(PATH='$(USER_PATH)' command -v $(1) 2>/dev/null) && [ "$$(PATH='$(USER_PATH)' $(2) 2>/dev/null | head -n1)" = '$(3)' ] && echo $$p)

STACK ?= dev
# The plan command; the tests run it from their own binary (the same code) so that a change under test does not
# link it a second time.
PLAN_CMD ?= go run ./cmd/plan
FORMAT ?= tree
SET ?=

HELM_VERSION := v4.3.2
ACTIONLINT_VERSION := v1.7.12
ARGOCD_MODULE := github.com/argoproj/argo-cd/v3@v3.2.0
# The Pulumi CLI is built at the version of pkg/v3 in tools/pulumi/go.mod, which a test keeps equal to the SDK's.
PULUMI_VERSION := $(shell sed -n 's|^require github.com/pulumi/pulumi/pkg/v3 \(v[0-9.]*\)$$|\1|p' tools/pulumi/go.mod)

STAMPS := $(TOOLS)/stamps
HELM := $(STAMPS)/helm-$(HELM_VERSION)
ACTIONLINT := $(STAMPS)/actionlint-$(ACTIONLINT_VERSION)
PULUMI := $(STAMPS)/pulumi-$(PULUMI_VERSION)
ARGOCD := $(STAMPS)/argocd-crds-v3.2.0
# The TypeScript consumer example's pins (examples/component/typescript/package.json), which type-check it.
TS_EXAMPLE := examples/component/typescript/package.json
NODE_PINS := $(foreach p,typescript @pulumi/pulumi @types/node,$(p)@$(shell sed -n 's|^ *"$(p)": "\([0-9.]*\)".*|\1|p' $(TS_EXAMPLE)))
empty :=
space := $(empty) $(empty)
NODE := $(STAMPS)/node-$(subst $(space),-,$(subst /,_,$(subst @,,$(NODE_PINS))))
# The IAM policy evaluation engine the tests run the roles through, at the exact versions of its package.json.
IAM_EVAL_JSON := tools/iam-eval/package.json
IAM_EVAL_PINS := $(shell sed -n 's|^ *"\(@cloud-copilot/[a-z-]*\)": "\([0-9.]*\)".*|\1@\2|p' $(IAM_EVAL_JSON))
IAM_EVAL := $(STAMPS)/iam-eval-$(subst $(space),-,$(subst /,_,$(subst @,,$(IAM_EVAL_PINS))))

.PHONY: help plan test snapshots golden tools system ci fmt-check vet unit engine component bench-tests test-mocked test-engine test-component

help:
	@sed -n 's/^#   //p' Makefile

plan:
	@$(PLAN_CMD) -stack $(STACK) -format $(FORMAT) $(foreach kv,$(SET),-set $(kv))

tools: $(HELM) $(ACTIONLINT) $(PULUMI) $(ARGOCD) $(NODE) $(IAM_EVAL)

# Debian packages: shellcheck, jq, and the Python the service template's tests run (installed as root, else named).
system:
	bash .ci/system-packages

# Each pinned tool: the one on PATH if it is the pinned version, else built from the Go module proxy once.
$(HELM):
	@mkdir -p $(TOOLS)/bin $(STAMPS)
	@found='$(call installed,helm,helm version --template {{.Version}},$(HELM_VERSION))'; \
	if [ -n "$$found" ]; then ln -sf "$$found" $(TOOLS)/bin/helm && echo "using the installed helm $(HELM_VERSION): $$found"; \
	else GOBIN=$(TOOLS)/bin $(TIMED) helm go install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION)" \
		helm.sh/helm/v4/cmd/helm@$(HELM_VERSION); fi
	@touch $@

$(ACTIONLINT):
	@mkdir -p $(TOOLS)/bin $(STAMPS)
	@found='$(call installed,actionlint,actionlint -version,$(patsubst v%,%,$(ACTIONLINT_VERSION)))'; \
	if [ -n "$$found" ]; then ln -sf "$$found" $(TOOLS)/bin/actionlint && echo "using the installed actionlint: $$found"; \
	else GOBIN=$(TOOLS)/bin $(TIMED) actionlint go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION); fi
	@touch $@

# The Pulumi CLI of the SDK's version: the user's own if it is that version, else built from tools/pulumi.
$(PULUMI): tools/pulumi/go.mod tools/pulumi/go.sum
	@mkdir -p $(TOOLS)/bin $(STAMPS)
	@found='$(call installed,pulumi,pulumi version,$(PULUMI_VERSION))'; \
	if [ -n "$$found" ]; then ln -sf "$$found" $(TOOLS)/bin/pulumi && echo "using the installed Pulumi CLI $(PULUMI_VERSION): $$found"; \
	else cd tools/pulumi && $(TIMED) pulumi-cli go build -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$(PULUMI_VERSION)" \
		-o $(TOOLS)/bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi; fi
	@touch $@

# TypeScript, Pulumi's Node.js SDK and Node's types, for the component's TypeScript consumer example.
$(NODE): $(TS_EXAMPLE)
	rm -rf $(TOOLS)/node && mkdir -p $(TOOLS)/node
	$(TIMED) npm npm install --prefix $(TOOLS)/node --no-audit --no-fund --no-package-lock --ignore-scripts --loglevel=error $(NODE_PINS)
	mkdir -p $(STAMPS) && touch $@

$(IAM_EVAL): $(IAM_EVAL_JSON)
	rm -rf $(TOOLS)/iam-eval && mkdir -p $(TOOLS)/iam-eval
	$(TIMED) iam-eval npm install --prefix $(TOOLS)/iam-eval --no-audit --no-fund --no-package-lock --ignore-scripts --loglevel=error $(IAM_EVAL_PINS)
	mkdir -p $(STAMPS) && touch $@

# The Argo CD CRDs the GitOps tests validate against, at the Argo CD version of the pinned chart.
$(ARGOCD):
	$(TIMED) argocd-crds go mod download $(ARGOCD_MODULE)
	mkdir -p $(STAMPS) && touch $@

# The component package: its Construct tests, schema golden, SDK generation and consumer type-checks.
component: system tools
	cd component && go test ./...

fmt-check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:" >&2; echo "$$unformatted" >&2; exit 1; fi

vet:
	$(TIMED) vet go vet ./...

unit: test-mocked

engine: test-engine

# Everything, in the order that compiles each package once and keeps both cores busy. Phase 1: `go vet` compiles
# the program's dependencies while helm, actionlint and the Node packages install beside it (they share no
# compiled package with it). Phase 2: the Pulumi CLI builds (it shares the SDK with the program, compiled by then)
# while the mocked tests run; then the engine tests and the component (whose pkg/v3 the CLI compiled; one build
# list for the three modules keeps them shared) run side by side.
test: system fmt-check
	@$(MAKE) --no-print-directory -j4 --output-sync=line vet $(HELM) $(ACTIONLINT) $(ARGOCD) $(NODE) $(IAM_EVAL)
	@$(MAKE) --no-print-directory -j4 --output-sync=line test-mocked test-engine test-component

# The test runs leave vet to `go vet`, which `make test` runs first with every analyzer: go test's own vet runs a
# subset, and the flags are part of the cache key of each package's vet facts, so it would compute them again for
# every dependency (about two CPU-minutes on a cold machine).
test-mocked: system $(HELM) $(ACTIONLINT) $(ARGOCD) $(IAM_EVAL)
	$(TIMED) mocked-tests go test -vet=off $$(go list ./... | grep -v /tests/engine)

test-engine: $(PULUMI)
	$(TIMED) engine-tests go test -vet=off ./tests/engine/

test-component: $(PULUMI) $(NODE)
	cd component && $(TIMED) component-vet go vet ./... && $(TIMED) component-tests go test -vet=off ./...

# Measures a cold `make test` in a fresh clone with empty Go caches, then warm runs, into docs/test-times.md.
bench-tests:
	bash tools/bench-tests

# The offline plan's snapshot of each stack file at the root (what TestUserStacks_planMatchesTheirSnapshot compares).
snapshots:
	@for file in Pulumi.*.yaml; do stack=$${file#Pulumi.}; stack=$${stack%.yaml}; \
		$(PLAN_CMD) -stack "$$stack" -format snapshot > "tests/testdata/plan-$$stack.json" || exit 1; done
	@git status --short tests/testdata/plan-*.json

golden: tools
	UPDATE_SNAPSHOTS=1 go test -count=1 ./tests -run 'TestPolicies_publishedTableIsGeneratedFromTheSuite'
	UPDATE_SNAPSHOTS=1 go test -count=1 ./tests/engine -run 'TestPreviewDiff'
	cd component && UPDATE_GOLDEN=1 go test -count=1 ./platform -run 'TestGenerated'
	@# The schema is built from the generated descriptions, so it is written by a second run that compiles them.
	cd component && UPDATE_GOLDEN=1 go test -count=1 ./platform -run 'TestSchema_isTheCommittedGolden'
	@git status --short docs tests/engine/testdata component

ci:
	bash .ci/run
