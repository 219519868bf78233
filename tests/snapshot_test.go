package tests

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/internal/plan"
)

func TestPlanSnapshot_redactsSecretsAndIsDeterministic(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.SetSecret("appRepoToken", "ghp_supersecretvalue")
	first := plan.Snapshot(plan.Run(projectName, "dev", cfg, buildPlatform, nil))
	second := plan.Snapshot(plan.Run(projectName, "dev", cfg, buildPlatform, nil))
	assert.Equal(t, first, second, "two runs plan the same text")
	assert.NotContains(t, first, "ghp_supersecretvalue")
	assert.NotContains(t, first, testAPIKey)
	assert.Contains(t, first, `"[secret]"`)
}

func TestPlanCommand_rendersTreeMermaidAndDOT(t *testing.T) {
	t.Parallel()
	res := plan.Run(projectName, "prod", fixtureConfig(t, "prod"), buildPlatform, nil)
	require.NoError(t, res.Err)
	tree := plan.Tree(res)
	assert.Contains(t, tree, "stack prod: "+strconv.Itoa(len(res.Resources))+" resources")
	assert.Contains(t, tree, "└─ ")
	assert.Contains(t, tree, "kubeconfig = [secret]")
	assert.Contains(t, tree, "eks:index:Cluster cluster-eks  name=eks-gitops-platform-prod")
	assert.NotContains(t, tree, testAPIKey)
	mermaid := plan.Mermaid(res)
	assert.True(t, strings.HasPrefix(mermaid, "flowchart LR\n"))
	assert.Contains(t, mermaid, "r_nodes_aws_eks_nodeGroup_NodeGroup --> r_k8s_pulumi_providers_kubernetes", "the provider waits for the nodes")
	dot := plan.DOT(res)
	assert.True(t, strings.HasPrefix(dot, `digraph "prod" {`))
	assert.Contains(t, dot, "r_nodes_aws_eks_nodeGroup_NodeGroup -> r_k8s_pulumi_providers_kubernetes;")
	assert.Equal(t, strings.Count(dot, "{"), strings.Count(dot, "}"))
}
