package tests

// Tests of the user's own stack files: every Pulumi.<stack>.yaml at the repository root, whatever it holds.
// Each rule here holds for any valid configuration, so the suite (and the pull request checks) stay green once
// the stack files hold a user's values: secrets are stored encrypted, values have their declared types, the
// program accepts the configuration, the security policy suite passes on its plan, and the plan matches its
// committed snapshot. That the real Pulumi CLI accepts them is tested in tests/engine. Tests of the program
// itself run on fixtures the tests own (fixtureConfig).

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

// secretKeys are the keys the program reads as secrets: a plain-text value is refused at run time, and must
// never be committed.
var secretKeys = []string{"apiKey", "appRepoToken"}

// userStacks are the stacks configured at the repository root.
func userStacks(t testing.TB) []string {
	t.Helper()
	stacks, err := plan.Stacks(repoRoot(t))
	require.NoError(t, err)
	require.NotEmpty(t, stacks, "the repository root has no Pulumi.<stack>.yaml")
	return stacks
}

// userConfig is a user's stack as the program sees it offline: their values over Pulumi.yaml's defaults, with
// placeholders for their encrypted secrets.
func userConfig(t testing.TB, stack string) stackConfig {
	t.Helper()
	cfg, err := plan.LoadConfig(repoRoot(t), stack)
	require.NoError(t, err)
	cfg.PlaceholderSecrets(stacks.RequiredSecrets(cfg.Lookup))
	return cfg
}

// TestUserStacks_storeSecretsEncrypted reads each stack file as YAML: a secret is a `secure:` value, which the
// CLI writes either on the key's line or on the next.
func TestUserStacks_storeSecretsEncrypted(t *testing.T) {
	t.Parallel()
	for _, stack := range userStacks(t) {
		var file struct {
			Config map[string]yaml.Node `yaml:"config"`
		}
		b, err := os.ReadFile(plan.StackFile(repoRoot(t), stack))
		require.NoError(t, err)
		require.NoErrorf(t, yaml.Unmarshal(b, &file), "Pulumi.%s.yaml", stack)
		for _, key := range secretKeys {
			node, ok := file.Config[projectName+":"+key]
			if !ok {
				continue
			}
			var secure struct {
				Secure string `yaml:"secure"`
			}
			ok = node.Kind == yaml.MappingNode && node.Decode(&secure) == nil && secure.Secure != ""
			assert.Truef(t, ok, "Pulumi.%s.yaml stores %s in plain text: remove it and run `pulumi config set --secret %s <value>`",
				stack, key, key)
		}
	}
}

// TestUserStacks_valuesHaveTheirDeclaredTypes type-checks every value against Pulumi.yaml's declarations, which
// the project loader does not do (the real CLI does, in tests/engine).
func TestUserStacks_valuesHaveTheirDeclaredTypes(t *testing.T) {
	t.Parallel()
	proj := loadProject(t)
	for _, stack := range userStacks(t) {
		t.Run(stack, func(t *testing.T) {
			ps, err := workspace.LoadProjectStack(nil, proj, plan.StackFile(repoRoot(t), stack))
			require.NoError(t, err)
			for k, v := range ps.Config {
				if k.Namespace() != projectName {
					continue
				}
				decl, ok := proj.Config[k.Name()]
				require.Truef(t, ok, "%s is set in Pulumi.%s.yaml but Pulumi.yaml does not declare it: a typo?", k.Name(), stack)
				if v.Secure() {
					continue
				}
				s, err := v.Value(config.NewPanicCrypter())
				require.NoError(t, err)
				// The CLI's own check (pkg/workspace validateStackConfigValue): an object value is its JSON.
				var content any = s
				if v.Object() {
					require.NoError(t, json.Unmarshal([]byte(s), &content))
				}
				assert.Truef(t, workspace.ValidateConfigValue(*decl.Type, decl.Items, content),
					"%s in Pulumi.%s.yaml is not of its declared type %s: %s", k.Name(), stack, *decl.Type, s)
				assertType(t, k.Name(), *decl.Type, decl.Items, v.Object(), s)
			}
			_, ok := ps.Config[mustKey(t, "aws:region")]
			assert.Truef(t, ok, "Pulumi.%s.yaml sets aws:region", stack)
		})
	}
}

