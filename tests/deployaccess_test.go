package tests

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

const (
	infraRepo   = "acme/platform-infra"
	infraOwner  = "300000003"
	infraRepoID = "400000004"
	// infraSubject is the immutable subject prefix GitHub sends for the infrastructure repository.
	infraSubject = "repo:acme@" + infraOwner + "/platform-infra@" + infraRepoID + ":"
)

// deployConfig is a fixture with every delivery feature on: Pulumi Deployments deploys, and the infrastructure
// repository's pull requests preview (unprotected stacks only).
func deployConfig(t *testing.T, stack string) stackConfig {
	cfg := fixtureConfig(t, stack)
	cfg.Set("pulumiOrganization", "acme")
	withInfraRepository(cfg)
	return cfg
}

// githubDeployConfig is a fixture deployed by GitHub Actions of the infrastructure repository.
func githubDeployConfig(t *testing.T, stack string) stackConfig {
	cfg := fixtureConfig(t, stack)
	withInfraRepository(cfg)
	cfg.Set("deployWith", "github-actions")
	return cfg
}

func withInfraRepository(cfg stackConfig) {
	cfg.Set("infraRepository", infraRepo)
	cfg.Set("infraRepositoryOwnerId", infraOwner)
	cfg.Set("infraRepositoryId", infraRepoID)
}

// trustStatements returns a role's trust statements keyed by issuer host.
func trustStatements(t *testing.T, r *run, roleName string) map[string]infra.Statement {
	t.Helper()
	doc := jsonInput[trustDoc](t, r.one("aws:iam/role:Role", roleName), "assumeRolePolicy")
	out := map[string]infra.Statement{}
	for _, st := range doc.Statement {
		require.Len(t, st.Principal.Federated, 1)
		host := st.Principal.Federated[0][strings.Index(st.Principal.Federated[0], "oidc-provider/")+len("oidc-provider/"):]
		out[host] = st
	}
	return out
}

func TestDeployAccess_notCreatedWithoutAFlow(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		assert.Empty(t, r.all("platform:infra:DeployAccess"))
		assert.NotContains(t, r.outputs, stacks.OutputDeployRoleARN)
		assert.NotContains(t, r.outputs, stacks.OutputPreviewRoleARN)
		assert.NotContains(t, r.outputs, stacks.OutputProtected)
	}
}

// TestDeployAccess_deployRoleTrustsExactlyOneIssuer: the deploy role trusts the configured flow and nothing
// else, so that no automation can reach it another way (a dev GitHub job starting a prod Deployment, say).
func TestDeployAccess_deployRoleTrustsExactlyOneIssuer(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, deployConfig(t, stack)).ok()
		deploy := trustStatements(t, r, "deploy-deploy-role")
		require.Len(t, deploy, 1, "Pulumi Deployments only, although the infrastructure repository is configured")
		st := deploy["api.pulumi.com/oidc"]
		assert.Equal(t, []string{"sts:AssumeRoleWithWebIdentity"}, st.Action)
		require.Len(t, st.Condition, 1, "only StringEquals")
		eq := st.Condition["StringEquals"]
		assert.Equal(t, []string{"acme"}, eq["api.pulumi.com/oidc:aud"])
		prefix := "pulumi:deploy:org:acme:project:" + projectName + ":stack:" + stack + ":operation:"
		assert.ElementsMatch(t, []string{prefix + "update:scope:write", prefix + "refresh:scope:write", prefix + "detect-drift:scope:write"},
			eq["api.pulumi.com/oidc:sub"], "no destroy (a laptop tears a stack down), no preview (pull request code), no remediate-drift (an unreviewed update)")
		p := r.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "deploy-pulumi-provider")
		assert.Equal(t, "https://api.pulumi.com/oidc", p.Str("url"))
		assert.Equal(t, []string{"acme"}, p.Strs("clientIdLists"))

		r = runStack(t, stack, githubDeployConfig(t, stack)).ok()
		deploy = trustStatements(t, r, "deploy-deploy-role")
		require.Len(t, deploy, 1, "GitHub Actions only")
		gh := deploy["token.actions.githubusercontent.com"]
		assert.Equal(t, []string{infraSubject + "environment:" + stack}, gh.Condition["StringEquals"]["token.actions.githubusercontent.com:sub"],
			"only jobs in the stack's GitHub environment (with its reviewers), in the immutable subject form")
		for _, p := range r.all("aws:iam/openIdConnectProvider:OpenIdConnectProvider") {
			assert.NotEqual(t, "https://api.pulumi.com/oidc", p.Str("url"), "no Pulumi issuer for a GitHub Actions flow")
		}
	}
}

