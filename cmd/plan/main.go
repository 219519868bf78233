// Command plan prints what `pulumi up` would build for a stack, without an AWS account, a Pulumi backend or
// a network: it runs the program under an offline mock engine with the stack's real configuration.
//
//	go run ./cmd/plan                      # dev, as a tree with key properties and a resource count
//	go run ./cmd/plan -stack prod -format mermaid > plan.mmd
//	go run ./cmd/plan -format dot | dot -Tsvg > plan.svg
//	go run ./cmd/plan -format snapshot     # the reviewable snapshot the tests compare against
//	go run ./cmd/plan -format cost         # the estimated monthly cost alone (the tree ends with it too)
//	go run ./cmd/plan -format cost-json    # the same as JSON, which the pull request workflow keeps of the base
//	go run ./cmd/plan -cost-comment <dir>  # the pull request comment: every stack's estimate against <dir>/<stack>.json
//	go run ./cmd/plan -set pulumiOrganization=acme -set 'clusterAdminArns=[arn:aws:iam::123456789012:role/admins]'
//
// -set overrides a key for this plan only (repeatable; values are YAML), to preview an optional feature
// without editing a stack file. Secrets get placeholders; physical names and IDs are placeholders too.
package main

import (
	"os"

	"github.com/example/eks-gitops-platform/internal/plancmd"
)

func main() { os.Exit(plancmd.Main(os.Args[1:], os.Stdout, os.Stderr)) }
