package infra

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// OIDC issuers and audiences this platform trusts.
const (
	GitHubIssuerHost = "token.actions.githubusercontent.com"
	GitHubAudience   = "sts.amazonaws.com"
	PulumiIssuerHost = "api.pulumi.com/oidc"
)

// GitHubSubjects are the exact `sub` claims GitHub Actions sends for a repository (owner/name) and each allowed
// subject suffix (ref:refs/heads/main, environment:prod, pull_request): the immutable form
// repo:owner@OWNER_ID/name@REPO_ID:..., which is all that repositories created, renamed or transferred after
// 2026-07-15 send, and with nameSubjects also the name-only form older repositories send. Without IDs only the
// name-only form can be written.
func GitHubSubjects(repository, ownerID, repositoryID string, allowed []string, nameSubjects bool) []string {
	var subs []string
	immutable := ""
	if ownerID != "" && repositoryID != "" {
		owner, repo, _ := strings.Cut(repository, "/")
		immutable = fmt.Sprintf("%s@%s/%s@%s", owner, ownerID, repo, repositoryID)
	}
	for _, a := range allowed {
		if immutable != "" {
			subs = append(subs, "repo:"+immutable+":"+a)
		}
		if nameSubjects || immutable == "" {
			subs = append(subs, "repo:"+repository+":"+a)
		}
	}
	slices.Sort(subs)
	return slices.Compact(subs)
}

// WebIdentityTrust is a trust policy that lets tokens from the OIDC provider assume a role only with the exact
// audience and one of the exact subjects. Both are StringEquals on single-valued claims: never ForAllValues
// (true when a claim is absent) and never a wildcard.
func WebIdentityTrust(providerARN, issuerHost, audience string, subjects []string) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{{
		Effect:    "Allow",
		Principal: &Principal{Federated: []string{providerARN}},
		Action:    []string{"sts:AssumeRoleWithWebIdentity"},
		Condition: map[string]map[string][]string{"StringEquals": {
			issuerHost + ":aud": {audience},
			issuerHost + ":sub": subjects,
		}},
	}}}
}

// DeployWorkflow is the infrastructure repository's workflow that deploys the stacks, and DeployRef the only ref it
// deploys from: the GitHub Actions deploy role trusts jobs of that workflow file on that ref alone, beside the
// environment's subject (GitHub's job_workflow_ref and ref claims, which IAM evaluates as
// token.actions.githubusercontent.com:job_workflow_ref and :ref condition keys).
const (
	DeployWorkflow = ".github/workflows/deploy.yml"
	DeployRef      = "refs/heads/main"
)

// WorkflowTrust is WebIdentityTrust for GitHub Actions that also requires the job's workflow file and ref
// (repository is owner/name, as GitHub writes it in job_workflow_ref).
func WorkflowTrust(providerARN, repository string, subjects []string) PolicyDocument {
	doc := WebIdentityTrust(providerARN, GitHubIssuerHost, GitHubAudience, subjects)
	doc.Statement[0].Condition["StringEquals"][GitHubIssuerHost+":job_workflow_ref"] = []string{repository + "/" + DeployWorkflow + "@" + DeployRef}
	doc.Statement[0].Condition["StringEquals"][GitHubIssuerHost+":ref"] = []string{DeployRef}
	return doc
}

// OIDCProviderArgs configures an account's IAM OIDC identity provider.
type OIDCProviderArgs struct {
	IssuerHost string   // issuer without scheme, such as token.actions.githubusercontent.com (required)
	ClientIDs  []string // allowed audiences (required)
	// ExistingARN reuses the account's provider for this issuer instead of creating one. An account holds one
	// provider per issuer URL, so when two stacks share an account, one creates it and the others reuse it.
	ExistingARN string
	// AdoptARN is this stack's own provider, kept in the account by an earlier `pulumi destroy`, to import
	// instead of creating it again (IAM would refuse a second: EntityAlreadyExists); default "" creates one.
	AdoptARN string
	// Owner is the stack the provider belongs to, written in its OIDCOwnerTag (the stack's role path).
	Owner string
}

// OIDCOwnerTag names the stack that created (and may adopt) an account's shared OIDC provider.
const OIDCOwnerTag = "platform/owner"

