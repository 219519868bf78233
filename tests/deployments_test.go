package tests

// Tests of the Pulumi Deployments settings program (deployments/): what each platform stack's
// DeploymentSettings say, run under a mock that answers the stack references. The real CLI and engine run it
// against real platform stacks in tests/engine.

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/deployments/settings"
	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

// settingsMock answers stack references with each platform stack's outputs and records the settings.
type settingsMock struct {
	outputs  map[string]map[string]any // stack reference name -> outputs
	mu       sync.Mutex
	settings map[string]*plan.Resource // stack -> DeploymentSettings
	drift    map[string]*plan.Resource // stack -> DriftSchedule
}

func (m *settingsMock) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	switch args.TypeToken {
	case "pulumi:pulumi:StackReference":
		name := args.Inputs["name"].StringValue()
		outs, ok := m.outputs[name]
		if !ok {
			return "", nil, fmt.Errorf("no stack %s", name)
		}
		return name, resource.NewPropertyMapFromMap(map[string]any{"name": name, "outputs": outs, "secretOutputNames": []any{}}), nil
	case "pulumiservice:index:DeploymentSettings":
		m.mu.Lock()
		m.settings[args.Inputs["stack"].StringValue()] = &plan.Resource{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs}
		m.mu.Unlock()
		return args.Name + "-id", args.Inputs, nil
	case "pulumiservice:index:DriftSchedule":
		m.mu.Lock()
		m.drift[args.Inputs["stack"].StringValue()] = &plan.Resource{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs,
			Dependencies: args.RegisterRPC.GetDependencies()}
		m.mu.Unlock()
		return args.Name + "-id", args.Inputs, nil
	}
	return "", nil, fmt.Errorf("unexpected resource %s", args.TypeToken)
}

func (m *settingsMock) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unmocked invoke %s", args.Token)
}

const (
	settingsOrg  = "acme"
	settingsRepo = "acme/platform-infra"
	prodPoolID   = "0b0e7c2e-6f2f-4d5e-9a52-5c3f8e7a9d41"
)

func deployRoleOf(stack string) string {
	return "arn:aws:iam::" + testAccount + ":role/" + projectName + "/" + stack + "/deploy-deploy-role-1a2b3c4"
}

// platformOutputs are the outputs of the fixture stacks that the settings read.
func platformOutputs() map[string]map[string]any {
	return map[string]map[string]any{
		settingsOrg + "/" + projectName + "/dev": {stacks.OutputDeployRoleARN: deployRoleOf("dev"), stacks.OutputDeployWith: stacks.DeployWithDeployments,
			stacks.OutputAPIPublicAccessCIDRs: []any{"0.0.0.0/0"}, stacks.OutputProtected: false},
		settingsOrg + "/" + projectName + "/prod": {stacks.OutputDeployRoleARN: deployRoleOf("prod"), stacks.OutputDeployWith: stacks.DeployWithDeployments,
			stacks.OutputAPIPublicAccessCIDRs: []any{"198.51.100.0/24"}, stacks.OutputProtected: true},
	}
}

// runSettings runs the settings program with a configuration (namespace-less keys) over the platform outputs.
func runSettings(t *testing.T, cfg map[string]string, outputs map[string]map[string]any) (map[string]*plan.Resource, error) {
	t.Helper()
	settings, _, err := runSettingsAndDrift(t, cfg, outputs)
	return settings, err
}

// runSettingsAndDrift is runSettings with the drift schedules, by stack.
func runSettingsAndDrift(t *testing.T, cfg map[string]string, outputs map[string]map[string]any) (map[string]*plan.Resource, map[string]*plan.Resource, error) {
	t.Helper()
	m := &settingsMock{outputs: outputs, settings: map[string]*plan.Resource{}, drift: map[string]*plan.Resource{}}
	values := map[string]string{}
	for k, v := range cfg {
		values["eks-gitops-platform-deployments:"+k] = v
	}
	err := pulumi.RunErr(settings.Run, pulumi.WithMocks("eks-gitops-platform-deployments", "settings", m),
		func(info *pulumi.RunInfo) { info.Config = values })
	return m.settings, m.drift, err
}

