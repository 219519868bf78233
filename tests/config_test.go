package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

// contractKeys are the configuration keys of the design contract, with their declared types.
var contractKeys = map[string]string{
	"vpcCidr": "string", "azCount": "integer", "natGateways": "string", "kubernetesVersion": "string",
	"endpointPublicAccessCidrs": "array", "clusterAdminArns": "array", "nodeInstanceTypes": "array",
	"nodeCapacityType": "string", "nodeMinSize": "integer", "nodeDesiredSize": "integer", "nodeMaxSize": "integer",
	"nodeDiskSizeGiB": "integer", "serviceName": "string", "ecrRepositoryName": "string",
	"githubRepository": "string", "githubAllowedSubjects": "array", "githubOwnerId": "string",
	"githubRepositoryId": "string", "githubOidcProviderArn": "string", "argocdChartVersion": "string",
	"appRepoUrl": "string", "appChartPath": "string", "appTargetRevision": "string", "apiKey": "string",
	"pulumiOrganization": "string", "protect": "boolean",
}

func TestProjectFile_loadsWithPulumisLoaderAndDeclaresTheContract(t *testing.T) {
	t.Parallel()
	proj := loadProject(t)
	require.NoError(t, tokens.ValidateProjectName(string(proj.Name)))
	assert.Equal(t, projectName, string(proj.Name))
	assert.Equal(t, "go", proj.Runtime.Name())
	assert.NotEmpty(t, proj.Description)

	for key, typ := range contractKeys {
		decl, ok := proj.Config[key]
		if !assert.Truef(t, ok, "Pulumi.yaml declares %s", key) {
			continue
		}
		require.NotNilf(t, decl.Type, "%s has a type", key)
		assert.Equalf(t, typ, *decl.Type, "%s type", key)
	}
	for key, decl := range proj.Config {
		if strings.Contains(key, ":") {
			continue
		}
		assert.NotEmptyf(t, decl.Description, "Pulumi.yaml: %s has a description", key)
		if decl.Type != nil && *decl.Type == "array" {
			assert.NotNilf(t, decl.Items, "%s declares its item type", key)
		}
	}
	// The CLI refuses a stack that leaves out a declared key without a default, before the program runs, and a
	// secret key cannot carry a default. A stack that lists services has no apiKey (each service has its own
	// secret), so no key is required by the CLI: the secrets are declared without `secret`, with an empty default,
	// and the program requires apiKey without services and refuses every secret in plain text.
	var required []string
	for key, decl := range proj.Config {
		if !strings.Contains(key, ":") && decl.Default == nil && decl.Value == nil {
			required = append(required, key)
		}
	}
	assert.Empty(t, required, "keys the CLI requires on every stack")
	for _, key := range []string{"apiKey", "appRepoToken"} {
		assert.Falsef(t, proj.Config[key].Secret, "%s: a declared secret would be required on every stack", key)
		assert.Equalf(t, "", proj.Config[key].Default, "%s", key)
	}

	disabled, ok := proj.Config["pulumi:disable-default-providers"]
	require.True(t, ok, "Pulumi.yaml disables default providers")
	assert.Equal(t, []any{"kubernetes"}, disabled.Value)
}

func TestProjectFile_malformedFileIsRejectedByTheLoader(t *testing.T) {
	t.Parallel()
	// The loader check above is only meaningful if the loader rejects a broken file.
	dir := t.TempDir()
	path := filepath.Join(dir, "Pulumi.yaml")
	require.NoError(t, os.WriteFile(path, []byte("name: x\nruntime: 42\n"), 0o600))
	_, err := workspace.LoadProject(path)
	assert.Error(t, err)
}

// TestConfigDefaults_agreeWithPulumiYaml: the CLI applies Pulumi.yaml's defaults, the program applies its own
// (under mocks and for keys a stack leaves out): planning a minimal stack with every declared default set
// explicitly must give exactly the plan of the same stack without them.
func TestConfigDefaults_agreeWithPulumiYaml(t *testing.T) {
	t.Parallel()
	minimal := func() stackConfig {
		cfg := stackConfig{Project: projectName, Values: map[string]string{
			projectName + ":githubRepository":   "acme/shop",
			projectName + ":githubOwnerId":      "11",
			projectName + ":githubRepositoryId": "22",
			projectName + ":appRepoUrl":         "https://github.com/acme/shop.git",
		}}
		cfg.SetSecret("apiKey", testAPIKey)
		return cfg
	}
	withDefaults := minimal()
	var applied int
	for key, decl := range loadProject(t).Config {
		if decl.Default == nil || strings.Contains(key, ":") || withDefaults.Get(key) != "" {
			continue
		}
		withDefaults.Set(key, decl.Default)
		applied++
	}
	require.Greater(t, applied, 20, "Pulumi.yaml declares the defaults of the optional keys")
	implicit := runStack(t, "staging", minimal()).ok().result
	explicit := runStack(t, "staging", withDefaults).ok().result
	assert.Equal(t, plan.Snapshot(implicit), plan.Snapshot(explicit))
}

