// Command plan prints what `pulumi up` would build for a stack, without an AWS account, a Pulumi backend or
// a network: it runs the program under an offline mock engine with the stack's real configuration.
//
//	go run ./cmd/plan                      # dev, as a tree with key properties and a resource count
//	go run ./cmd/plan -stack prod -format mermaid > plan.mmd
//	go run ./cmd/plan -format dot | dot -Tsvg > plan.svg
//	go run ./cmd/plan -format snapshot     # the reviewable snapshot the tests compare against
//	go run ./cmd/plan -set pulumiOrganization=acme -set 'clusterAdminArns=[arn:aws:iam::123456789012:role/admins]'
//
// -set overrides a key for this plan only (repeatable; values are YAML), to preview an optional feature
// without editing a stack file. Secrets get placeholders; physical names and IDs are placeholders too.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

func main() {
	stack := flag.String("stack", "dev", "stack whose Pulumi.<stack>.yaml to plan")
	format := flag.String("format", "tree", "tree, mermaid, dot or snapshot")
	dir := flag.String("dir", ".", "project directory (holding Pulumi.yaml)")
	var sets setFlags
	flag.Var(&sets, "set", "key=value to override for this plan (repeatable), such as -set nodeMaxSize=6")
	flag.Parse()

	out, err := run(*dir, *stack, *format, sets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(1)
	}
	fmt.Print(out)
}

type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func run(dir, stack, format string, sets []string) (string, error) {
	render := map[string]func(*plan.Result) string{
		"tree": plan.Tree, "mermaid": plan.Mermaid, "dot": plan.DOT, "snapshot": plan.Snapshot,
	}[format]
	if render == nil {
		return "", fmt.Errorf("unknown -format %q: use tree, mermaid, dot or snapshot", format)
	}
	cfg, err := plan.LoadConfig(dir, stack)
	if err != nil {
		return "", fmt.Errorf("load stack %s: %w", stack, err)
	}
	for _, kv := range sets {
		if err := cfg.SetFromFlag(kv); err != nil {
			return "", err
		}
	}
	res := plan.Run(cfg.Project, stack, cfg, Build, nil)
	if res.Err != nil {
		return "", res.Err
	}
	return render(res), nil
}

// Build is the program as `pulumi up` runs it, returning the outputs instead of exporting them.
func Build(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
	p, err := stacks.Build(ctx)
	if err != nil {
		return nil, err
	}
	// On standard error, so that a piped format stays only that format.
	fmt.Fprintln(os.Stderr, p.KubernetesStatus)
	for _, w := range append(p.Notices, p.Warnings...) {
		fmt.Fprintln(os.Stderr, "warning:", w)
	}
	return p.Outputs(), nil
}
