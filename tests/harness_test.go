package tests

// The test harness: a recording mock of the Pulumi engine, the real stack files as configuration, and helpers
// to query what the program registered. Assertions are made on the recorded graph after the run.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/internal/plancmd"
	"github.com/example/eks-gitops-platform/stacks"
)

const (
	projectName  = "eks-gitops-platform"
	testAccount  = plan.Account
	testAPIKey   = "test-api-key-value"
	eksClusterTy = plan.EKSClusterType
)

var (
	stackNames = []string{"dev", "prod"}
	testZones  = plan.Zones
)

// record is one resource registration as the engine saw it.
type record = plan.Resource

// stackConfig is the configuration the Pulumi CLI would hand the program.
type stackConfig = plan.Config

func asSlice(v any) []any { s, _ := v.([]any); return s }

func plain(v resource.PropertyValue) any { return plan.Plain(v) }

// TestMain runs the program on the day the EKS calendar was checked, so that support windows and the calendar's
// age do not change what the tests see as the date moves on (TestVersions_* set other days).
func TestMain(m *testing.M) {
	// This binary is also the plan command, for the tests that run `make plan` (plancommand_test.go).
	if os.Getenv(planCommandEnv) == "1" {
		os.Exit(plancmd.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	day, err := time.Parse(time.DateOnly, infra.CalendarChecked)
	if err != nil {
		panic(err)
	}
	stacks.Now = func() time.Time { return day.Add(12 * time.Hour) }
	os.Exit(m.Run())
}

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "Pulumi.yaml"))
	require.NoError(t, err, "tests run from the tests/ folder of the repository")
	return dir
}

func loadProject(t testing.TB) *workspace.Project {
	t.Helper()
	proj, err := workspace.LoadProject(filepath.Join(repoRoot(t), "Pulumi.yaml"))
	require.NoError(t, err)
	return proj
}

// fixtureDir holds the stack files the tests own: the template's values, copied from the shipped
// Pulumi.dev.yaml and Pulumi.prod.yaml. Tests of the program run on these, so they never depend on what a user
// puts in their own stack files; tests of the user's stack files (userstacks_test.go) check only rules that hold
// for any valid configuration.
const fixtureDir = "testdata/stacks"

// withQuickStart gives a template stack file the values the README's quick start sets: a service repository of
// the user's own, which `pulumi up` refuses to leave at the shipped placeholder.
func withQuickStart(cfg stackConfig) stackConfig {
	cfg.Set("githubRepository", "acme/shop")
	cfg.Set("githubOwnerId", "61000001")
	cfg.Set("githubRepositoryId", "62000002")
	cfg.Set("appRepoUrl", "https://github.com/acme/shop.git")
	return cfg
}

// fixtureConfig is a fixture stack's configuration over Pulumi.yaml's defaults, as the CLI would hand it to
// the program, with test values for the secrets a user sets on the command line.
func fixtureConfig(t testing.TB, stack string) stackConfig {
	t.Helper()
	if cfg, ok := fixtureConfigs.Load(stack); ok {
		return cfg.(stackConfig).Clone()
	}
	cfg, err := plan.LoadConfigFiles(filepath.Join(repoRoot(t), "Pulumi.yaml"), plan.StackFile(fixtureDir, stack))
	require.NoError(t, err)
	cfg.SetSecret("apiKey", testAPIKey)
	fixtureConfigs.Store(stack, cfg)
	return cfg.Clone()
}

// fixtureConfigs are the fixture stacks' configurations, loaded once per test binary (the project file's schema
// validation is most of a load); each caller gets its own copy to change.
var fixtureConfigs sync.Map

// run is the outcome of one program run under the offline engine.
type run struct {
	t       testing.TB
	stack   string
	err     error
	records []*record
	invokes []string
	outputs map[string]plan.Output
	result  *plan.Result
}

func buildPlatform(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
	p, err := stacks.Build(ctx)
	if err != nil {
		return nil, err
	}
	return p.Outputs(), nil
}

