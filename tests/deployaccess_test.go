package tests

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/stacks"
)

func deployConfig(t *testing.T, stack string) stackConfig {
	cfg := fixtureConfig(t, stack)
	cfg.Set("pulumiOrganization", "Acme")
	cfg.Set("infraRepository", "acme/platform-infra")
	return cfg
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

func TestDeployAccess_notCreatedWithoutAnOrganizationOrRepository(t *testing.T) {
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		assert.Empty(t, r.all("platform:infra:DeployAccess"))
		assert.NotContains(t, r.outputs, stacks.OutputDeployRoleARN)
		assert.NotContains(t, r.outputs, stacks.OutputPreviewRoleARN)
	}
}

func TestDeployAccess_pulumiTrustIsLimitedToThisStackAndItsOperations(t *testing.T) {
	for _, stack := range stackNames {
		r := runStack(t, stack, deployConfig(t, stack)).ok()
		p := r.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "deploy-pulumi-provider")
		assert.Equal(t, "https://api.pulumi.com/oidc", p.Str("url"))
		assert.Equal(t, []string{"acme"}, p.Strs("clientIdLists"), "audience is the organization, lowercase")

		prefix := "pulumi:deploy:org:Acme:project:" + projectName + ":stack:" + stack + ":operation:"
		deployOps := []string{"update", "refresh", "destroy"}
		if stack == "prod" {
			deployOps = []string{"update", "refresh"} // a protected stack is never destroyed by automation
		}
		for role, ops := range map[string][]string{"deploy-deploy-role": deployOps, "deploy-preview-role": {"preview"}} {
			st := trustStatements(t, r, role)["api.pulumi.com/oidc"]
			assert.Equal(t, []string{"sts:AssumeRoleWithWebIdentity"}, st.Action)
			require.Len(t, st.Condition, 1, "only StringEquals")
			eq := st.Condition["StringEquals"]
			assert.Equal(t, []string{"acme"}, eq["api.pulumi.com/oidc:aud"])
			var want []string
			for _, op := range ops {
				want = append(want, prefix+op+":scope:write")
			}
			assert.ElementsMatch(t, want, eq["api.pulumi.com/oidc:sub"], role)
			for _, sub := range eq["api.pulumi.com/oidc:sub"] {
				assert.NotContains(t, sub, "*", "no organization-wide subject")
			}
		}
	}
}

func TestDeployAccess_githubTrustSeparatesPullRequestsFromEnvironments(t *testing.T) {
	for _, stack := range stackNames {
		r := runStack(t, stack, deployConfig(t, stack)).ok()
		github := "arn:aws:iam::" + testAccount + ":oidc-provider/token.actions.githubusercontent.com"
		deploy := trustStatements(t, r, "deploy-deploy-role")["token.actions.githubusercontent.com"]
		preview := trustStatements(t, r, "deploy-preview-role")["token.actions.githubusercontent.com"]
		for _, st := range []infra.Statement{deploy, preview} {
			assert.Equal(t, []string{github}, st.Principal.Federated, "the same provider as the push role")
			assert.Equal(t, []string{"sts.amazonaws.com"}, st.Condition["StringEquals"]["token.actions.githubusercontent.com:aud"])
		}
		assert.Equal(t, []string{"repo:acme/platform-infra:environment:" + stack}, deploy.Condition["StringEquals"]["token.actions.githubusercontent.com:sub"],
			"only jobs in the stack's GitHub environment (with its reviewers) may deploy")
		assert.Equal(t, []string{"repo:acme/platform-infra:pull_request"}, preview.Condition["StringEquals"]["token.actions.githubusercontent.com:sub"])
	}
}

func TestDeployAccess_previewRoleIsReadOnly(t *testing.T) {
	r := runStack(t, "prod", deployConfig(t, "prod")).ok()
	policy := jsonInput[trustDoc](t, r.one("aws:iam/rolePolicy:RolePolicy", "deploy-preview-policy"), "policy")
	readVerbs := []string{"Describe", "Get", "List"}
	for _, st := range policy.Statement {
		assert.Equal(t, "Allow", st.Effect)
		for _, a := range st.Action {
			_, verb, _ := strings.Cut(a, ":")
			assert.True(t, slices.ContainsFunc(readVerbs, func(v string) bool { return strings.HasPrefix(verb, v) }), "%s is not a read", a)
			assert.NotEqual(t, "ec2:Get*", a, "ec2:Get* reads instance passwords and launch template user data")
			if strings.HasPrefix(a, "ssm:") {
				assert.Equal(t, []string{"arn:aws:ssm:*::parameter/aws/service/*"}, st.Resource, "never the account's own parameters")
			}
		}
	}
	for _, att := range r.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		assert.False(t, strings.HasPrefix(att.Str("role"), "deploy-"), "no managed policies on the deploy roles")
	}
}