// TestDeploymentSettings_prodDriftIsDetectedDailyAndNeverRemediatedByItself: Pulumi Deployments runs a preview-only
// refresh of prod every day and reports what changed outside Pulumi; correcting it is a reviewed change, never an
// automatic update. dev has none by default; the list is configurable and names listed stacks only.
func TestDeploymentSettings_prodDriftIsDetectedDailyAndNeverRemediatedByItself(t *testing.T) {
	t.Parallel()
	_, drift, err := runSettingsAndDrift(t, validSettingsConfig(), platformOutputs())
	require.NoError(t, err)
	require.Equal(t, []string{"prod"}, keysOf(drift))
	d := drift["prod"]
	assert.Equal(t, settingsOrg, d.Str("organization"))
	assert.Equal(t, projectName, d.Str("project"))
	assert.Equal(t, settings.DriftSchedule, d.Str("scheduleCron"))
	assert.Regexp(t, `^\d+ \d+ \* \* \*$`, d.Str("scheduleCron"), "once a day")
	assert.Equal(t, false, d.In("autoRemediate"), "detection only")
	require.Len(t, d.Dependencies, 1, "after the stack's deployment settings, which its runs use")
	assert.Contains(t, d.Dependencies[0], "pulumiservice:index:DeploymentSettings::prod")

	cfg := validSettingsConfig()
	cfg["driftDetection"] = `["dev","prod"]`
	_, drift, err = runSettingsAndDrift(t, cfg, platformOutputs())
	require.NoError(t, err)
	assert.Equal(t, []string{"dev", "prod"}, keysOf(drift))

	cfg["driftDetection"] = `["staging"]`
	_, _, err = runSettingsAndDrift(t, cfg, platformOutputs())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `driftDetection: names stack "staging", which stacks does not list`)
}

func validSettingsConfig() map[string]string {
	return map[string]string{
		"organization": settingsOrg, "repository": settingsRepo, "stacks": `["dev","prod"]`,
		"runnerPools": `{"prod":"` + prodPoolID + `"}`,
	}
}

// TestDeploymentSettings_deployMergesToMainAndNeverPreviewWithTheDeployRole: merges to main update an unprotected
// stack; a protected one (prod), for which Pulumi Deployments offers no approval step, is updated only when a person
// starts it; so is a stack that does not yet say whether it is protected.
func TestDeploymentSettings_deployMergesToMainAndNeverPreviewWithTheDeployRole(t *testing.T) {
	t.Parallel()
	got, err := runSettings(t, validSettingsConfig(), platformOutputs())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"dev", "prod"}, keysOf(got))
	for stack, s := range got {
		assert.Equal(t, settingsOrg, s.Str("organization"))
		assert.Equal(t, projectName, s.Str("project"))
		assert.Equal(t, "main", s.Str("sourceContext.git.branch"))
		assert.Equal(t, ".", s.Str("sourceContext.git.repoDir"), "Pulumi.yaml is at the repository root")
		assert.Nil(t, s.In("sourceContext.git.commit"), "a fixed commit would never move")
		assert.Nil(t, s.In("sourceContext.git.repoUrl"), "the GitHub app source names the repository itself")
		assert.Nil(t, s.In("github"), "the deprecated github block is not used")
		assert.Equal(t, "github", s.Str("vcs.provider"))
		assert.Equal(t, settingsRepo, s.Str("vcs.repository"))
		assert.Equal(t, stack == "dev", s.In("vcs.deployCommits"), "only the unprotected dev deploys merges, not %s", stack)
		assert.Equal(t, false, s.In("vcs.previewPullRequests"), "pull request code never runs with the deploy role")
		assert.Equal(t, false, s.In("vcs.pullRequestTemplate"), "no review stacks of a whole EKS platform")
	}

	outputs := platformOutputs()
	delete(outputs[settingsOrg+"/"+projectName+"/dev"], stacks.OutputProtected)
	outputs[settingsOrg+"/"+projectName+"/prod"][stacks.OutputProtected] = false
	got, err = runSettings(t, validSettingsConfig(), outputs)
	require.NoError(t, err)
	assert.Equal(t, false, got["dev"].In("vcs.deployCommits"), "a stack that does not say it is unprotected is not deployed by merges")
	assert.Equal(t, true, got["prod"].In("vcs.deployCommits"), "an unprotected stack is, whatever its name")
}