// assertType is what the program reads each declared type as.
func assertType(t *testing.T, key, typ string, items *workspace.ProjectConfigItemsType, object bool, s string) {
	t.Helper()
	switch typ {
	case "string":
		assert.Falsef(t, object, "%s must be a string", key)
	case "integer":
		_, err := strconv.Atoi(s)
		assert.NoErrorf(t, err, "%s must be an integer, got %q", key, s)
	case "boolean":
		_, err := strconv.ParseBool(s)
		assert.NoErrorf(t, err, "%s must be a boolean, got %q", key, s)
	case "array":
		if items != nil && items.Type == "object" {
			var list []map[string]any
			assert.NoErrorf(t, json.Unmarshal([]byte(s), &list), "%s must be a list of objects, got %s", key, s)
			break
		}
		var list []string
		assert.NoErrorf(t, json.Unmarshal([]byte(s), &list), "%s must be a list of strings, got %s", key, s)
	default:
		t.Errorf("%s: unexpected declared type %s", key, typ)
	}
}

func mustKey(t *testing.T, s string) config.Key {
	t.Helper()
	k, err := config.ParseKey(s)
	require.NoError(t, err)
	return k
}

// TestUserStacks_areAcceptedByTheProgram: the whole configuration validates and the program registers its graph.
func TestUserStacks_areAcceptedByTheProgram(t *testing.T) {
	t.Parallel()
	for _, stack := range userStacks(t) {
		t.Run(stack, func(t *testing.T) {
			r := runStack(t, stack, userConfig(t, stack))
			require.NoErrorf(t, r.err, "Pulumi.%s.yaml", stack)
			assert.NotEmpty(t, r.records)
		})
	}
}

// TestUserStacks_passThePolicySuite runs the security policy suite over each user stack's plan, with the
// exceptions of its mode (a stack with protect true takes none).
func TestUserStacks_passThePolicySuite(t *testing.T) {
	t.Parallel()
	for _, stack := range userStacks(t) {
		t.Run(stack, func(t *testing.T) { checkPolicies(t, policyGraph{name: stack, stack: stack, userFile: true}) })
	}
}

// updateSnapshots rewrites the committed plans instead of comparing (`make snapshots`).
const updateSnapshots = "UPDATE_SNAPSHOTS"

func snapshotPath(stack string) string { return filepath.Join("testdata", "plan-"+stack+".json") }

// TestUserStacks_planMatchesTheirSnapshot: each stack's planned graph is committed as a readable snapshot, so a
// pull request that changes infrastructure shows the change as a diff, credentials or not. On a difference the
// failure shows the whole diff; after reviewing it, `make snapshots` rewrites the snapshots.
func TestUserStacks_planMatchesTheirSnapshot(t *testing.T) {
	t.Parallel()
	for _, stack := range userStacks(t) {
		t.Run(stack, func(t *testing.T) {
			res := plan.Run(projectName, stack, userConfig(t, stack), buildPlatform, nil) // what `make plan` runs
			require.NoError(t, res.Err)
			got := plan.Snapshot(res)
			path := snapshotPath(stack)
			if os.Getenv(updateSnapshots) == "1" {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoErrorf(t, err, "no snapshot of stack %s yet: run `make snapshots`", stack)
			if string(want) != got {
				diff, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
					A: difflib.SplitLines(string(want)), B: difflib.SplitLines(got),
					FromFile: path + " (committed)", ToFile: path + " (planned now)", Context: 3,
				})
				t.Fatalf("the plan of stack %s changed. Review the diff below; if it is what you meant, run `make snapshots` "+
					"and commit the result.\n%s", stack, diff)
			}
		})
	}
}

// TestUserStacks_snapshotsBelongToAStack: no snapshot is left behind for a stack that no longer exists.
func TestUserStacks_snapshotsBelongToAStack(t *testing.T) {
	t.Parallel()
	matches, err := filepath.Glob(filepath.Join("testdata", "plan-*.json"))
	require.NoError(t, err)
	for _, m := range matches {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "plan-"), ".json")
		assert.Containsf(t, userStacks(t), stack, "%s has no Pulumi.%s.yaml: delete it", m, stack)
	}
}
