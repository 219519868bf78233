# One-command entry points. Each sets GOFLAGS=-trimpath (the flag Pulumi builds the program with, so the build
# cache is shared) and installs or builds the pinned tools it needs into .tools/bin.
#
#   make plan [STACK=prod] [FORMAT=tree|mermaid|dot|snapshot] [SET='key=value ...']   offline plan, Go only
#   make test        everything CI runs: formatting, vet, the mocked tests and the real-CLI engine tests
#   make snapshots   rewrite the plan snapshots of your stacks after reviewing the change
#   make golden      regenerate docs/policies.md, the engine tests' golden preview text, the component's schema
#   make tools       the pinned tools alone (helm, actionlint, the Pulumi CLI)
#   make system      the Debian packages the tests need (shellcheck, jq, the service template's Python)
#   make ci          what CI runs (.ci/run): `make test` on a fresh machine

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export GOFLAGS := -trimpath
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)

STACK ?= dev
FORMAT ?= tree
SET ?=

HELM_VERSION := v3.22.0
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

.PHONY: help plan test snapshots golden tools system ci fmt-check vet unit engine component

help:
	@sed -n 's/^#   //p' Makefile

plan:
	go run ./cmd/plan -stack $(STACK) -format $(FORMAT) $(foreach kv,$(SET),-set $(kv))

tools: $(HELM) $(ACTIONLINT) $(PULUMI) $(ARGOCD) $(NODE)

# Debian packages: shellcheck, jq, and the Python the service template's tests run (installed as root, else named).
system:
	bash .ci/system-packages

$(HELM):
	GOBIN=$(TOOLS)/bin go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mkdir -p $(STAMPS) && touch $@

$(ACTIONLINT):
	GOBIN=$(TOOLS)/bin go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	mkdir -p $(STAMPS) && touch $@

$(PULUMI): tools/pulumi/go.mod tools/pulumi/go.sum
	cd tools/pulumi && go build -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$(PULUMI_VERSION)" \
		-o $(TOOLS)/bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
	mkdir -p $(STAMPS) && touch $@

# TypeScript, Pulumi's Node.js SDK and Node's types, for the component's TypeScript consumer example.
$(NODE): $(TS_EXAMPLE)
	rm -rf $(TOOLS)/node && mkdir -p $(TOOLS)/node
	npm install --prefix $(TOOLS)/node --no-audit --no-fund --no-package-lock --ignore-scripts --loglevel=error $(NODE_PINS)
	mkdir -p $(STAMPS) && touch $@

# The Argo CD CRDs the GitOps tests validate against, at the Argo CD version of the pinned chart.
$(ARGOCD):
	go mod download $(ARGOCD_MODULE)
	mkdir -p $(STAMPS) && touch $@

# The component package: its Construct tests, schema golden, SDK generation and consumer type-checks.
component: system tools
	cd component && go test ./...

fmt-check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:" >&2; echo "$$unformatted" >&2; exit 1; fi

vet:
	go vet ./...

unit: tools system
	go test ./tests/

engine: tools
	go test ./tests/engine/

test: system tools fmt-check vet
	go test ./...
	cd component && go vet ./... && go test ./...

snapshots:
	UPDATE_SNAPSHOTS=1 go test -count=1 ./tests -run 'TestUserStacks_planMatchesTheirSnapshot'
	@git status --short tests/testdata/plan-*.json

golden: tools
	UPDATE_SNAPSHOTS=1 go test -count=1 ./tests -run 'TestPolicies_publishedTableIsGeneratedFromTheSuite'
	UPDATE_SNAPSHOTS=1 go test -count=1 ./tests/engine -run 'TestPreviewDiff'
	cd component && UPDATE_GOLDEN=1 go test -count=1 ./platform -run 'TestGenerated|TestSchema_isTheCommittedGolden'
	@git status --short docs tests/engine/testdata component

ci:
	bash .ci/run