// TestConfig_minimalStackUsesDefaults: a stack file with only the required keys runs, with the documented
// defaults (the program applies them, not only the CLI).
func TestConfig_minimalStackUsesDefaults(t *testing.T) {
	t.Parallel()
	cfg := stackConfig{Project: projectName, Values: map[string]string{
		projectName + ":githubRepository":   "acme/shop",
		projectName + ":githubOwnerId":      "11",
		projectName + ":githubRepositoryId": "22",
		projectName + ":appRepoUrl":         "https://github.com/acme/shop.git",
	}}
	cfg.SetSecret("apiKey", testAPIKey)
	r := runStack(t, "staging", cfg).ok()
	assert.Equal(t, stacks.DefaultVPCCIDR, r.single("aws:ec2/vpc:Vpc").Str("cidrBlock"))
	assert.Len(t, r.all("aws:ec2/natGateway:NatGateway"), 1)
	assert.Equal(t, "staging/your-service", r.single("aws:ecr/repository:Repository").Str("name"),
		"the repository name carries the stack so stacks sharing an account never collide")
	assert.Equal(t, "helm/your-service", r.single("kubernetes:argoproj.io/v1alpha1:Application").Str("spec.source.path"))
	assert.Equal(t, stacks.DefaultKubernetesVersion, r.single(eksClusterTy).Str("version"))
	assert.Equal(t, []string{"repo:acme@11/shop@22:ref:refs/heads/main"},
		jsonInput[trustDoc](t, r.one("aws:iam/role:Role", "github-push-role"), "assumeRolePolicy").Statement[0].Condition["StringEquals"]["token.actions.githubusercontent.com:sub"])
}

type invalidCase struct {
	name  string
	set   map[string]any
	plain []string // keys to store in plain text instead of as secrets
	want  []string // substrings the error must contain
}