// TestDeployAccess_pullRequestsPreviewOnlyUnprotectedStacks: pull request code reads the configuration it
// previews, secrets included, so only dev gets a preview role; it trusts pull requests, in the immutable form.
func TestDeployAccess_pullRequestsPreviewOnlyUnprotectedStacks(t *testing.T) {
	t.Parallel()
	dev := runStack(t, "dev", deployConfig(t, "dev")).ok()
	preview := trustStatements(t, dev, "deploy-preview-role")
	require.Len(t, preview, 1)
	st := preview["token.actions.githubusercontent.com"]
	github := "arn:aws:iam::" + testAccount + ":oidc-provider/token.actions.githubusercontent.com"
	assert.Equal(t, []string{github}, st.Principal.Federated, "the same provider as the push role")
	assert.Equal(t, []string{"sts.amazonaws.com"}, st.Condition["StringEquals"]["token.actions.githubusercontent.com:aud"])
	assert.Equal(t, []string{infraSubject + "pull_request"}, st.Condition["StringEquals"]["token.actions.githubusercontent.com:sub"])
	assert.Contains(t, dev.outputs, stacks.OutputPreviewRoleARN)

	prod := runStack(t, "prod", deployConfig(t, "prod")).ok()
	for _, role := range prod.all("aws:iam/role:Role") {
		assert.NotContains(t, role.Str("assumeRolePolicy"), "pull_request", "%s: no pull request reaches prod", role.Name)
	}
	assert.NotContains(t, prod.outputs, stacks.OutputPreviewRoleARN)
	for _, e := range prod.all("aws:eks/accessEntry:AccessEntry") {
		assert.NotContains(t, e.Name, "preview")
	}
}

func TestDeployAccess_nameSubjectsOnlyWhenOptedIn(t *testing.T) {
	t.Parallel()
	cfg := githubDeployConfig(t, "prod")
	cfg.Set("githubNameSubjects", true)
	r := runStack(t, "prod", cfg).ok()
	assert.ElementsMatch(t, []string{infraSubject + "environment:prod", "repo:" + infraRepo + ":environment:prod"},
		trustStatements(t, r, "deploy-deploy-role")["token.actions.githubusercontent.com"].Condition["StringEquals"]["token.actions.githubusercontent.com:sub"])
}

func TestDeployAccess_previewRoleReadsButNeverWhatNodesBootWith(t *testing.T) {
	t.Parallel()
	r := runStack(t, "dev", deployConfig(t, "dev")).ok()
	policy := jsonInput[trustDoc](t, r.one("aws:iam/rolePolicy:RolePolicy", "deploy-preview-policy"), "policy")
	readVerbs := []string{"Describe", "Get", "List"}
	var denied []string
	for _, st := range policy.Statement {
		if st.Effect == "Deny" {
			denied = append(denied, st.Action...)
			continue
		}
		if st.Sid == "DecryptTheStacksSecrets" {
			// The one non-read: the CLI decrypts the stack's configuration (awskms secrets provider) before a
			// preview runs, with the key behind the quick start's alias only.
			assert.Equal(t, []string{"kms:Decrypt"}, st.Action)
			assert.Equal(t, []string{"arn:aws:kms:us-east-1:" + testAccount + ":key/*"}, st.Resource)
			assert.Equal(t, map[string]map[string][]string{"ForAnyValue:StringEquals": {"kms:ResourceAliases": {infra.SecretsKeyAlias}}}, st.Condition)
			continue
		}
		for _, a := range st.Action {
			_, verb, _ := strings.Cut(a, ":")
			assert.True(t, slices.ContainsFunc(readVerbs, func(v string) bool { return strings.HasPrefix(verb, v) }), "%s is not a read", a)
			if strings.HasPrefix(a, "ssm:") {
				assert.Equal(t, []string{"arn:aws:ssm:*::parameter/aws/service/*"}, st.Resource, "never the account's own parameters")
			}
		}
	}
	assert.ElementsMatch(t, infra.UserDataReads, denied)
	for _, a := range []string{"ec2:DescribeLaunchTemplateVersions", "ec2:DescribeInstanceAttribute", "ec2:GetPasswordData"} {
		assert.Contains(t, denied, a)
	}
}

