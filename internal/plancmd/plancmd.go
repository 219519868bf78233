// Package plancmd is the plan command (cmd/plan, `make plan`): see cmd/plan for its usage.
package plancmd

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/cost"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

// Main runs the plan command with its arguments (without the program name), writing the chosen format to stdout
// and the rest (warnings, the version's support) to stderr; it returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("plan", flag.ContinueOnError)
	flags.SetOutput(stderr)
	stack := flags.String("stack", "dev", "stack whose Pulumi.<stack>.yaml to plan")
	format := flags.String("format", "tree", "tree, mermaid, dot, snapshot, cost or cost-json")
	dir := flags.String("dir", ".", "project directory (holding Pulumi.yaml)")
	var sets setFlags
	flags.Var(&sets, "set", "key=value to override for this plan (repeatable), such as -set nodeMaxSize=6")
	base := flags.String("cost-comment", "", "print the pull request's cost comment against the base estimates in this directory")
	alert := flags.String("alert-share", "0.1", "with -cost-comment: call out a stack whose estimate rises by more than this share")
	if err := flags.Parse(args); err != nil {
		return 2
	}

	build := buildTo(stderr)
	var out string
	var err error
	if *base != "" {
		out, err = costComment(*dir, *base, *alert, build)
	} else {
		out, err = run(*dir, *stack, *format, sets, build)
	}
	if err != nil {
		fmt.Fprintln(stderr, "plan:", err)
		return 1
	}
	fmt.Fprint(stdout, out)
	return 0
}

type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func run(dir, stack, format string, sets []string, build plan.Build) (string, error) {
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
	res, est, err := estimate(dir, stack, sets, build)
	if err != nil {
		return "", err
	}
	return render(res, est), nil
}

// estimate plans a stack and estimates its monthly cost in its aws:region.
func estimate(dir, stack string, sets []string, build plan.Build) (*plan.Result, cost.Estimate, error) {
	cfg, err := plan.LoadConfig(dir, stack)
	if err != nil {
		return nil, cost.Estimate{}, fmt.Errorf("load stack %s: %w", stack, err)
	}
	for _, kv := range sets {
		if err := cfg.SetFromFlag(kv); err != nil {
			return nil, cost.Estimate{}, err
		}
	}
	cfg.PlaceholderSecrets(stacks.RequiredSecrets(cfg.Lookup))
	res := plan.Run(cfg.Project, stack, cfg, build, nil)
	if res.Err != nil {
		return nil, cost.Estimate{}, res.Err
	}
	return res, cost.Of(res, cfg.Values["aws:region"], infra.Prices, stacks.Now()), nil
}

// costComment is the pull request comment: each stack's estimate now against the base branch's, read from
// <base>/<stack>.json (written by -format cost-json on the base; absent for a new stack), and the stacks whose file
// the change removes.
func costComment(dir, base, alert string, build plan.Build) (string, error) {
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
		_, after, err := estimate(dir, stack, nil, build)
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
	// The stacks the change deletes: estimated on the base, without a stack file now.
	removed, err := filepath.Glob(filepath.Join(base, "*.json"))
	if err != nil {
		return "", err
	}
	for _, file := range removed {
		if slices.Contains(names, strings.TrimSuffix(filepath.Base(file), ".json")) {
			continue
		}
		c := cost.Change{HasBefore: true, Removed: true}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal(b, &c.Before); err != nil {
			return "", fmt.Errorf("%s: %w", filepath.Base(file), err)
		}
		changes = append(changes, c)
	}
	return cost.Comment(changes, share), nil
}

// buildTo is the program as `pulumi up` runs it, returning the outputs instead of exporting them; its notices and
// warnings go to w, so that a piped format stays only that format.
func buildTo(w io.Writer) plan.Build {
	return func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		p, err := stacks.Build(ctx)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(w, p.KubernetesStatus)
		for _, n := range append(p.Notices, p.Warnings...) {
			fmt.Fprintln(w, "warning:", n)
		}
		return p.Outputs(), nil
	}
}
