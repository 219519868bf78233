package tests

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/stacks"
)

func TestRegistry_isImmutableScannedAndKMSEncrypted(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		repo := r.single("aws:ecr/repository:Repository")
		assert.Equal(t, stack+"/your-service", repo.Str("name"))
		assert.Equal(t, "IMMUTABLE", repo.Str("imageTagMutability"))
		assert.Equal(t, true, repo.In("imageScanningConfiguration.scanOnPush"))
		enc := asSlice(repo.In("encryptionConfigurations"))
		require.Len(t, enc, 1)
		assert.Equal(t, "KMS", enc[0].(map[string]any)["encryptionType"])
		key := r.one("aws:kms/key:Key", "registry-key")
		assert.True(t, r.dependsOn(repo, key), "the repository is encrypted with the registry's own key")
		assert.Equal(t, true, key.In("enableKeyRotation"))
	}
}

func TestRegistry_lifecycleExpiresUntaggedAndKeepsTheLastTagged(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		lp := r.single("aws:ecr/lifecyclePolicy:LifecyclePolicy")
		assert.True(t, r.dependsOn(lp, r.single("aws:ecr/repository:Repository")))
		policy := jsonInput[infra.LifecyclePolicy](t, lp, "policy")
		require.Len(t, policy.Rules, 2)
		untagged, tagged := policy.Rules[0], policy.Rules[1]
		assert.Equal(t, "untagged", untagged.Selection.TagStatus)
		assert.Equal(t, "sinceImagePushed", untagged.Selection.CountType)
		assert.Equal(t, "expire", untagged.Action.Type)
		assert.Equal(t, "imageCountMoreThan", tagged.Selection.CountType)
		assert.Equal(t, mustAtoi(t, cfg.Get("imageRetainCount")), tagged.Selection.CountNumber)
		assert.Greater(t, tagged.RulePriority, untagged.RulePriority, "an 'any' rule must have the highest priority number")
	}
}

func TestRegistry_prodIsProtectedAndNeverForceDeleted(t *testing.T) {
	t.Parallel()
	dev := runStack(t, "dev", fixtureConfig(t, "dev")).ok().single("aws:ecr/repository:Repository")
	prod := runStack(t, "prod", fixtureConfig(t, "prod")).ok().single("aws:ecr/repository:Repository")
	assert.Equal(t, true, dev.In("forceDelete"), "dev's destroy removes images with the repository")
	assert.False(t, dev.Protect)
	assert.Equal(t, false, prod.In("forceDelete"))
	assert.True(t, prod.Protect)
}

func TestGitHubOIDC_providerTrustsGitHubsIssuerForSTS(t *testing.T) {
	t.Parallel()
	r := runStack(t, "dev", fixtureConfig(t, "dev")).ok()
	p := r.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "github-provider")
	assert.Equal(t, "https://token.actions.githubusercontent.com", p.Str("url"))
	assert.Equal(t, []string{"sts.amazonaws.com"}, p.Strs("clientIdLists"))
	assert.Empty(t, p.In("thumbprintLists"), "IAM verifies this issuer itself; no pinned thumbprint to rot")
}

// pushTrust returns the push role's trust statement and its StringEquals conditions.
func pushTrust(t *testing.T, r *run) (infra.Statement, map[string][]string) {
	t.Helper()
	doc := jsonInput[trustDoc](t, r.one("aws:iam/role:Role", "github-push-role"), "assumeRolePolicy")
	require.Len(t, doc.Statement, 1)
	st := doc.Statement[0]
	require.Len(t, st.Condition, 1, "only StringEquals: never ForAllValues, never StringLike")
	return st, st.Condition["StringEquals"]
}

func TestGitHubOIDC_pushRoleTrustsOnlyThisRepositoryAndAllowedRefs(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		st, eq := pushTrust(t, r)
		assert.Equal(t, "Allow", st.Effect)
		assert.Equal(t, []string{"sts:AssumeRoleWithWebIdentity"}, st.Action)
		assert.Equal(t, []string{"arn:aws:iam::" + testAccount + ":oidc-provider/token.actions.githubusercontent.com"}, st.Principal.Federated)
		assert.Empty(t, st.Principal.AWS)
		assert.Equal(t, []string{"sts.amazonaws.com"}, eq["token.actions.githubusercontent.com:aud"])
		var want []string
		for _, s := range asStrings(t, cfg.Get("githubAllowedSubjects")) {
			want = append(want, "repo:your-org@100000001/your-service@200000002:"+s)
		}
		assert.ElementsMatch(t, want, eq["token.actions.githubusercontent.com:sub"])
		for _, sub := range eq["token.actions.githubusercontent.com:sub"] {
			assert.NotContains(t, sub, "*")
		}
	}
}

