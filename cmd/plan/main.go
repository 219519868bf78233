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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/cost"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

func main() {
	stack := flag.String("stack", "dev", "stack whose Pulumi.<stack>.yaml to plan")
	format := flag.String("format", "tree", "tree, mermaid, dot, snapshot, cost or cost-json")
	dir := flag.String("dir", ".", "project directory (holding Pulumi.yaml)")
	var sets setFlags
	flag.Var(&sets, "set", "key=value to override for this plan (repeatable), such as -set nodeMaxSize=6")
	base := flag.String("cost-comment", "", "print the pull request's cost comment against the base estimates in this directory")
	alert := flag.String("alert-share", "0.1", "with -cost-comment: call out a stack whose estimate rises by more than this share")
	flag.Parse()

	var out string
	var err error
	if *base != "" {
		out, err = costComment(*dir, *base, *alert)
	} else {
		out, err = run(*dir, *stack, *format, sets)
	}
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
	render := map[string]func(*plan.Result, cost.Estimate) string{
		"tree":     func(r *plan.Result, e cost.Estimate) string { return plan.Tree(r) + "\n" + e.Text() },
		"mermaid":  func(r *plan.Result, _ cost.Estimate) string { return plan.Mermaid(r) },
		"dot":      func(r *plan.Result, _ cost.Estimate) string { return plan.DOT(r) },
		"snapshot": func(r *plan.Result, _ cost.Estimate) string { return plan.Snapshot(r) },
		"cost":     func(_ *plan.Result, e cost.Estimate) string { return e.Text() },
		"cost-json": func(_ *plan.Result, e cost.Estimate) string {
			b, _ := json.MarshalIndent(e, "", "  ")
			return string(b) + "\n"
		},
	}[format]
	if render == nil {
		return "", fmt.Errorf("unknown -format %q: use tree, mermaid, dot, snapshot, cost or cost-json", format)
	}
	res, est, err := estimate(dir, stack, sets)
	if err != nil {
		return "", err
	}
	return render(res, est), nil
}

// estimate plans a stack and estimates its monthly cost in its aws:region.
func estimate(dir, stack string, sets []string) (*plan.Result, cost.Estimate, error) {
	cfg, err := plan.LoadConfig(dir, stack)
	if err != nil {
		return nil, cost.Estimate{}, fmt.Errorf("load stack %s: %w", stack, err)
	}
	for _, kv := range sets {
		if err := cfg.SetFromFlag(kv); err != nil {
			return nil, cost.Estimate{}, err
		}
	}
	res := plan.Run(cfg.Project, stack, cfg, Build, nil)
	if res.Err != nil {
		return nil, cost.Estimate{}, res.Err
	}
	return res, cost.Of(res, cfg.Values["aws:region"], infra.Prices, stacks.Now()), nil
}

// costComment is the pull request comment: each stack's estimate now against the base branch's, read from
// <base>/<stack>.json (written by -format cost-json on the base; absent for a new stack).
func costComment(dir, base, alert string) (string, error) {
	share, err := strconv.ParseFloat(alert, 64)
	if err != nil || share < 0 {
		return "", fmt.Errorf("-alert-share %q: use a share such as 0.1 (10 %%)", alert)
	}
	names, err := plan.Stacks(dir)
	if err != nil {
		return "", err
	}
	var changes []cost.Change
	for _, stack := range names {
		_, after, err := estimate(dir, stack, nil)
		if err != nil {
			return "", fmt.Errorf("stack %s: %w", stack, err)
		}
		c := cost.Change{After: after}
		b, err := os.ReadFile(filepath.Join(base, stack+".json"))
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &c.Before); err != nil {
				return "", fmt.Errorf("%s.json: %w", stack, err)
			}
			c.HasBefore = true
		case !errors.Is(err, os.ErrNotExist):
			return "", err
		}
		changes = append(changes, c)
	}
	return cost.Comment(changes, share), nil
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
