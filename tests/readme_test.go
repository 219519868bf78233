package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/stacks"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	require.NoError(t, err)
	return string(b)
}

// TestREADME_configReferenceListsEveryDeclaredKey keeps the user's manual in step with Pulumi.yaml.
func TestREADME_configReferenceListsEveryDeclaredKey(t *testing.T) {
	doc := readme(t)
	for key := range loadProject(t).Config {
		if strings.Contains(key, ":") {
			continue
		}
		assert.Regexp(t, regexp.MustCompile("(?m)^\\| [^|]*`"+regexp.QuoteMeta(key)+"`"), doc, "README's configuration table documents %s", key)
	}
}

func TestREADME_outputsTableListsEveryOutput(t *testing.T) {
	doc := readme(t)
	r := runStack(t, "dev", deployConfig(t, "dev")).ok()
	require.NotEmpty(t, r.outputs)
	for name := range r.outputs {
		assert.Regexp(t, regexp.MustCompile("(?m)^\\| [^|]*`"+regexp.QuoteMeta(name)+"`"), doc, "README's outputs table documents %s", name)
	}
	assert.Contains(t, doc, "`"+stacks.OutputKubeconfig+"` | kubeconfig using `aws eks get-token` (**secret**)")
}

// TestREADME_testCommandIsWhatCIRuns: the README's test command and .ci/run agree.
func TestREADME_testCommandIsWhatCIRuns(t *testing.T) {
	doc := readme(t)
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".ci", "run"))
	require.NoError(t, err)
	ci := string(b)
	for _, cmd := range []string{
		"go install helm.sh/helm/v3/cmd/helm@v3.22.0",
		"go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12",
		"go test ./...",
	} {
		assert.Contains(t, doc, cmd)
		assert.Contains(t, ci, cmd)
	}
	assert.Contains(t, doc, "UPDATE_SNAPSHOTS=1 go test ./tests -run TestPlanSnapshot")
	assert.Contains(t, doc, "go run ./cmd/plan")
	assert.Contains(t, doc, stacks.DefaultArgoCDChartVersion+" ships Argo CD "+stacks.ArgoCDAppVersion)
}