var invalidConfigs = []invalidCase{
	{"cidr does not parse", map[string]any{"vpcCidr": "10.0.0/16"}, nil, []string{"vpcCidr:", `"10.0.0/16"`}},
	{"cidr too large", map[string]any{"vpcCidr": "10.0.0.0/8"}, nil, []string{"vpcCidr:", "/16 to /24", "/8"}},
	{"cidr too small", map[string]any{"vpcCidr": "10.0.0.0/26"}, nil, []string{"vpcCidr:", "/26"}},
	{"cidr host bits", map[string]any{"vpcCidr": "10.0.1.0/16"}, nil, []string{"vpcCidr:", "10.0.0.0/16"}},
	{"one zone", map[string]any{"azCount": 1}, nil, []string{"azCount:", "between 2 and 4", "got 1"}},
	{"az count not a number", map[string]any{"azCount": "three"}, nil, []string{"azCount:", "integer", `"three"`}},
	{"unknown nat mode", map[string]any{"natGateways": "none"}, nil, []string{"natGateways:", `"single" or "perAz"`, `"none"`}},
	{"unsupported kubernetes", map[string]any{"kubernetesVersion": "1.21"}, nil, []string{"kubernetesVersion:", "1.32, 1.33, 1.34", `"1.21"`}},
	{"min above desired", map[string]any{"nodeMinSize": 3, "nodeDesiredSize": 2}, nil, []string{"nodeDesiredSize: must be >= nodeMinSize (3), got 2"}},
	{"desired above max", map[string]any{"nodeDesiredSize": 2, "nodeMaxSize": 1}, nil, []string{"nodeMaxSize: must be >= nodeDesiredSize (2), got 1"}},
	{"max zero", map[string]any{"nodeMinSize": 0, "nodeDesiredSize": 0, "nodeMaxSize": 0}, nil, []string{"nodeMaxSize: must be >= 1, got 0"}},
	{"negative min", map[string]any{"nodeMinSize": -1}, nil, []string{"nodeMinSize: must be >= 0, got -1"}},
	{"no instance types", map[string]any{"nodeInstanceTypes": []string{}}, nil, []string{"nodeInstanceTypes:", "at least one"}},
	{"mixed architectures", map[string]any{"nodeInstanceTypes": []string{"m6i.large", "m7g.large"}}, nil, []string{"nodeInstanceTypes:", "arm64"}},
	{"bad capacity type", map[string]any{"nodeCapacityType": "RESERVED"}, nil, []string{"nodeCapacityType:", "ON_DEMAND or SPOT"}},
	{"repository without owner", map[string]any{"githubRepository": "your-service"}, nil, []string{"githubRepository:", "owner/name", `"your-service"`}},
	{"repository with bad characters", map[string]any{"githubRepository": "acme/shop!"}, nil, []string{"githubRepository:", `"acme/shop!"`}},
	{"missing repository", map[string]any{"githubRepository": nil}, nil, []string{"githubRepository: is required", "pulumi config set githubRepository"}},
	{"wildcard subject", map[string]any{"githubAllowedSubjects": []string{"*"}}, nil, []string{"githubAllowedSubjects:", `"*"`, "no wildcards"}},
	{"wildcard branch", map[string]any{"githubAllowedSubjects": []string{"ref:refs/heads/*"}}, nil, []string{"githubAllowedSubjects:", `"ref:refs/heads/*"`}},
	{"bare branch name", map[string]any{"githubAllowedSubjects": []string{"main"}}, nil, []string{"githubAllowedSubjects:", `"main"`}},
	{"non-numeric ids", map[string]any{"githubOwnerId": "acme", "githubRepositoryId": "shop"}, nil, []string{"githubOwnerId: must be GitHub's numeric ID", "githubRepositoryId: must be GitHub's numeric ID"}},
	{"admin arn malformed", map[string]any{"clusterAdminArns": []string{"admin"}}, nil, []string{"clusterAdminArns:", `"admin"`, "role or user ARN"}},
	{"admin arn is a group", map[string]any{"clusterAdminArns": []string{"arn:aws:iam::123456789012:group/admins"}}, nil, []string{"clusterAdminArns:", "group/admins"}},
	{"provider arn of another issuer", map[string]any{"githubOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/example.com"}, nil, []string{"githubOidcProviderArn:", "token.actions.githubusercontent.com"}},
	{"endpoint cidr malformed", map[string]any{"endpointPublicAccessCidrs": []string{"office"}}, nil, []string{"endpointPublicAccessCidrs:", `"office"`}},
	{"open endpoint in prod", map[string]any{"protect": true, "natGateways": "perAz", "nodeMinSize": 3, "nodeDesiredSize": 3, "endpointPublicAccessCidrs": []string{"0.0.0.0/0"}}, nil, []string{"endpointPublicAccessCidrs: must not contain 0.0.0.0/0 when protect is true"}},
	{"single nat in prod", map[string]any{"protect": true, "natGateways": "single", "nodeMinSize": 3, "nodeDesiredSize": 3, "endpointPublicAccessCidrs": []string{}}, nil, []string{`natGateways: must be "perAz" when protect is true`}},
	{"too few nodes for ha", map[string]any{"protect": true, "natGateways": "perAz", "nodeMinSize": 2, "endpointPublicAccessCidrs": []string{}}, nil, []string{"nodeMinSize: must be >= 3 when protect is true"}},
	{"chart version range", map[string]any{"argocdChartVersion": "^9.1"}, nil, []string{"argocdChartVersion:", "exact chart version", `"^9.1"`}},
	{"missing app repo", map[string]any{"appRepoUrl": nil}, nil, []string{"appRepoUrl: is required"}},
	{"app repo not a git url", map[string]any{"appRepoUrl": "ftp://example.com/x"}, nil, []string{"appRepoUrl:", "https://"}},
	{"absolute chart path", map[string]any{"appChartPath": "/helm/x"}, nil, []string{"appChartPath:", "relative path"}},
	{"service name not a dns label", map[string]any{"serviceName": "Your_Service"}, nil, []string{"serviceName:", "DNS label", `"Your_Service"`}},
	{"bad ecr name", map[string]any{"ecrRepositoryName": "Shop"}, nil, []string{"ecrRepositoryName:", `"Shop"`}},
	{"missing api key", map[string]any{"apiKey": nil}, nil, []string{"apiKey: is required and missing", "pulumi config set --secret apiKey"}},
	{"plaintext api key", map[string]any{}, []string{"apiKey"}, []string{"apiKey: is stored in plain text", "pulumi config set --secret apiKey"}},
	{"protect not a boolean", map[string]any{"protect": "yes please"}, nil, []string{"protect: must be true or false"}},
	{"disk too small", map[string]any{"nodeDiskSizeGiB": 8}, nil, []string{"nodeDiskSizeGiB:", "got 8"}},
	{"pulumi org malformed", map[string]any{"pulumiOrganization": "acme corp"}, nil, []string{"pulumiOrganization:", `"acme corp"`}},
	{"infra repository malformed", map[string]any{"infraRepository": "infra"}, nil, []string{"infraRepository:", `"infra"`}},
	{"infra ids without repository", map[string]any{"infraRepositoryOwnerId": "1", "infraRepositoryId": "2"}, nil, []string{"infraRepositoryOwnerId: is only used with infraRepository", "infraRepositoryId: is only used with infraRepository"}},
	{"infra repository id alone", map[string]any{"infraRepositoryId": "2"}, nil, []string{"infraRepositoryId: is only used with infraRepository; set infraRepository too, or unset infraRepositoryId"}},
	{"infra repository without ids", map[string]any{"infraRepository": "acme/infra", "infraRepositoryId": "2"}, nil, []string{
		"infraRepositoryOwnerId: is required: GitHub sends repositories created, renamed or transferred after 2026-07-15 only the subject repo:OWNER@OWNER_ID/REPO@REPO_ID",
		"gh api repos/acme/infra --jq '.owner.id, .id'"}},
	{"service repository without ids", map[string]any{"githubOwnerId": nil, "githubRepositoryId": nil}, nil, []string{
		"githubOwnerId: is required", "githubRepositoryId: is required", "gh api repos/your-org/your-service --jq '.owner.id, .id'"}},
	{"capitals in the pulumi organization", map[string]any{"pulumiOrganization": "Acme"}, nil, []string{`pulumiOrganization: must be lowercase`, `use "acme"`}},
	{"unknown flow", map[string]any{"deployWith": "jenkins"}, nil, []string{`deployWith: must be "deployments" or "github-actions", got "jenkins"`}},
	{"deployments without an organization", map[string]any{"deployWith": "deployments"}, nil, []string{`deployWith: is "deployments", which needs pulumiOrganization`}},
	{"github actions without the repository", map[string]any{"deployWith": "github-actions"}, nil, []string{`deployWith: is "github-actions", which needs infraRepository`}},
	{"trust policy over IAM's size", map[string]any{"githubAllowedSubjects": manyRefs(40)}, nil, []string{"githubAllowedSubjects: make the push role's trust policy", "IAM accepts 2048 (quota ACLSizePerRole)"}},
	{"ssh app repo url", map[string]any{"appRepoUrl": "git@github.com:acme/shop.git"}, nil, []string{"appRepoUrl: must be an https:// URL", `"git@github.com:acme/shop.git"`}},
	{"plaintext repo token", map[string]any{"appRepoToken": "t0ken"}, []string{"appRepoToken"}, []string{"appRepoToken: is stored in plain text", "pulumi config set --secret appRepoToken"}},
	// Values that pass a syntax check but that AWS, EKS or Kubernetes refuse.
	{"log retention CloudWatch does not offer", map[string]any{"logRetentionDays": 10}, nil, []string{"logRetentionDays: must be one of CloudWatch Logs' retention periods 1, 3, 5, 7, 14, 30", "got 10"}},
	{"log retention zero", map[string]any{"logRetentionDays": 0}, nil, []string{"logRetentionDays:", "got 0"}},
	{"public vpc range", map[string]any{"vpcCidr": "8.8.0.0/16"}, nil, []string{"vpcCidr: must be a private range", "8.8.0.0/16"}},
	{"link-local vpc range", map[string]any{"vpcCidr": "169.254.0.0/16"}, nil, []string{"vpcCidr: must be a private range"}},
	{"too many endpoint ranges", map[string]any{"endpointPublicAccessCidrs": manyCIDRs(41)}, nil, []string{"endpointPublicAccessCidrs: lists 41 ranges; EKS accepts at most 40"}},
	{"endpoint range twice", map[string]any{"endpointPublicAccessCidrs": []string{"198.51.100.7/32", "198.51.100.7/32"}}, nil, []string{"endpointPublicAccessCidrs: lists 198.51.100.7/32 twice"}},
	{"private endpoint range", map[string]any{"endpointPublicAccessCidrs": []string{"10.0.0.0/8"}}, nil, []string{"endpointPublicAccessCidrs: 10.0.0.0/8 is a private range"}},
	{"admin twice", map[string]any{"clusterAdminArns": []string{"arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/a"}}, nil, []string{"clusterAdminArns: lists arn:aws:iam::123456789012:role/a twice"}},
	{"instance type twice", map[string]any{"nodeInstanceTypes": []string{"m6i.large", "m6i.large"}}, nil, []string{"nodeInstanceTypes: lists m6i.large twice"}},
	{"more nodes than a nodegroup holds", map[string]any{"nodeMaxSize": 451}, nil, []string{"nodeMaxSize: must be at most 450", "got 451"}},
	{"service named argocd", map[string]any{"serviceName": "argocd"}, nil, []string{`serviceName: "argocd" names a namespace`}},
	{"service named kube-system", map[string]any{"serviceName": "kube-system"}, nil, []string{`serviceName: "kube-system" names a namespace`}},
	{"service named default", map[string]any{"serviceName": "default"}, nil, []string{`serviceName: "default" names a namespace`}},
}