func TestDeployAccess_deployRoleCannotMintLongLivedCredentialsOrChangeItself(t *testing.T) {
	r := runStack(t, "prod", deployConfig(t, "prod")).ok()
	policy := jsonInput[trustDoc](t, r.one("aws:iam/rolePolicy:RolePolicy", "deploy-deploy-policy"), "policy")
	self := r.outputs[stacks.OutputDeployRoleARN].Value.(string)
	boundary := r.one("aws:iam/policy:Policy", "roles-policy")
	require.Equal(t, "/"+projectName+"/prod/", boundary.Str("path"))
	boundaryARN := "arn:aws:iam::" + testAccount + ":policy/" + projectName + "/prod/roles-policy-1a2b3c4"
	stackRoles := "arn:aws:iam::" + testAccount + ":role/" + projectName + "/prod/*"
	oidcProviders := []string{
		"arn:aws:iam::" + testAccount + ":oidc-provider/token.actions.githubusercontent.com",
		"arn:aws:iam::" + testAccount + ":oidc-provider/api.pulumi.com/oidc",
		"arn:aws:iam::" + testAccount + ":oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/*",
	}
	serviceLinked := "arn:aws:iam::" + testAccount + ":role/aws-service-role/*"
	denied := map[string][]string{}
	for _, st := range policy.Statement {
		if st.Effect == "Deny" {
			for _, res := range st.Resource {
				denied[res] = append(denied[res], st.Action...)
			}
			continue
		}
		for _, a := range st.Action {
			assert.NotEqual(t, "*", a, "no full wildcard")
			assert.NotEqual(t, "iam:*", a, "IAM is limited to named actions")
		}
		writesIAM := slices.ContainsFunc(st.Action, func(a string) bool {
			return strings.HasPrefix(a, "iam:") && !strings.HasPrefix(a, "iam:Get") && !strings.HasPrefix(a, "iam:List")
		})
		tagsOnly := !slices.ContainsFunc(st.Action, func(a string) bool { return a != "iam:TagPolicy" && a != "iam:UntagPolicy" })
		if writesIAM && tagsOnly {
			assert.Equal(t, []string{boundaryARN}, st.Resource, "policy tags only on the boundary (aws:defaultTags)")
		} else if writesIAM {
			for _, res := range st.Resource {
				assert.Contains(t, append([]string{stackRoles, serviceLinked}, oidcProviders...), res,
					"IAM writes only on the stack's roles, OIDC providers and service-linked roles")
			}
			assert.NotContains(t, st.Action, "iam:CreatePolicyVersion", "no customer managed policies to rewrite")
		}
		for _, a := range []string{"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary"} {
			if slices.Contains(st.Action, a) {
				assert.Equal(t, []string{boundaryARN}, st.Condition["StringEquals"]["iam:PermissionsBoundary"],
					"%s only on roles that carry the platform's boundary", a)
			}
		}
		if slices.Contains(st.Action, "iam:PassRole") {
			assert.ElementsMatch(t, []string{"eks.amazonaws.com", "ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com"}, st.Condition["StringEquals"]["iam:PassedToService"])
		}
		if slices.Contains(st.Action, "eks:*") {
			cluster := "arn:aws:eks:us-east-1:" + testAccount + ":"
			assert.ElementsMatch(t, []string{
				cluster + "cluster/" + projectName + "-prod", cluster + "nodegroup/" + projectName + "-prod/*",
				cluster + "addon/" + projectName + "-prod/*", cluster + "access-entry/" + projectName + "-prod/*",
				"arn:aws:eks::aws:cluster-access-policy/*",
			}, st.Resource, "eks changes only to this stack's cluster, never another cluster in the account")
		}
		if slices.Contains(st.Action, "ecr:*") {
			assert.Equal(t, []string{"arn:aws:ecr:us-east-1:" + testAccount + ":repository/prod/your-service"}, st.Resource,
				"ecr changes only to this stack's repository")
		}
		if slices.ContainsFunc(st.Action, func(a string) bool { return strings.HasPrefix(a, "ssm:") }) {
			assert.Equal(t, []string{"arn:aws:ssm:*::parameter/aws/service/*"}, st.Resource, "only AWS's public parameters")
		}
	}
	for _, a := range []string{"iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "ec2:GetPasswordData"} {
		assert.Contains(t, denied["*"], a)
	}
	for _, a := range []string{"iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRolePolicy"} {
		assert.Contains(t, denied[self], a, "the deploy role cannot rewrite its own permissions or trust")
	}
	for _, a := range []string{"iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"} {
		assert.Contains(t, denied[boundaryARN], a, "the deploy role cannot loosen the boundary")
	}
	assert.Contains(t, denied["*"], "iam:DeleteRolePermissionsBoundary")
}