func TestDeploymentSettings_triggerOnlyOnChangesToTheProgramOrTheirOwnStack(t *testing.T) {
	t.Parallel()
	got, err := runSettings(t, validSettingsConfig(), platformOutputs())
	require.NoError(t, err)
	for stack, s := range got {
		filters := s.Strs("vcs.paths")
		require.NotEmpty(t, filters, "without filters every push deploys")
		other := map[string]string{"dev": "prod", "prod": "dev"}[stack]
		for _, changed := range []string{"main.go", "stacks/config.go", "infra/cluster.go", "go.mod", "go.sum",
			"Pulumi.yaml", "Pulumi." + stack + ".yaml"} {
			assert.Truef(t, dlvTriggers(filters, changed), "a change to %s deploys %s", changed, stack)
		}
		for _, changed := range []string{"README.md", "docs/delivery.md", "infra/README.md", "examples/service/main.py",
			"tests/delivery_test.go", "infra/cluster_test.go", ".github/workflows/deploy.yml", ".ci/run",
			"Pulumi." + other + ".yaml", "deployments/settings/settings.go", "deployments/Pulumi.settings.yaml"} {
			assert.Falsef(t, dlvTriggers(filters, changed), "a change to %s alone does not deploy %s", changed, stack)
		}
	}
}

// TestDeploymentSettings_assumeTheStacksOwnDeployRoleForTheLongestUpdate: the role comes from the stack's
// own output, never typed in; the session outlives the slowest update and fits the role's maximum.
func TestDeploymentSettings_assumeTheStacksOwnDeployRoleForTheLongestUpdate(t *testing.T) {
	t.Parallel()
	got, err := runSettings(t, validSettingsConfig(), platformOutputs())
	require.NoError(t, err)
	session := regexp.MustCompile(`^[\w+=,.@-]{2,64}$`) // STS RoleSessionName
	for stack, s := range got {
		assert.Equal(t, deployRoleOf(stack), s.Str("operationContext.oidc.aws.roleARN"))
		assert.Regexp(t, session, s.Str("operationContext.oidc.aws.sessionName"))
		assert.Contains(t, s.Str("operationContext.oidc.aws.sessionName"), stack, "CloudTrail shows which stack's deployment acted")
		d, err := time.ParseDuration(s.Str("operationContext.oidc.aws.duration"))
		require.NoError(t, err)
		assert.Equal(t, infra.DeploySession, d)
		assert.Nil(t, s.In("operationContext.oidc.azure"))
		assert.Nil(t, s.In("operationContext.oidc.gcp"))
		for name := range s.In("operationContext.environmentVariables").(map[string]any) {
			assert.NotContains(t, strings.ToUpper(name), "AWS_", "no AWS credentials beside the OIDC exchange")
		}
	}
	assert.Less(t, infra.LongestUpdate, infra.DeploySession, "the session outlives the longest update")
	assert.LessOrEqual(t, infra.DeploySession, infra.DeployRoleMaxSession, "within the deploy role's maximum")
	assert.LessOrEqual(t, infra.DeployRoleMaxSession, 12*time.Hour, "IAM's largest MaxSessionDuration")
}

