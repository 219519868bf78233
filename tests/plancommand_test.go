package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/internal/plan"
)

// planCommandEnv makes this test binary run as the plan command (TestMain): the same code as cmd/plan, which
// `make plan` runs with `go run`, without linking a second binary after every change under test.
const planCommandEnv = "PLAN_COMMAND_MAIN"

// planCommand is the plan command as a process: this binary in its plan-command mode.
func planCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(self, args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), planCommandEnv+"=1")
	return cmd
}

// userMake runs `make` in the repository as a user's shell does: not as a sub-make of `make test`, whose
// MAKEFLAGS and MAKELEVEL would make it print "Entering directory" lines. Its plan command is this binary's.
func userMake(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command("make", append(args, "PLAN_CMD="+self)...)
	cmd.Dir = repoRoot(t)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MAKELEVEL" && k != "MFLAGS" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, planCommandEnv+"=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// TestPlanCommand_eachFormatPipesAsItself: what `make plan FORMAT=...` writes to standard output is that format
// alone, so the README's `make -s plan FORMAT=dot | dot -Tsvg` works: Graphviz itself parses the DOT, the
// snapshot is JSON, and the Mermaid output starts with its diagram type.
func TestPlanCommand_eachFormatPipesAsItself(t *testing.T) {
	t.Parallel()
	dot, err := exec.LookPath("dot")
	require.NoError(t, err, "Graphviz's dot is required (Debian: apt-get install graphviz; `make system` installs it)")

	out, stderr, err := userMake(t, "plan", "FORMAT=dot")
	require.NoError(t, err, stderr)
	parse := exec.Command(dot, "-Tsvg")
	parse.Stdin = strings.NewReader(out)
	svg, err := parse.CombinedOutput()
	require.NoError(t, err, "Graphviz parses `make plan FORMAT=dot`:\n%s", svg)
	assert.Contains(t, string(svg), "<svg")

	out, stderr, err = userMake(t, "plan", "FORMAT=snapshot")
	require.NoError(t, err, stderr)
	assert.True(t, json.Valid([]byte(out)), "`make plan FORMAT=snapshot` is JSON alone")

	out, stderr, err = userMake(t, "plan", "FORMAT=mermaid")
	require.NoError(t, err, stderr)
	assert.True(t, strings.HasPrefix(out, "flowchart LR\n"), "`make plan FORMAT=mermaid` starts with its diagram: %.80q", out)
}

// TestPlanCommand_setRefusesUnknownKeys: a misspelled SET key fails, naming the key it meant, instead of planning
// without it.
func TestPlanCommand_setRefusesUnknownKeys(t *testing.T) {
	t.Parallel()
	out, stderr, err := userMake(t, "plan", "SET=nodeMaxSzie=6")
	require.Error(t, err)
	assert.Empty(t, out)
	assert.Contains(t, stderr, "-set nodeMaxSzie: Pulumi.yaml declares no such key; did you mean nodeMaxSize?")
}

// TestPlanSet_keepsTheTypePulumiYamlDeclares: -set reads lists, numbers and booleans as YAML, but a key declared
// as a string keeps what was written (YAML would make 1.30 the number 1.3, and drop an ID's leading zero).
func TestPlanSet_keepsTheTypePulumiYamlDeclares(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	for _, kv := range []string{"kubernetesVersion=1.30", "githubOwnerId=0123", "nodeMaxSize=6", "protect=true",
		"clusterAdminArns=[arn:aws:iam::111122223333:role/a]", "appTargetRevision='1.10'", "aws:region=eu-west-1",
		projectName + ":vpcCidr=10.1.0.0/16", "appChartPath=charts/shop #2", "serviceName=\"shop\"", "githubRepository=@acme/x"} {
		require.NoError(t, cfg.SetFromFlag(kv), kv)
	}
	for key, want := range map[string]string{
		"kubernetesVersion": "1.30", "githubOwnerId": "0123", "nodeMaxSize": "6", "protect": "true",
		"clusterAdminArns": `["arn:aws:iam::111122223333:role/a"]`, "appTargetRevision": "1.10",
		"vpcCidr": "10.1.0.0/16", "appChartPath": "charts/shop #2", "serviceName": "shop", "githubRepository": "@acme/x",
	} {
		assert.Equal(t, want, cfg.Values[projectName+":"+key], key)
	}
	assert.Equal(t, "eu-west-1", cfg.Values["aws:region"], "a provider's namespaced key")

	err := cfg.SetFromFlag("kubernetesVersoin=1.35")
	require.Error(t, err)
	assert.Equal(t, "-set kubernetesVersoin: Pulumi.yaml declares no such key; did you mean kubernetesVersion?", err.Error())
	err = cfg.SetFromFlag(projectName + ":nodeMaxSzie=6")
	require.Error(t, err, "the project's namespace is the same key")
	assert.Contains(t, err.Error(), "did you mean nodeMaxSize?")
	err = plan.Config{Project: projectName, Values: map[string]string{}, Declared: map[string]string{"vpcCidr": "string"}}.SetFromFlag("zzzzzzzz=1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "it declares vpcCidr")
}

// TestPlanCommand_costCommentComparesEveryStackWithTheBase: what the pull request workflow runs. The base's
// estimates (-format cost-json) against the same stacks give a zero difference for each; a stack the base lacks
// has no "before"; a stack only the base has shows as removed.
func TestPlanCommand_costCommentComparesEveryStackWithTheBase(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := planCommand(t, args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		require.NoError(t, cmd.Run(), errb.String())
		return out.String()
	}
	dev := run("-stack", "dev", "-format", "cost-json")
	require.True(t, json.Valid([]byte(dev)))
	require.NoError(t, os.WriteFile(filepath.Join(base, "dev.json"), []byte(dev), 0o600))
	var e struct{ Monthly float64 }
	require.NoError(t, json.Unmarshal([]byte(dev), &e))
	require.Positive(t, e.Monthly)

	// A stack the change removes: estimated on the base, without a stack file now.
	staging := strings.Replace(dev, `"stack": "dev"`, `"stack": "staging"`, 1)
	require.NotEqual(t, dev, staging)
	require.NoError(t, os.WriteFile(filepath.Join(base, "staging.json"), []byte(staging), 0o600))

	comment := run("-cost-comment", base, "-alert-share", "0.1")
	m := fmt.Sprintf("$%.2f", e.Monthly)
	assert.Contains(t, comment, "| dev | "+m+" | "+m+" | +0.00 (+0 %) |")
	assert.Contains(t, comment, fmt.Sprintf("| staging | %s | (stack file removed) | -%.2f |", m, e.Monthly))
	assert.Regexp(t, `\| prod \| \(no estimate\) \| \$[0-9.]+ \|`, comment)
	assert.NotContains(t, comment, "[!WARNING]")
}