// runStack runs stacks.Build (what stacks.Run runs before exporting) with the stack's configuration and
// resolves every stack output.
func runStack(t testing.TB, stack string, cfg stackConfig) *run {
	t.Helper()
	return runStackWith(t, stack, cfg, nil)
}

// runStackWith is runStack with a changed engine.
func runStackWith(t testing.TB, stack string, cfg stackConfig, change func(*plan.Engine)) *run {
	t.Helper()
	res := plan.Run(projectName, stack, cfg, buildPlatform, change)
	return &run{t: t, stack: stack, err: res.Err, records: res.Resources, invokes: res.Invokes, outputs: res.Outputs, result: res}
}

// runProgram runs the real entry point, stacks.Run, exports included.
func runProgram(t testing.TB, stack string, cfg stackConfig) error {
	t.Helper()
	return plan.RunProgram(projectName, stack, cfg, stacks.Run)
}

// --- querying the graph ----------------------------------------------------------------------------------

func (r *run) ok() *run {
	r.t.Helper()
	require.NoError(r.t, r.err)
	return r
}

func (r *run) all(typ string) []*record {
	var out []*record
	for _, rec := range r.records {
		if rec.Type == typ {
			out = append(out, rec)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *run) one(typ, name string) *record {
	r.t.Helper()
	for _, rec := range r.records {
		if rec.Type == typ && rec.Name == name {
			return rec
		}
	}
	require.Failf(r.t, "resource not registered", "%s %q in stack %s", typ, name, r.stack)
	return nil
}

func (r *run) single(typ string) *record {
	r.t.Helper()
	all := r.all(typ)
	require.Lenf(r.t, all, 1, "exactly one %s in stack %s", typ, r.stack)
	return all[0]
}

func (r *run) byURN(urn string) *record { return r.result.ByURN(urn) }

// dependsOn reports whether a depends on b directly, through an input, or through a component b belongs to.
func (r *run) dependsOn(a, b *record) bool {
	targets := map[string]bool{b.URN: true}
	for p := r.byURN(b.Parent); p != nil; p = r.byURN(p.Parent) {
		targets[p.URN] = true
	}
	urns := slices.Clone(a.Dependencies)
	for _, d := range a.PropertyDeps {
		urns = append(urns, d...)
	}
	for _, u := range urns {
		if targets[u] {
			return true
		}
	}
	return false
}

// dependsOnTransitively follows dependency and provider edges, and a child's edge to its component's
// dependencies.
func (r *run) dependsOnTransitively(a, b *record) bool {
	seen := map[string]bool{}
	var walk func(*record) bool
	walk = func(x *record) bool {
		if x == nil || seen[x.URN] {
			return false
		}
		seen[x.URN] = true
		if x.URN == b.URN {
			return true
		}
		next := slices.Clone(x.Dependencies)
		for _, d := range x.PropertyDeps {
			next = append(next, d...)
		}
		next = append(next, providerURN(x.Provider))
		for _, u := range next {
			if walk(r.byURN(u)) {
				return true
			}
		}
		// Children of a component wait for what their component waits for only if they depend on it; a
		// dependency on a component means waiting for all its children.
		for _, u := range next {
			if c := r.byURN(u); c != nil && !c.Custom {
				for _, child := range r.records {
					if child.Parent == c.URN && walk(child) {
						return true
					}
				}
			}
		}
		return false
	}
	return walk(a)
}

func providerURN(ref string) string { return plan.ProviderURN(ref) }

func (r *run) children(parent *record) []*record { return r.result.Children(parent) }

// jsonInput decodes a JSON document held in a string input.
func jsonInput[T any](t testing.TB, rec *record, key string) T {
	t.Helper()
	var v T
	s := rec.Str(key)
	require.NotEmptyf(t, s, "%s %s has no %s", rec.Type, rec.Name, key)
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}

func mustAtoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// trustDoc is an IAM policy document as the program writes it.
type trustDoc = infra.PolicyDocument

func resourcePropertyObject(m resource.PropertyMap) resource.PropertyValue {
	return resource.NewObjectProperty(m)
}
