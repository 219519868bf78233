package engine_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/deployments/settings"
	"github.com/example/eks-gitops-platform/stacks"
	"github.com/example/eks-gitops-platform/tests/engine/standin"
)

// TestDeploymentSettings_applyWithTheRealCLIFromThePlatformStacksOwnOutputs: the settings program runs under
// the real CLI against real platform stacks in the same backend: the stack references resolve, the role each
// stack deploys with is the one it exported, and prod, whose API admits only its listed range, gets its pool. Merges
// deploy dev alone: prod says it is protected, and a stack last updated by an older program says nothing (a warning).
func TestDeploymentSettings_applyWithTheRealCLIFromThePlatformStacksOwnOutputs(t *testing.T) {
	t.Parallel()
	b := shared(t).fork(t)
	roles := map[string]string{}
	for _, name := range []string{"dev", "prod"} {
		out, err := b.stack(name, stacks.Run).stack.Outputs(t.Context())
		require.NoError(t, err)
		roles[name] = out[stacks.OutputDeployRoleARN].Value.(string)
	}
	const pool = "0b0e7c2e-6f2f-4d5e-9a52-5c3f8e7a9d41"
	// The local backend's organization is "organization".
	s := b.settings("settings", []byte(`config:
  eks-gitops-platform-deployments:organization: organization
  eks-gitops-platform-deployments:repository: acme/platform-infra
  eks-gitops-platform-deployments:runnerPools:
    prod: `+pool+"\n"))
	b.prov.Journal.Reset()
	s.mustUp()
	created := map[string]bool{}
	for _, r := range s.resources() {
		if r.Type != "pulumiservice:index:DeploymentSettings" {
			continue
		}
		stack := r.Inputs["stack"].(string)
		created[stack] = true
		oidc := r.Inputs["operationContext"].(map[string]any)["oidc"].(map[string]any)["aws"].(map[string]any)
		assert.Equal(t, roles[stack], oidc["roleARN"], "%s deploys with the role it exported", stack)
		assert.Equal(t, settings.SessionDuration(), oidc["duration"])
		assert.Equal(t, false, r.Inputs["vcs"].(map[string]any)["previewPullRequests"])
		assert.Equal(t, stack == "dev", r.Inputs["vcs"].(map[string]any)["deployCommits"],
			"merges deploy the unprotected dev; prod, protected, waits for a person (its exported %s)", stacks.OutputProtected)
		if stack == "prod" {
			assert.Equal(t, pool, r.Inputs["agentPoolId"])
		} else {
			assert.Nil(t, r.Inputs["agentPoolId"])
		}
	}
	assert.Equal(t, map[string]bool{"dev": true, "prod": true}, created)
	var drift []string
	for _, r := range s.resources() {
		if r.Type == "pulumiservice:index:DriftSchedule" {
			drift = append(drift, r.Inputs["stack"].(string))
			assert.Equal(t, false, r.Inputs["autoRemediate"], "drift is reported, never corrected by itself")
			assert.Equal(t, settings.DriftSchedule, r.Inputs["scheduleCron"])
		}
	}
	assert.Equal(t, []string{"prod"}, drift, "prod's drift is detected")
	assert.Len(t, b.prov.Journal.Of(standin.OpCreate), 3, "the two settings and prod's drift schedule, and nothing else")

	// A stack last updated by an older program exports no protected output: the settings warn and do not let merges
	// deploy it. Its stack is made by a program that exports what an older release did.
	dir := t.TempDir()
	copyFile(t, filepath.Join(repoRoot(t), "Pulumi.yaml"), filepath.Join(dir, "Pulumi.yaml"))
	older := b.newStack("staging", dir, func(ctx *pulumi.Context) error {
		ctx.Export(stacks.OutputDeployRoleARN, pulumi.String(roles["dev"]))
		ctx.Export(stacks.OutputDeployWith, pulumi.String(stacks.DeployWithDeployments))
		ctx.Export(stacks.OutputAPIPublicAccessCIDRs, pulumi.ToStringArray([]string{"0.0.0.0/0"}))
		return nil
	})
	older.mustUp()
	for i, name := range []string{"dev", "prod", "staging"} {
		s.set(fmt.Sprintf("stacks[%d]", i), name)
	}
	withOlder := s.up()
	require.NoError(t, withOlder.err, withOlder.stdout)
	assert.Contains(t, withOlder.stdout, "stack staging exports no boolean protected output",
		"the real stack reference reads a missing output as no value, and the settings say so")
	deploysMerges := map[string]any{}
	for _, r := range s.resources() {
		if r.Type == "pulumiservice:index:DeploymentSettings" {
			deploysMerges[r.Inputs["stack"].(string)] = r.Inputs["vcs"].(map[string]any)["deployCommits"]
		}
	}
	assert.Equal(t, map[string]any{"dev": true, "prod": false, "staging": false}, deploysMerges,
		"merges deploy dev alone: prod is protected, staging does not say")

	// A stack whose deploy role trusts GitHub Actions gets no Deployments settings, which could not assume it.
	dev := b.stack("dev", stacks.Run)
	dev.set("deployWith", "github-actions")
	dev.mustUp()
	r := s.up()
	require.Error(t, r.err)
	assert.Contains(t, r.stdout+r.err.Error(), "stack dev: its deploy role trusts github-actions (deployWith), not Pulumi Deployments")
}
