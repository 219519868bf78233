package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/stacks"
)

// TestGraph_everyResourceBelongsToAComponent: only components and the Kubernetes provider sit at the top.
func TestGraph_everyResourceBelongsToAComponent(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, deployConfig(t, stack)).ok()
		for _, rec := range r.records {
			parent := r.byURN(rec.Parent)
			if parent == nil {
				assert.True(t, strings.HasPrefix(rec.Type, "platform:infra:") || rec.Type == k8sProvTy,
					"%s %s is not parented to a component", rec.Type, rec.Name)
				continue
			}
			assert.False(t, parent.Custom, "%s is parented to a component", rec.Name)
			assert.True(t, strings.HasPrefix(rec.Name, parent.Name), "child %s is named after its component %s", rec.Name, parent.Name)
		}
	}
}

func TestGraph_noDuplicateTypeAndName(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, deployConfig(t, stack)).ok()
		seen := map[string]bool{}
		for _, rec := range r.records {
			key := rec.Type + "::" + rec.Name
			assert.False(t, seen[key], "duplicate %s", key)
			seen[key] = true
		}
	}
}

func TestGraph_logicalNamesNeverUseListIndexes(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, deployConfig(t, stack)).ok()
		for _, rec := range r.records {
			last := rec.Name[strings.LastIndex(rec.Name, "-")+1:]
			assert.NotRegexp(t, `^[0-9]+$`, last, "%s ends in an index; key it by zone or name", rec.Name)
		}
	}
}

// TestGraph_everyComponentIsRegisteredOnceInBothStacks: each component of the design exists exactly once in
// both stacks (with deploy access on).
func TestGraph_everyComponentIsRegisteredOnceInBothStacks(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, deployConfig(t, stack)).ok()
		for _, typ := range []string{"Network", "Registry", "GitHubOIDC", "DeployAccess", "Cluster", "NodeGroup", "GitOps", "RoleBoundary"} {
			assert.Len(t, r.all("platform:infra:"+typ), 1, typ)
		}
	}
}

func TestProgram_mainRunsThroughStacksRun(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		require.NoError(t, runProgram(t, stack, fixtureConfig(t, stack)))
	}
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "main.go"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "pulumi.Run(stacks.Run)")
}

func TestOutputs_coverTheContractAndKeepKubeconfigSecret(t *testing.T) {
	t.Parallel()
	contract := []string{"vpcId", "privateSubnetIds", "publicSubnetIds", "clusterName", "kubeconfig", "ecrRepositoryUrl",
		"githubActionsRoleArn", "argocdNamespace", "serviceNamespace"}
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		for _, name := range contract {
			out, ok := r.outputs[name]
			if assert.True(t, ok, "output %s", name) {
				assert.True(t, out.Known, name)
				assert.Equal(t, name == stacks.OutputKubeconfig, out.Secret, "only the kubeconfig is secret: %s", name)
			}
		}
		assert.Equal(t, "network-vpc-id", r.outputs["vpcId"].Value)
		assert.Equal(t, ecrURLOf(stack), r.outputs["ecrRepositoryUrl"].Value)
		assert.Contains(t, r.outputs["githubActionsRoleArn"].Value, ":role/"+projectName+"/"+stack+"/github-push-role-")
		r = runStack(t, stack, deployConfig(t, stack)).ok()
		assert.Contains(t, r.outputs[stacks.OutputDeployRoleARN].Value, ":role/"+projectName+"/"+stack+"/deploy-deploy-role-")
		assert.Equal(t, stack == "prod", r.outputs[stacks.OutputProtected].Value,
			"the Deployments settings read whether merges may update the stack from it")
		if stack == "dev" {
			assert.Contains(t, r.outputs[stacks.OutputPreviewRoleARN].Value, ":role/"+projectName+"/"+stack+"/deploy-preview-role-")
		} else {
			assert.NotContains(t, r.outputs, stacks.OutputPreviewRoleARN, "no pull request previews of prod")
		}
	}
}