// TestRoles_liveUnderTheStackPathAndCarryTheBoundary: every role is under /<project>/<stack>/, and every role
// but the deploy role (which manages them) is capped by the boundary, which allows no IAM writes.
func TestRoles_liveUnderTheStackPathAndCarryTheBoundary(t *testing.T) {
	for _, stack := range stackNames {
		r := runStack(t, stack, deployConfig(t, stack)).ok()
		boundary := r.one("aws:iam/policy:Policy", "roles-policy")
		roles := r.all("aws:iam/role:Role")
		require.Len(t, roles, 6, "flow logs, push, node, cluster service, deploy and preview roles")
		for _, role := range roles {
			assert.Equal(t, "/"+projectName+"/"+stack+"/", role.Str("path"), role.Name)
			if role.Name == "deploy-deploy-role" {
				assert.Empty(t, role.Str("permissionsBoundary"), "the deploy role manages the boundary's roles")
				continue
			}
			assert.Contains(t, role.PropertyDeps["permissionsBoundary"], boundary.URN, "%s carries the boundary", role.Name)
		}
		doc := jsonInput[trustDoc](t, boundary, "policy")
		for _, st := range doc.Statement {
			for _, a := range st.Action {
				if strings.HasPrefix(a, "iam:") && st.Effect == "Allow" {
					assert.True(t, strings.HasPrefix(a, "iam:Get") || strings.HasPrefix(a, "iam:List") || a == "iam:CreateServiceLinkedRole",
						"the boundary allows %s", a)
				}
			}
		}
	}
}

// TestCluster_serviceRoleIsOursWithTheClusterPolicy: pulumi-eks gets the service role instead of creating one,
// so it carries the boundary; the cluster waits for its policy through an input.
func TestCluster_serviceRoleIsOursWithTheClusterPolicy(t *testing.T) {
	r := runStack(t, "prod", fixtureConfig(t, "prod")).ok()
	role := r.one("aws:iam/role:Role", "cluster-service-role")
	trust := jsonInput[trustDoc](t, role, "assumeRolePolicy")
	assert.Equal(t, []string{"eks.amazonaws.com"}, trust.Statement[0].Principal.Service)
	att := r.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "cluster-service-role-cluster-policy")
	assert.Equal(t, "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy", att.Str("policyArn"))
	c := r.single(eksClusterTy)
	assert.Equal(t, role.URN, c.In("serviceRole"), "a reference to our role")
	assert.Contains(t, c.PropertyDeps["clusterTags"], att.URN, "construction waits for the policy attachment")
}

func TestDeployAccess_rolesGetEKSAccessEntries(t *testing.T) {
	r := runStack(t, "prod", deployConfig(t, "prod")).ok()
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
	}, assoc[previewARN], "view only: a pull request must never read ArgoCD's signing key or the repository token")
	for _, e := range r.all("aws:eks/accessEntry:AccessEntry") {
		assert.Contains(t, []string{deployARN, previewARN}, e.Str("principalArn"))
	}
}

func TestDeployAccess_existingPulumiProviderIsReused(t *testing.T) {
	existing := "arn:aws:iam::" + testAccount + ":oidc-provider/api.pulumi.com/oidc"
	cfg := deployConfig(t, "dev")
	cfg.Set("pulumiOidcProviderArn", existing)
	r := runStack(t, "dev", cfg).ok()
	for _, p := range r.all("aws:iam/openIdConnectProvider:OpenIdConnectProvider") {
		assert.NotEqual(t, "https://api.pulumi.com/oidc", p.Str("url"))
	}
	assert.Equal(t, []string{existing}, trustStatements(t, r, "deploy-deploy-role")["api.pulumi.com/oidc"].Principal.Federated)
}

func TestDeployAccess_githubOnlyWithoutPulumiOrganization(t *testing.T) {
	cfg := fixtureConfig(t, "dev")
	cfg.Set("infraRepository", "acme/platform-infra")
	r := runStack(t, "dev", cfg).ok()
	for _, role := range []string{"deploy-deploy-role", "deploy-preview-role"} {
		st := trustStatements(t, r, role)
		assert.Len(t, st, 1)
		assert.Contains(t, st, "token.actions.githubusercontent.com")
	}
	assert.Contains(t, r.outputs, stacks.OutputDeployRoleARN)
}

func TestDeployAccess_infraRepositoryImmutableSubjectsWhenIDsAreSet(t *testing.T) {
	cfg := deployConfig(t, "prod")
	cfg.Set("infraRepositoryOwnerId", "111")
	cfg.Set("infraRepositoryId", "222")
	r := runStack(t, "prod", cfg).ok()
	deploy := trustStatements(t, r, "deploy-deploy-role")["token.actions.githubusercontent.com"]
	preview := trustStatements(t, r, "deploy-preview-role")["token.actions.githubusercontent.com"]
	assert.ElementsMatch(t, []string{"repo:acme/platform-infra:environment:prod", "repo:acme@111/platform-infra@222:environment:prod"},
		deploy.Condition["StringEquals"]["token.actions.githubusercontent.com:sub"])
	assert.ElementsMatch(t, []string{"repo:acme/platform-infra:pull_request", "repo:acme@111/platform-infra@222:pull_request"},
		preview.Condition["StringEquals"]["token.actions.githubusercontent.com:sub"])
}