func TestDeploymentSettings_installTheSameVerifiedKubectlAsTheWorkflows(t *testing.T) {
	t.Parallel()
	download := regexp.MustCompile(`https://dl\.k8s\.io/release/(v\d+\.\d+\.\d+)/bin/linux/amd64/kubectl`)
	verify := regexp.MustCompile(`echo "([0-9a-f]{64})  (\S+)" \| sha256sum --check`)
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	got, err := runSettings(t, validSettingsConfig(), platformOutputs())
	require.NoError(t, err)
	for _, s := range got {
		cmds := s.Strs("operationContext.preRunCommands")
		at := slices.IndexFunc(cmds, func(c string) bool { return download.MatchString(c) })
		require.GreaterOrEqual(t, at, 0, "a pre-run command downloads kubectl")
		install := cmds[at]
		assert.Equal(t, wf.Env["KUBECTL_VERSION"], download.FindStringSubmatch(install)[1])
		m := verify.FindStringSubmatch(install)
		require.NotNil(t, m, "the download is checked against a pinned SHA-256")
		assert.Equal(t, wf.Env["KUBECTL_SHA256"], m[1])
		assert.Greater(t, strings.Index(install, "install -m 0755 "+m[2]+" /usr/local/bin/kubectl"),
			strings.Index(install, "sha256sum --check"), "installed only once verified")
		assert.NotContains(t, install, "||", "every step of the install must succeed")
		assert.NotContains(t, install, ";", "every step of the install must succeed")
		assert.Contains(t, cmds[at+1:], `test "$(command -v kubectl)" = /usr/local/bin/kubectl && kubectl version --client`,
			"the runner image has its own kubectl; the pinned one must be the one found")
		assert.Contains(t, cmds, "aws --version", "pulumi-eks runs the AWS CLI")
		assert.Contains(t, cmds, "go version")
		assert.Equal(t, "auto", s.Str("operationContext.environmentVariables.GOTOOLCHAIN"))
		assert.Equal(t, false, s.In("operationContext.options.skipInstallDependencies"))
		assert.Equal(t, true, s.In("operationContext.options.skipIntermediateDeployments"), "a burst of merges deploys the newest only")
		assert.Equal(t, false, s.In("operationContext.options.deleteAfterDestroy"), "the stack and its history outlive a destroy")
	}
}

// TestDeploymentSettings_runAStackWhoseAPIIsNotOpenOnItsRunnerPool: Pulumi-hosted runners have no fixed
// addresses, so a stack whose endpoint admits only listed ranges deploys on a customer-managed pool, or the
// settings refuse it with the command that fixes it.
func TestDeploymentSettings_runAStackWhoseAPIIsNotOpenOnItsRunnerPool(t *testing.T) {
	t.Parallel()
	got, err := runSettings(t, validSettingsConfig(), platformOutputs())
	require.NoError(t, err)
	assert.Equal(t, prodPoolID, got["prod"].Str("agentPoolId"))
	assert.Nil(t, got["dev"].In("agentPoolId"), "dev's API is open: Pulumi-hosted runners reach it")

	cfg := validSettingsConfig()
	delete(cfg, "runnerPools")
	_, err = runSettings(t, cfg, platformOutputs())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "runnerPools: stack prod admits only [198.51.100.0/24] to its API")
	assert.Contains(t, err.Error(), "pulumi config set --path 'runnerPools.prod' <pool ID>")
}

func TestDeploymentSettings_refuseAStackWithoutADeployRole(t *testing.T) {
	t.Parallel()
	outputs := platformOutputs()
	delete(outputs[settingsOrg+"/"+projectName+"/dev"], stacks.OutputDeployRoleARN)
	_, err := runSettings(t, validSettingsConfig(), outputs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stack dev has no deployRoleArn output: set pulumiOrganization on it and run `pulumi up` there first")
}

func TestDeploymentSettings_badConfigurationNamesEveryKey(t *testing.T) {
	t.Parallel()
	_, err := runSettings(t, map[string]string{"repository": "infra", "runnerPools": `{"staging":"pool"}`}, platformOutputs())
	require.Error(t, err)
	for _, want := range []string{"organization: is required", `repository: must be owner/name`,
		`runnerPools: names stack "staging"`, `runnerPools: staging: "pool" is not an agent pool ID`} {
		assert.Contains(t, err.Error(), want)
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