func ecrURLOf(stack string) string {
	return testAccount + ".dkr.ecr.us-east-1.amazonaws.com/" + stack + "/your-service"
}

// TestStackFiles_everyDevProdDifferenceIsDeliberate lists the keys that differ between the two stack files;
// a new difference must be added here (and so reviewed), and each listed one is asserted in the tests.
func TestStackFiles_everyDevProdDifferenceIsDeliberate(t *testing.T) {
	t.Parallel()
	dev, prod := fixtureConfig(t, "dev"), fixtureConfig(t, "prod")
	want := map[string]string{
		"aws:defaultTags": "environment tag", projectName + ":vpcCidr": "disjoint ranges so the VPCs can be peered",
		projectName + ":azCount": "prod spans 3 zones", projectName + ":natGateways": "prod has no zonal single point of failure",
		projectName + ":logRetentionDays": "prod keeps logs longer", projectName + ":endpointPublicAccessCidrs": "prod's API is not open to the internet",
		projectName + ":nodeInstanceTypes": "prod sizes", projectName + ":nodeMinSize": "redis-ha needs 3 nodes",
		projectName + ":nodeDesiredSize": "prod sizes", projectName + ":nodeMaxSize": "prod sizes",
		projectName + ":nodeDiskSizeGiB": "prod sizes", projectName + ":imageRetainCount": "prod keeps more images",
		projectName + ":protect": "prod is protected and HA",
	}
	got := map[string]bool{}
	for k, v := range dev.Values {
		if prod.Values[k] != v {
			got[k] = true
		}
	}
	for k := range prod.Values {
		if _, ok := dev.Values[k]; !ok {
			got[k] = true
		}
	}
	for k := range got {
		assert.Contains(t, want, k, "undeclared dev/prod difference in %s", k)
	}
	for k := range want {
		assert.True(t, got[k], "%s is expected to differ between dev and prod", k)
	}
	assert.Equal(t, "true", prod.Get("protect"))
	assert.Equal(t, "perAz", prod.Get("natGateways"))
	assert.NotContains(t, prod.Get("endpointPublicAccessCidrs"), "0.0.0.0/0")
}

// TestServiceKit_agreesWithThePlatformDefaults: the chart in examples/service is what the Application
// deploys by default, and it reads the Secret the platform creates.
func TestServiceKit_agreesWithThePlatformDefaults(t *testing.T) {
	t.Parallel()
	r := runStack(t, "dev", fixtureConfig(t, "dev")).ok()
	app, secret := r.single(applicationTy), r.single(secretTy)

	chartDir := filepath.Join(repoRoot(t), "examples", "service", app.Str("spec.source.path"))
	var chart struct{ Name string }
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	require.NoError(t, err, "the default chart path helm/<serviceName> exists in the kit")
	require.NoError(t, yaml.Unmarshal(b, &chart))
	assert.Equal(t, stacks.DefaultServiceName, chart.Name)

	var values struct {
		APIKeySecret  struct{ Name, Key string } `yaml:"apiKeySecret"`
		ContainerPort int                        `yaml:"containerPort"`
		Health        struct{ Path string }      `yaml:"health"`
		Image         struct{ Repository, Tag string }
	}
	b, err = os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &values))
	assert.Equal(t, infra.APIKeySecretKey, values.APIKeySecret.Key, "the chart reads the key the platform writes")
	assert.Empty(t, values.APIKeySecret.Name, "the chart defaults to <release>-secret")
	assert.Equal(t, app.Str("spec.source.helm.releaseName")+"-secret", secret.Str("metadata.name"),
		"<release>-secret is the platform's Secret because the Application pins the release name")
	assert.Equal(t, app.Str("spec.destination.namespace"), secret.Str("metadata.namespace"))
	assert.Equal(t, 8000, values.ContainerPort)
	assert.Equal(t, "/api/v1/health", values.Health.Path)
	assert.NotEmpty(t, values.Image.Tag)
	_, err = os.Stat(filepath.Join(chartDir, "templates", "secret.yaml"))
	assert.True(t, os.IsNotExist(err), "the platform owns the Secret; the chart must not template one")
}