func manyRefs(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("ref:refs/heads/release-%d", i))
	}
	return out
}

func manyCIDRs(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("198.51.100.%d/32", i))
	}
	return out
}

func TestConfig_invalidValuesAreRejectedBeforeAnyResource(t *testing.T) {
	t.Parallel()
	require.GreaterOrEqual(t, len(invalidConfigs), 15)
	for _, tc := range invalidConfigs {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fixtureConfig(t, "dev")
			for k, v := range tc.set {
				if s, ok := v.(string); ok && k == "appRepoToken" {
					cfg.SetSecret(k, s)
					continue
				}
				cfg.Set(k, v)
			}
			for _, k := range tc.plain {
				cfg.Unsecret(k)
			}
			r := runStack(t, "dev", cfg)
			require.Error(t, r.err)
			for _, want := range tc.want {
				assert.Contains(t, r.err.Error(), want)
			}
			assert.Empty(t, r.records, "nothing may be registered when the configuration is invalid")
		})
	}
}

// TestConfig_documentationRangeIsRefusedByUpAndOnlyWarnedInPreview: the shipped prod file's placeholder
// endpoint range lets previews and the offline plan run, and `pulumi up` refuses it before anything is built.
func TestConfig_documentationRangeIsRefusedByUpAndOnlyWarnedInPreview(t *testing.T) {
	t.Parallel()
	for _, cidr := range []string{"203.0.113.0/24", "198.51.100.0/24", "192.0.2.16/28"} {
		cfg := fixtureConfig(t, "prod")
		cfg.Set("endpointPublicAccessCidrs", []string{cidr})
		runStack(t, "prod", cfg).ok()
		cfg.Up = true
		r := runStack(t, "prod", cfg)
		require.Error(t, r.err, cidr)
		assert.Contains(t, r.err.Error(), "endpointPublicAccessCidrs: "+cidr+" is a documentation range (RFC 5737)")
		assert.Contains(t, r.err.Error(), "pulumi config set --path 'endpointPublicAccessCidrs[0]' <egress CIDR>")
		assert.Empty(t, r.records, "refused before anything is built")
	}
	cfg := withQuickStart(fixtureConfig(t, "prod"))
	cfg.Set("endpointPublicAccessCidrs", []string{"93.184.216.0/24"})
	cfg.Up = true
	runStack(t, "prod", cfg).ok()
}