// TestDeployAccess_deployRoleChangesNoRoleOrPolicy: the deploy role may pass and tag the stack's roles, never
// create, re-trust, widen or delete one (IAM has no condition on a trust policy's content, so a role it could
// create could trust anyone), and never change a repository policy or create a cluster.
func TestDeployAccess_deployRoleChangesNoRoleOrPolicy(t *testing.T) {
	t.Parallel()
	r := runStack(t, "prod", deployConfig(t, "prod")).ok()
	policy := jsonInput[trustDoc](t, r.one("aws:iam/rolePolicy:RolePolicy", "deploy-deploy-policy"), "policy")
	boundaryARN := "arn:aws:iam::" + testAccount + ":policy/" + projectName + "/prod/roles-policy-1a2b3c4"
	stackRoles := "arn:aws:iam::" + testAccount + ":role/" + projectName + "/prod/*"
	denied := map[string][]string{}
	allowed := map[string][]string{}
	for _, st := range policy.Statement {
		for _, res := range st.Resource {
			if st.Effect == "Deny" {
				denied[res] = append(denied[res], st.Action...)
			} else {
				allowed[res] = append(allowed[res], st.Action...)
			}
		}
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Action {
			assert.NotEqual(t, "*", a)
			assert.NotEqual(t, "iam:*", a)
			assert.NotContains(t, infra.RoleChanges, a, "the deploy role changes no role or policy")
		}
		if slices.Contains(st.Action, "iam:PassRole") {
			assert.Equal(t, []string{stackRoles}, st.Resource)
			assert.ElementsMatch(t, infra.PassedToServices, st.Condition["StringEquals"]["iam:PassedToService"])
		}
		if slices.Contains(st.Action, "iam:CreateServiceLinkedRole") {
			assert.ElementsMatch(t, infra.ServiceLinkedRoleServices, st.Condition["StringEquals"]["iam:AWSServiceName"])
		}
		if slices.Contains(st.Action, "eks:*") {
			cluster := "arn:aws:eks:us-east-1:" + testAccount + ":"
			assert.ElementsMatch(t, []string{
				cluster + "cluster/" + projectName + "-prod", cluster + "nodegroup/" + projectName + "-prod/*",
				cluster + "addon/" + projectName + "-prod/*", cluster + "access-entry/" + projectName + "-prod/*",
				cluster + "podidentityassociation/" + projectName + "-prod/*", "arn:aws:eks::aws:cluster-access-policy/*",
			}, st.Resource, "eks changes only to this stack's cluster, never another cluster in the account")
		}
		for _, a := range st.Action {
			if strings.HasPrefix(a, "ecr:") && a != "ecr:GetAuthorizationToken" && a != "ecr:DescribeRegistry" && a != "ecr:DescribeRepositories" {
				assert.Equal(t, []string{"arn:aws:ecr:us-east-1:" + testAccount + ":repository/prod/your-service"}, st.Resource,
					"%s only on this stack's repository", a)
			}
		}
	}
	assert.Subset(t, denied["*"], infra.RoleChanges, "role, policy and credential changes are denied")
	for _, a := range append([]string{"eks:CreateCluster"}, infra.RepositoryPolicyChanges...) {
		assert.Contains(t, denied["*"], a)
	}
	assert.ElementsMatch(t, []string{"iam:TagRole", "iam:UntagRole", "iam:PassRole"}, allowed[stackRoles], "tags and pass only")
	stackPolicies := "arn:aws:iam::" + testAccount + ":policy/" + projectName + "/prod/*"
	assert.ElementsMatch(t, []string{"iam:TagPolicy", "iam:UntagPolicy"}, allowed[stackPolicies],
		"the tags of the stack's boundaries only (the roles' and the service role's)")
	assert.True(t, strings.HasPrefix(boundaryARN, strings.TrimSuffix(stackPolicies, "*")), "which include the roles' boundary")
	shared := "arn:aws:iam::" + testAccount + ":oidc-provider/token.actions.githubusercontent.com"
	assert.Contains(t, denied[shared], "iam:DeleteOpenIDConnectProvider", "the shared issuers are never deleted")
	assert.Contains(t, denied[shared], "iam:AddClientIDToOpenIDConnectProvider", "nor re-pointed")
}