// TestGitHubOIDC_immutableSubjectsAndTheNameFormOnlyWhenOptedIn: repositories created, renamed or transferred
// after 2026-07-15 send only the immutable subject, so that is what the push role trusts; the name-only form
// comes in only with githubNameSubjects, for older repositories.
func TestGitHubOIDC_immutableSubjectsAndTheNameFormOnlyWhenOptedIn(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.Set("githubOwnerId", "1234")
	cfg.Set("githubRepositoryId", "98765")
	cfg.Set("githubAllowedSubjects", []string{"ref:refs/heads/main", "environment:prod"})
	_, eq := pushTrust(t, runStack(t, "dev", cfg).ok())
	assert.ElementsMatch(t, []string{
		"repo:your-org@1234/your-service@98765:ref:refs/heads/main",
		"repo:your-org@1234/your-service@98765:environment:prod",
	}, eq["token.actions.githubusercontent.com:sub"])

	cfg.Set("githubNameSubjects", true)
	_, eq = pushTrust(t, runStack(t, "dev", cfg).ok())
	assert.ElementsMatch(t, []string{
		"repo:your-org/your-service:ref:refs/heads/main",
		"repo:your-org/your-service:environment:prod",
		"repo:your-org@1234/your-service@98765:ref:refs/heads/main",
		"repo:your-org@1234/your-service@98765:environment:prod",
	}, eq["token.actions.githubusercontent.com:sub"])
}

func TestGitHubOIDC_existingProviderIsReusedNotCreated(t *testing.T) {
	t.Parallel()
	existing := "arn:aws:iam::" + testAccount + ":oidc-provider/token.actions.githubusercontent.com"
	cfg := fixtureConfig(t, "prod")
	cfg.Set("githubOidcProviderArn", existing)
	r := runStack(t, "prod", cfg).ok()
	for _, p := range r.all("aws:iam/openIdConnectProvider:OpenIdConnectProvider") {
		assert.NotEqual(t, "https://token.actions.githubusercontent.com", p.Str("url"), "a second provider for the issuer would fail: one per account")
	}
	st, _ := pushTrust(t, r)
	assert.Equal(t, []string{existing}, st.Principal.Federated)
	assert.Equal(t, existing, r.outputs[stacks.OutputGitHubOIDCProviderARN].Value)
}

func TestGitHubOIDC_pushRoleMayPushOnlyToThisRepository(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		repoARN := "arn:aws:ecr:us-east-1:" + testAccount + ":repository/" + stack + "/your-service"
		rp := r.one("aws:iam/rolePolicy:RolePolicy", "github-push-policy")
		assert.Equal(t, "github-push-role-id", rp.Str("role"))
		policy := jsonInput[trustDoc](t, rp, "policy")
		var pushActions []string
		for _, st := range policy.Statement {
			assert.Equal(t, "Allow", st.Effect)
			if slices.Equal(st.Action, []string{"ecr:GetAuthorizationToken"}) {
				assert.Equal(t, []string{"*"}, st.Resource, "GetAuthorizationToken has no resource-level permissions")
				continue
			}
			assert.Equal(t, []string{repoARN}, st.Resource, "push and pull only on this stack's repository")
			pushActions = append(pushActions, st.Action...)
		}
		for _, a := range []string{"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage"} {
			assert.Contains(t, pushActions, a)
		}
		for _, a := range pushActions {
			assert.False(t, strings.Contains(a, "*"), "no wildcard actions: %s", a)
			assert.NotContains(t, []string{"ecr:DeleteRepository", "ecr:BatchDeleteImage", "ecr:SetRepositoryPolicy"}, a)
		}
		for _, att := range r.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
			assert.NotEqual(t, "github-push-role", strings.TrimSuffix(att.Str("role"), "-1a2b3c4"), "no managed policy (such as PowerUser) on the push role")
		}
	}
}

func TestGitHubOIDC_doesNotWaitForTheCluster(t *testing.T) {
	t.Parallel()
	r := runStack(t, "dev", fixtureConfig(t, "dev")).ok()
	cluster := r.single(eksClusterTy)
	network := r.one("platform:infra:Network", "network")
	for _, rec := range r.records {
		if strings.HasPrefix(rec.Type, "aws:iam/") && (strings.HasPrefix(rec.Name, "github-") || strings.HasPrefix(rec.Name, "registry-")) ||
			strings.HasPrefix(rec.Type, "aws:ecr/") {
			assert.False(t, r.dependsOnTransitively(rec, cluster), "%s must not wait for the cluster", rec.Name)
			assert.False(t, r.dependsOnTransitively(rec, network), "%s must not wait for the network", rec.Name)
		}
	}
}

func asStrings(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	require.NoError(t, json.Unmarshal([]byte(s), &out))
	return out
}