// TestConfig_shippedServiceRepositoryIsRefusedByUpAndOnlyWarnedInPreview: the template's stack files name
// your-org/your-service with example IDs. A stack deployed with them would have its push role trust, and Argo CD
// sync, whatever a stranger publishes under that name: previews and the offline plan warn, `pulumi up` refuses
// every such key at once, each with its command, before anything is built.
func TestConfig_shippedServiceRepositoryIsRefusedByUpAndOnlyWarnedInPreview(t *testing.T) {
	t.Parallel()
	for _, stack := range []string{"dev", "prod"} {
		cfg := fixtureConfig(t, stack)
		cfg.Set("endpointPublicAccessCidrs", []string{"93.184.216.0/24"})
		cfg.Set("infraRepository", "Your-Org/platform")
		cfg.Set("infraRepositoryOwnerId", stacks.PlaceholderOwnerID)
		cfg.Set("infraRepositoryId", "300000003")
		want := []string{
			"githubRepository: your-org/your-service is the shipped placeholder: set your service repository with `pulumi config set githubRepository <owner/name>`",
			"githubOwnerId: 100000001 is the shipped example ID: set the repository's own with `pulumi config set githubOwnerId <id>`",
			"githubRepositoryId: 200000002 is the shipped example ID: set the repository's own with `pulumi config set githubRepositoryId <id>`",
			"appRepoUrl: https://github.com/your-org/your-service.git is the shipped placeholder: set the https URL of your service repository with `pulumi config set appRepoUrl <URL>`",
			"infraRepository: Your-Org/platform is the shipped placeholder",
			"infraRepositoryOwnerId: 100000001 is the shipped example ID",
		}
		var warnings []string
		res := plan.Run(projectName, stack, cfg, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
			p, err := stacks.Build(ctx)
			if err != nil {
				return nil, err
			}
			warnings = p.Warnings
			return p.Outputs(), nil
		}, nil)
		require.NoError(t, res.Err, "the preview runs")
		for _, w := range want {
			assert.Containsf(t, strings.Join(warnings, "\n"), w, "%s: the preview warns", stack)
		}
		cfg.Up = true
		r := runStack(t, stack, cfg)
		require.Error(t, r.err, stack)
		for _, w := range want {
			assert.Contains(t, r.err.Error(), w)
		}
		assert.NotContains(t, r.err.Error(), "infraRepositoryId:", "300000003 is nobody's placeholder")
		assert.Empty(t, r.records, "refused before anything is built")

		cfg = withQuickStart(fixtureConfig(t, stack))
		cfg.Set("endpointPublicAccessCidrs", []string{"93.184.216.0/24"})
		cfg.Up = true
		runStack(t, stack, cfg).ok()
		// A real owner whose ID happens to be the example's, beside a real name, is theirs.
		cfg.Set("githubOwnerId", stacks.PlaceholderOwnerID)
		runStack(t, stack, cfg).ok()
		// A URL whose first path segment is not the placeholder owner.
		cfg.Set("appRepoUrl", "https://gitlab.example.com/acme/your-org/shop.git")
		runStack(t, stack, cfg).ok()
	}
}