// TestRoles_liveUnderTheStackPathAndCarryTheBoundary: every role is under /<project>/<stack>/, and every role
// but the deploy role (which may change no role) is capped by the boundary.
func TestRoles_liveUnderTheStackPathAndCarryTheBoundary(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, deployConfig(t, stack)).ok()
		boundary := r.one("aws:iam/policy:Policy", "roles-policy")
		roles := r.all("aws:iam/role:Role")
		want := 7 // flow logs, push, node, cluster service, autoscaler, deploy and preview
		if stack == "prod" {
			want = 6 // no pull request previews
		}
		require.Len(t, roles, want)
		for _, role := range roles {
			assert.Equal(t, "/"+projectName+"/"+stack+"/", role.Str("path"), role.Name)
			if role.Name == "deploy-deploy-role" {
				assert.Empty(t, role.Str("permissionsBoundary"))
				continue
			}
			assert.Contains(t, role.PropertyDeps["permissionsBoundary"], boundary.URN, "%s carries the boundary", role.Name)
		}
	}
}

// TestBoundary_writesOnlyTheStacksOwnResources: the boundary allows no EKS writes, ECR pushes only to the stack's
// repository, scaling only of this cluster's groups, flow log writes only to the stack's group, and no IAM but
// reads and the load balancers' service-linked role.
func TestBoundary_writesOnlyTheStacksOwnResources(t *testing.T) {
	t.Parallel()
	r := runStack(t, "prod", fixtureConfig(t, "prod")).ok()
	doc := jsonInput[trustDoc](t, r.one("aws:iam/policy:Policy", "roles-policy"), "policy")
	repo := "arn:aws:ecr:us-east-1:" + testAccount + ":repository/prod/your-service"
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			continue
		}
		for _, a := range st.Action {
			service, verb, _ := strings.Cut(a, ":")
			read := slices.ContainsFunc([]string{"Describe", "Get", "List", "BatchGet", "BatchCheck"}, func(v string) bool { return strings.HasPrefix(verb, v) })
			switch {
			case read:
			case service == "eks":
				t.Errorf("the boundary allows the EKS write %s", a)
			case service == "ecr":
				assert.Equal(t, []string{repo}, st.Resource, "%s only on the stack's repository", a)
			case service == "autoscaling":
				assert.Equal(t, []string{"owned"}, st.Condition["StringEquals"]["aws:ResourceTag/k8s.io/cluster-autoscaler/"+projectName+"-prod"], a)
			case service == "iam":
				assert.Equal(t, "iam:CreateServiceLinkedRole", a)
				assert.Equal(t, []string{"elasticloadbalancing.amazonaws.com"}, st.Condition["StringEquals"]["iam:AWSServiceName"])
			case service == "logs":
				group := infra.LogGroupARN(infra.Account{Partition: "aws", Region: "us-east-1", ID: testAccount}, "/aws/vpc-flow-logs/"+projectName+"-prod")
				assert.Equal(t, []string{group, group + ":*"}, st.Resource, a)
			case service == "kms":
				assert.Equal(t, []string{"arn:aws:kms:us-east-1:" + testAccount + ":key/*"}, st.Resource, "%s only on this account's keys", a)
			case service == "eks-auth":
				assert.Equal(t, []string{"arn:aws:eks:us-east-1:" + testAccount + ":cluster/" + projectName + "-prod"}, st.Resource, a)
			case service == "ec2" || service == "elasticloadbalancing":
				// The VPC CNI's and the in-tree cloud provider's writes (AmazonEKS_CNI_Policy, AmazonEKSClusterPolicy).
			default:
				t.Errorf("the boundary allows %s, in a service none of the stack's roles writes to", a)
			}
		}
	}
}