// oidcProvider creates, adopts or reuses the identity provider and returns its ARN.
func oidcProvider(ctx *pulumi.Context, name string, args OIDCProviderArgs, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	if args.ExistingARN != "" {
		return pulumi.String(args.ExistingARN).ToStringOutput(), nil
	}
	// Retained on delete: the provider is the account's only one for its issuer, and other stacks' roles trust it,
	// so destroying this stack must not take their trust with it. Deleting it is an account decision.
	opts := []pulumi.ResourceOption{parent, pulumi.RetainOnDelete(true)}
	if args.AdoptARN != "" {
		// Once it is in the state, the engine ignores the import (its ID is the ARN imported).
		opts = append(opts, pulumi.Import(pulumi.ID(args.AdoptARN)))
	}
	// No thumbprint: IAM verifies these issuers against its trusted root CAs and the field is optional in the API.
	p, err := iam.NewOpenIdConnectProvider(ctx, name, &iam.OpenIdConnectProviderArgs{
		Url:           pulumi.String("https://" + args.IssuerHost),
		ClientIdLists: pulumi.ToStringArray(args.ClientIDs),
		Tags:          pulumi.StringMap{OIDCOwnerTag: pulumi.String(args.Owner)},
	}, opts...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	return p.Arn, nil
}

const githubOIDCType = "platform:infra:GitHubOIDC" // frozen; renaming needs an alias

// GitHubOIDCArgs configures GitHub Actions' access to the service's ECR repository.
type GitHubOIDCArgs struct {
	ExistingProviderARN string // reuse this provider; default "" creates one
	AdoptProviderARN    string // this stack's own provider, kept by an earlier destroy, to import; default none
	// Repository is owner/name of the service repository whose push role this component holds; "" holds the
	// provider alone (a platform of several services, each with its push role in its Service).
	Repository      string
	OwnerID         string   // numeric owner ID (required with Repository)
	RepositoryID    string   // numeric repository ID (required with Repository)
	AllowedSubjects []string // subject suffixes such as ref:refs/heads/main (required with Repository)
	// NameSubjects also trusts the name-only subject form, which only repositories created before 2026-07-15
	// send. Default false.
	NameSubjects bool
	// ECRRepositoryARN is the one repository the push role may push to (required).
	ECRRepositoryARN pulumi.StringInput
	// Roles sets the path and permissions boundary of the roles created here (required).
	Roles RoleSettings
}

// GitHubOIDC is GitHub Actions' OIDC provider (created or reused) and the image push role.
type GitHubOIDC struct {
	pulumi.ResourceState
	ProviderARN pulumi.StringOutput `pulumi:"providerArn"`
	PushRoleARN pulumi.StringOutput `pulumi:"pushRoleArn"`
}

// ECRPushActions are what `docker push` and `docker pull` need on one repository.
var ECRPushActions = []string{
	"ecr:BatchCheckLayerAvailability",
	"ecr:BatchGetImage",
	"ecr:CompleteLayerUpload",
	"ecr:DescribeImages",
	"ecr:GetDownloadUrlForLayer",
	"ecr:InitiateLayerUpload",
	"ecr:PutImage",
	"ecr:UploadLayerPart",
}

// NewGitHubOIDC creates (or reuses) the provider and a push role scoped to one repository and ECR repository.
func NewGitHubOIDC(ctx *pulumi.Context, name string, args *GitHubOIDCArgs, opts ...pulumi.ResourceOption) (*GitHubOIDC, error) {
	if args == nil || !args.Roles.valid() || args.Repository != "" && (args.OwnerID == "" || args.RepositoryID == "" ||
		len(args.AllowedSubjects) == 0 || args.ECRRepositoryARN == nil) {
		return nil, fmt.Errorf("github oidc %q: repository and its IDs, allowed subjects, ECR repository ARN and boundary are required", name)
	}
	g := &GitHubOIDC{}
	if err := ctx.RegisterComponentResource(githubOIDCType, name, g, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(g)
	wrap := func(what string, err error) error { return fmt.Errorf("github oidc %q: %s: %w", name, what, err) }

	providerARN, err := oidcProvider(ctx, name+"-provider", OIDCProviderArgs{
		IssuerHost:  GitHubIssuerHost,
		ClientIDs:   []string{GitHubAudience},
		ExistingARN: args.ExistingProviderARN,
		AdoptARN:    args.AdoptProviderARN,
		Owner:       args.Roles.Path,
	}, parent)
	if err != nil {
		return nil, wrap("create provider", err)
	}

	g.ProviderARN = providerARN
	if args.Repository != "" {
		if g.PushRoleARN, err = NewPushRole(ctx, name, PushRoleArgs{Repository: args.Repository, OwnerID: args.OwnerID,
			RepositoryID: args.RepositoryID, AllowedSubjects: args.AllowedSubjects, NameSubjects: args.NameSubjects,
			ECRRepositoryARN: args.ECRRepositoryARN, ProviderARN: providerARN, Roles: args.Roles}, parent); err != nil {
			return nil, wrap("push role", err)
		}
	}
	outputs := pulumi.Map{"providerArn": g.ProviderARN}
	if args.Repository != "" {
		outputs["pushRoleArn"] = g.PushRoleARN
	}
	if err := ctx.RegisterResourceOutputs(g, outputs); err != nil {
		return nil, wrap("register outputs", err)
	}
	return g, nil
}

// PushRoleArgs configures the role a service repository's GitHub Actions assume to push its images.
type PushRoleArgs struct {
	Repository, OwnerID, RepositoryID string              // owner/name and numeric IDs of the service repository (required)
	AllowedSubjects                   []string            // subject suffixes such as ref:refs/heads/main (required)
	NameSubjects                      bool                // also trust the name-only subject form
	ECRRepositoryARN                  pulumi.StringInput  // the one repository it may push to (required)
	ProviderARN                       pulumi.StringOutput // the account's GitHub OIDC provider (required)
	Roles                             RoleSettings        // path and boundary (required)
}

// NewPushRole creates the push role <name>-push-role and its inline policy <name>-push-policy under parent: the
// role trusts the repository's workflows by its immutable IDs and may push to its own ECR repository only.
func NewPushRole(ctx *pulumi.Context, name string, args PushRoleArgs, parent pulumi.ResourceOption) (pulumi.StringOutput, error) {
	if args.Repository == "" || args.OwnerID == "" || args.RepositoryID == "" || len(args.AllowedSubjects) == 0 ||
		args.ECRRepositoryARN == nil || !args.Roles.valid() {
		return pulumi.StringOutput{}, fmt.Errorf("push role %q: repository and its IDs, allowed subjects, ECR repository ARN and boundary are required", name)
	}
	subjects := GitHubSubjects(args.Repository, args.OwnerID, args.RepositoryID, args.AllowedSubjects, args.NameSubjects)
	trust := args.ProviderARN.ApplyT(func(arn string) (string, error) {
		return WebIdentityTrust(arn, GitHubIssuerHost, GitHubAudience, subjects).JSON()
	}).(pulumi.StringOutput)
	role, err := iam.NewRole(ctx, name+"-push-role", &iam.RoleArgs{
		Description:         pulumi.Sprintf("GitHub Actions of %s push images", args.Repository),
		AssumeRolePolicy:    trust,
		MaxSessionDuration:  pulumi.Int(3600),
		Path:                pulumi.String(args.Roles.Path),
		PermissionsBoundary: args.Roles.Boundary,
	}, parent)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("create push role: %w", err)
	}

	policy := args.ECRRepositoryARN.ToStringOutput().ApplyT(func(repoARN string) (string, error) {
		return PolicyDocument{Version: policyVersion, Statement: []Statement{
			{Sid: "PushPullThisRepository", Effect: "Allow", Action: ECRPushActions, Resource: []string{repoARN}},
			// GetAuthorizationToken is account-wide by design: it has no resource-level permissions.
			{Sid: "RegistryLogin", Effect: "Allow", Action: []string{"ecr:GetAuthorizationToken"}, Resource: []string{"*"}},
		}}.JSON()
	}).(pulumi.StringOutput)
	if _, err := iam.NewRolePolicy(ctx, name+"-push-policy", &iam.RolePolicyArgs{
		Role:   role.ID(),
		Policy: policy,
	}, parent); err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("attach push policy: %w", err)
	}
	return role.Arn, nil
}