// TestConfig_stackNameLongerThanAClusterNameIsRefused: EKS names are at most 100 characters.
func TestConfig_stackNameLongerThanAClusterNameIsRefused(t *testing.T) {
	t.Parallel()
	stack := strings.Repeat("s", 100-len(projectName))
	r := runStack(t, stack, fixtureConfig(t, "dev"))
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "the cluster is named <project>-<stack>, which EKS allows 100 characters, got 101")
	runStack(t, stack[1:], fixtureConfig(t, "dev")).ok()
}

func TestConfig_reportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.Set("vpcCidr", "nonsense")
	cfg.Set("azCount", 9)
	cfg.Set("nodeMaxSize", 0)
	cfg.Set("githubAllowedSubjects", []string{"*"})
	cfg.Set("apiKey", nil)
	r := runStack(t, "dev", cfg)
	require.Error(t, r.err)
	for _, key := range []string{"vpcCidr:", "azCount:", "nodeMaxSize:", "githubAllowedSubjects:", "apiKey:"} {
		assert.Contains(t, r.err.Error(), key)
	}
	assert.Empty(t, r.records)
}

func TestConfig_azCountMustFitTheRegion(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.Set("azCount", 3)
	r := runStackWith(t, "dev", cfg, func(e *plan.Engine) { e.Zones = []string{"eu-south-2a", "eu-south-2b"} })
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "azCount: must be at most 2, the number of available zones in this region (eu-south-2a, eu-south-2b), got 3")
	assert.Empty(t, r.records)
	assert.Contains(t, r.invokes, "aws:index/getAvailabilityZones:getAvailabilityZones")
}

func TestConfig_errorMessagesNameTheKeyFirst(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.Set("natGateways", "many")
	r := runStack(t, "dev", cfg)
	require.Error(t, r.err)
	assert.Regexp(t, regexp.MustCompile(`(?m)^  - natGateways: must be "single" or "perAz", got "many"$`), r.err.Error())
}
