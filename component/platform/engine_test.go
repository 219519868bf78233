package platform_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/component/platform"
	"github.com/example/eks-gitops-platform/tests/engine/standin"
)

// consumer is what a program in another language declares: the remote component and some of its outputs.
type consumer struct {
	pulumi.ResourceState
	ClusterName pulumi.StringOutput `pulumi:"clusterName"`
	Kubeconfig  pulumi.StringOutput `pulumi:"kubeconfig"`
	ServiceRole pulumi.StringOutput `pulumi:"serviceRoleArn"`
}

const consumerAPIKey = "consumer-api-key-5e2d-never-in-plaintext"

// TestEngine_aConsumerProgramBuildsThePlatformThroughTheRealEngine runs the real Pulumi CLI and engine on a program
// that, like a TypeScript or Python one, only registers the remote eks-gitops:index:Platform: the engine starts
// the provider binary (found on PATH, as an installed plugin is) and calls its Construct; the component's
// children go to the stand-in aws, eks and kubernetes providers. Then the state holds the whole platform under
// the component, no plain-text API key, and a secret kubeconfig output; destroy removes it all.
func TestEngine_aConsumerProgramBuildsThePlatformThroughTheRealEngine(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	out, err := run(t, "..", nil, "go", "build", "-o", filepath.Join(bin, "pulumi-resource-eks-gitops"), ".")
	require.NoError(t, err, out)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	providers, err := standin.Start(ctx)
	require.NoError(t, err)

	state, home, dir := t.TempDir(), t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: acme-platform\nruntime: go\n"), 0o600))
	program := func(ctx *pulumi.Context) error {
		var p consumer
		err := ctx.RegisterRemoteComponentResource(platform.Token, "platform", pulumi.Map{
			"githubRepository":   pulumi.String("acme/shop"),
			"githubOwnerId":      pulumi.String("61000001"),
			"githubRepositoryId": pulumi.String("62000002"),
			"appRepoUrl":         pulumi.String("https://github.com/acme/shop.git"),
			"apiKey":             pulumi.ToSecret(pulumi.String(consumerAPIKey)),
			"serviceIamStatements": pulumi.Array{pulumi.Map{"effect": pulumi.String("Allow"),
				"action": pulumi.ToStringArray([]string{"s3:GetObject"}), "resource": pulumi.ToStringArray([]string{"arn:aws:s3:::acme-assets/*"})}},
		}, &p)
		if err != nil {
			return err
		}
		ctx.Export("clusterName", p.ClusterName)
		ctx.Export("kubeconfig", p.Kubeconfig)
		ctx.Export("serviceRoleArn", p.ServiceRole)
		return nil
	}
	cli, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Dir(filepath.Dir(tool(t, "bin/pulumi"))), SkipVersionCheck: true})
	require.NoError(t, err)
	ws, err := auto.NewLocalWorkspace(ctx, auto.WorkDir(dir), auto.Program(program), auto.Pulumi(cli), auto.PulumiHome(home),
		auto.EnvVars(map[string]string{
			"PULUMI_BACKEND_URL":                          "file://" + state,
			"PULUMI_CONFIG_PASSPHRASE":                    "component-engine-test",
			"PULUMI_SKIP_UPDATE_CHECK":                    "true",
			"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
			"PULUMI_DEBUG_PROVIDERS":                      providers.Env,
			"PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK":    "true",
			"PATH": bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		}))
	require.NoError(t, err)
	stack, err := auto.UpsertStack(ctx, "dev", ws)
	require.NoError(t, err)
	require.NoError(t, stack.SetConfig(ctx, "aws:region", auto.ConfigValue{Value: standin.Region}))

	res, err := stack.Up(ctx, optup.SuppressProgress())
	require.NoError(t, err, res.StdOut+res.StdErr)
	assert.Equal(t, "acme-platform-dev", res.Outputs["clusterName"].Value, "named after the consumer's project and stack")
	assert.True(t, res.Outputs["kubeconfig"].Secret, "the kubeconfig output is secret")
	assert.Contains(t, res.Outputs["serviceRoleArn"].Value, ":role/acme-platform/dev/service-identity-role-")

	// The checkpoint file itself (an export would decrypt its secrets).
	var checkpoint []byte
	require.NoError(t, filepath.Walk(state, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(path) == "dev.json" {
			checkpoint, err = os.ReadFile(path)
		}
		return err
	}))
	require.NotEmpty(t, checkpoint)
	assert.NotContains(t, string(checkpoint), consumerAPIKey, "the API key is encrypted in the state")
	var file struct {
		Checkpoint apitype.CheckpointV3 `json:"checkpoint"`
	}
	require.NoError(t, json.Unmarshal(checkpoint, &file))
	deployment := file.Checkpoint.Latest
	require.NotNil(t, deployment)
	var component string
	parents := map[string]string{}
	types := map[string]int{}
	for _, r := range deployment.Resources {
		parents[string(r.URN)] = string(r.Parent)
		types[string(r.Type)]++
		if string(r.Type) == platform.Token {
			component = string(r.URN)
		}
	}
	require.NotEmpty(t, component, "the component is in the state")
	for _, typ := range []string{"aws:ec2/vpc:Vpc", "aws:eks/nodeGroup:NodeGroup", "aws:ecr/repository:Repository",
		"kubernetes:helm.sh/v3:Release", "kubernetes:argoproj.io/v1alpha1:Application", "aws:eks/podIdentityAssociation:PodIdentityAssociation"} {
		assert.Positivef(t, types[typ], "the state holds a %s", typ)
	}
	for _, r := range deployment.Resources {
		if r.Custom && strings.HasPrefix(string(r.Type), "pulumi:providers:") && r.Parent == "" {
			continue // default providers
		}
		if string(r.Type) == "pulumi:pulumi:Stack" || string(r.URN) == component {
			continue
		}
		ancestor := string(r.URN)
		for ancestor != "" && parents[ancestor] != component {
			ancestor = parents[ancestor]
		}
		assert.NotEmptyf(t, ancestor, "%s is a descendant of the component", r.URN)
	}

	destroyed, err := stack.Destroy(ctx, optdestroy.SuppressProgress())
	require.NoError(t, err, destroyed.StdOut+destroyed.StdErr)
}
