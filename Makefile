# One-command entry points. Each sets GOFLAGS=-trimpath (the flag Pulumi builds the program with, so the build
# cache is shared) and installs or builds the pinned tools it needs into .tools/bin.
#
#   make plan [STACK=prod] [FORMAT=tree|mermaid|dot|snapshot] [SET='key=value ...']   offline plan, Go only
#   make test        everything CI runs: formatting, vet, the mocked tests and the real-CLI engine tests
#   make snapshots   rewrite the plan snapshots of your stacks after reviewing the change
#   make golden      regenerate docs/policies.md and the engine tests' golden preview text
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

.PHONY: help plan test snapshots golden tools system ci fmt-check vet unit engine

help:
	@sed -n 's/^#   //p' Makefile

plan:
	go run ./cmd/plan -stack $(STACK) -format $(FORMAT) $(foreach kv,$(SET),-set $(kv))

tools: $(HELM) $(ACTIONLINT) $(PULUMI) $(ARGOCD)

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

# The Argo CD CRDs the GitOps tests validate against, at the Argo CD version of the pinned chart.
$(ARGOCD):
	go mod download $(ARGOCD_MODULE)
	mkdir -p $(STAMPS) && touch $@

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

snapshots:
	UPDATE_SNAPSHOTS=1 go test -count=1 ./tests -run 'TestUserStacks_planMatchesTheirSnapshot'
	@git status --short tests/testdata/plan-*.json

golden: tools
	UPDATE_SNAPSHOTS=1 go test -count=1 ./tests -run 'TestPolicies_publishedTableIsGeneratedFromTheSuite'
	UPDATE_SNAPSHOTS=1 go test -count=1 ./tests/engine -run 'TestPreviewDiff'
	@git status --short docs tests/engine/testdata

ci:
	bash .ci/run
