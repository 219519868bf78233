package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/internal/plan"
)

// updateSnapshots rewrites the committed plans instead of comparing:
//
//	UPDATE_SNAPSHOTS=1 go test ./tests -run TestPlanSnapshot
const updateSnapshots = "UPDATE_SNAPSHOTS"

// TestPlanSnapshot_matchesTheCommittedPlan: the planned graph of each stack is committed as a readable
// snapshot, so a pull request that changes infrastructure shows the change as a diff, credentials or not.
func TestPlanSnapshot_matchesTheCommittedPlan(t *testing.T) {
	for _, stack := range stackNames {
		t.Run(stack, func(t *testing.T) {
			cfg, err := plan.LoadConfig(repoRoot(t), stack) // exactly what `go run ./cmd/plan` uses
			require.NoError(t, err)
			res := plan.Run(projectName, stack, cfg, buildPlatform, nil)
			require.NoError(t, res.Err)
			got := plan.Snapshot(res)
			path := filepath.Join("testdata", "plan-"+stack+".json")
			if os.Getenv(updateSnapshots) == "1" {
				require.NoError(t, os.MkdirAll("testdata", 0o755))
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
				return
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "no snapshot yet: run %s=1 go test ./tests -run TestPlanSnapshot", updateSnapshots)
			if string(want) != got {
				t.Fatalf("the plan of %s changed; review it and rewrite the snapshot with\n  %s=1 go test ./tests -run TestPlanSnapshot\nfirst difference:\n%s",
					stack, updateSnapshots, firstDifference(string(want), got))
			}
		})
	}
}

func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n  committed: " + a + "\n  planned:   " + b
		}
	}
	return "(none)"
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestPlanSnapshot_redactsSecretsAndIsDeterministic(t *testing.T) {
	cfg, err := plan.LoadConfig(repoRoot(t), "dev")
	require.NoError(t, err)
	cfg.SetSecret("appRepoToken", "ghp_supersecretvalue")
	first := plan.Snapshot(plan.Run(projectName, "dev", cfg, buildPlatform, nil))
	second := plan.Snapshot(plan.Run(projectName, "dev", cfg, buildPlatform, nil))
	assert.Equal(t, first, second, "two runs plan the same text")
	assert.NotContains(t, first, "ghp_supersecretvalue")
	assert.NotContains(t, first, plan.PlaceholderSecret("apiKey"))
	assert.Contains(t, first, `"[secret]"`)
}

func TestPlanCommand_rendersTreeMermaidAndDOT(t *testing.T) {
	cfg, err := plan.LoadConfig(repoRoot(t), "prod")
	require.NoError(t, err)
	res := plan.Run(projectName, "prod", cfg, buildPlatform, nil)
	require.NoError(t, res.Err)
	tree := plan.Tree(res)
	assert.Contains(t, tree, "stack prod: "+itoa(len(res.Resources))+" resources")
	assert.Contains(t, tree, "└─ ")
	assert.Contains(t, tree, "kubeconfig = [secret]")
	assert.Contains(t, tree, "eks:index:Cluster cluster-eks  name=eks-gitops-platform-prod")
	assert.NotContains(t, tree, plan.PlaceholderSecret("apiKey"))
	mermaid := plan.Mermaid(res)
	assert.True(t, strings.HasPrefix(mermaid, "flowchart LR\n"))
	assert.Contains(t, mermaid, "r_nodes_aws_eks_nodeGroup_NodeGroup --> r_k8s_pulumi_providers_kubernetes", "the provider waits for the nodes")
	dot := plan.DOT(res)
	assert.True(t, strings.HasPrefix(dot, `digraph "prod" {`))
	assert.Contains(t, dot, "r_nodes_aws_eks_nodeGroup_NodeGroup -> r_k8s_pulumi_providers_kubernetes;")
	assert.Equal(t, strings.Count(dot, "{"), strings.Count(dot, "}"))
}