func TestDeployAccess_rolesGetEKSAccessEntries(t *testing.T) {
	t.Parallel()
	r := runStack(t, "dev", deployConfig(t, "dev")).ok()
	assoc := map[string][]map[string]any{}
	for _, a := range r.all("aws:eks/accessPolicyAssociation:AccessPolicyAssociation") {
		principal := a.Str("principalArn")
		assoc[principal] = append(assoc[principal], map[string]any{"policy": a.Str("policyArn"), "scope": a.In("accessScope")})
	}
	deployARN := r.outputs[stacks.OutputDeployRoleARN].Value.(string)
	previewARN := r.outputs[stacks.OutputPreviewRoleARN].Value.(string)
	assert.ElementsMatch(t, []map[string]any{
		{"policy": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", "scope": map[string]any{"type": "cluster"}},
	}, assoc[deployARN])
	assert.ElementsMatch(t, []map[string]any{
		{"policy": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "scope": map[string]any{"type": "cluster"}},
	}, assoc[previewARN], "view only: a pull request must never read Argo CD's signing key or the repository token")
	for _, e := range r.all("aws:eks/accessEntry:AccessEntry") {
		assert.Contains(t, []string{deployARN, previewARN}, e.Str("principalArn"))
	}
}

func TestDeployAccess_existingPulumiProviderIsReused(t *testing.T) {
	t.Parallel()
	existing := "arn:aws:iam::" + testAccount + ":oidc-provider/api.pulumi.com/oidc"
	cfg := deployConfig(t, "dev")
	cfg.Set("pulumiOidcProviderArn", existing)
	r := runStack(t, "dev", cfg).ok()
	for _, p := range r.all("aws:iam/openIdConnectProvider:OpenIdConnectProvider") {
		assert.NotEqual(t, "https://api.pulumi.com/oidc", p.Str("url"))
	}
	assert.Equal(t, []string{existing}, trustStatements(t, r, "deploy-deploy-role")["api.pulumi.com/oidc"].Principal.Federated)
}

// TestDeployAccess_anAccountOfItsOwn: a stack with a deploy role refuses an account that holds another stack of
// the project, and any stack refuses an account where another stack has a deploy role, before anything exists.
func TestDeployAccess_anAccountOfItsOwn(t *testing.T) {
	t.Parallel()
	role := func(stack, name string) string {
		return "arn:aws:iam::" + testAccount + ":role/" + projectName + "/" + stack + "/" + name
	}
	cases := []struct {
		name  string
		cfg   stackConfig
		roles []string
		want  string
	}{
		{"deploy role beside another stack", deployConfig(t, "prod"), []string{role("dev", "cluster-node-role-1")},
			"deployWith: this stack's deploy role would reach stack " + projectName + "/dev in the same account: give this stack an AWS account of its own, or deploy it from a laptop only"},
		{"beside another stack's deploy role", fixtureConfig(t, "prod"), []string{role("dev", "deploy-deploy-role-1")},
			"deployWith: stack " + projectName + "/dev has a deploy role in this account, which reaches this stack's resources: move one of the two to an AWS account of its own, or remove that deploy role"},
		{"deploy role beside a stack of a program using the component", deployConfig(t, "prod"),
			[]string{"arn:aws:iam::" + testAccount + ":role/acme-platform/prod/cluster-node-role-9"},
			"deployWith: this stack's deploy role would reach stack acme-platform/prod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runStackWith(t, "prod", tc.cfg, func(e *plan.Engine) { e.Roles = tc.roles })
			require.Error(t, r.err)
			assert.Contains(t, r.err.Error(), tc.want)
			assert.Contains(t, r.err.Error(), "each stack with automated deploys needs an AWS account of its own")
			assert.Empty(t, r.records)
			assert.Contains(t, r.invokes, "aws:iam/getRoles:getRoles")
		})
	}
	// Its own roles, and two laptop-deployed stacks side by side, are fine.
	runStackWith(t, "prod", deployConfig(t, "prod"), func(e *plan.Engine) { e.Roles = []string{role("prod", "deploy-deploy-role-1")} }).ok()
	runStackWith(t, "prod", fixtureConfig(t, "prod"), func(e *plan.Engine) { e.Roles = []string{role("dev", "cluster-node-role-1")} }).ok()
}
