package infra

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const deployAccessType = "platform:infra:DeployAccess" // frozen; renaming needs an alias

// How long automation runs. The slowest routine update is a prod Kubernetes version bump: EKS upgrades the control
// plane (up to about 30 minutes), then the add-ons, then rolls every node (the AWS provider waits up to 60 minutes
// for a nodegroup update), then ArgoCD's chart. Pulumi Deployments and GitHub Actions ask for DeploySession, which
// outlives it; the deploy role allows sessions up to DeployRoleMaxSession; GitHub jobs time out within the session.
const (
	LongestUpdate        = 150 * time.Minute
	DeploySession        = 3 * time.Hour
	DeployRoleMaxSession = 4 * time.Hour
)

// Pulumi Deployments operations, as they appear in the OIDC subject.
var (
	DeployOperations  = []string{"update", "refresh"} // plus "destroy" where AllowDestroy
	PreviewOperations = []string{"preview"}
)

// DeployAccessArgs configures the roles that run this stack without a person: Pulumi Deployments (OIDC from
// api.pulumi.com) and, optionally, GitHub Actions of the infrastructure repository.
type DeployAccessArgs struct {
	Project string // Pulumi project name (required)
	Stack   string // stack name (required)
	// PulumiOrganization enables trust from Pulumi Deployments; default "" (none).
	PulumiOrganization string
	// ExistingPulumiProviderARN reuses the account's api.pulumi.com/oidc provider; default "" creates one.
	ExistingPulumiProviderARN string
	// InfraRepository (owner/name) enables trust from that repository's GitHub Actions: pull_request for the
	// preview role, environment:<Stack> for the deploy role. Default "" (none).
	InfraRepository string
	// InfraOwnerID and InfraRepositoryID, both numeric, also trust GitHub's immutable subject form
	// (repo:owner@ID/name@ID:...), which repositories created or renamed since mid-2026 send. Default "".
	InfraOwnerID, InfraRepositoryID string
	// GitHubProviderARN is the account's GitHub OIDC provider (required with InfraRepository).
	GitHubProviderARN pulumi.StringInput
	Account           Account // where the stack deploys; scopes the IAM permissions (required)
	ClusterName       string  // the stack's EKS cluster: the only cluster the deploy role may change (required)
	ECRRepositoryName string  // the stack's repository: the only one the deploy role may change (required)
	// Roles are the stack's role path and boundary: both roles live under the path, the preview role carries
	// the boundary, and the deploy role may manage only roles under the path that carry it (required).
	Roles RoleSettings
	// AllowDestroy lets Pulumi Deployments run `destroy` with the deploy role. Default false: a stack is torn
	// down from a laptop.
	AllowDestroy bool
}

// DeployAccess is the deploy role (update, refresh, destroy) and the read-only preview role.
type DeployAccess struct {
	pulumi.ResourceState
	DeployRoleARN  pulumi.StringOutput `pulumi:"deployRoleArn"`
	PreviewRoleARN pulumi.StringOutput `pulumi:"previewRoleArn"`
}

// PulumiSubjects are the exact Deployments subjects for a stack and operations, with write scope.
func PulumiSubjects(org, project, stack string, operations []string) []string {
	var subs []string
	for _, op := range operations {
		subs = append(subs, fmt.Sprintf("pulumi:deploy:org:%s:project:%s:stack:%s:operation:%s:scope:write", org, project, stack, op))
	}
	return subs
}

// ManagedPoliciesAttached are the only AWS managed policies the deploy role may attach: the node role's three
// and the EKS cluster policy of the cluster role that pulumi-eks creates.
func ManagedPoliciesAttached(partition string) []string {
	var out []string
	for _, key := range nodePolicyOrder {
		out = append(out, strings.Replace(string(NodePolicies[key]), "arn:aws:", "arn:"+partition+":", 1))
	}
	return append(out, "arn:"+partition+":iam::aws:policy/AmazonEKSClusterPolicy")
}

// DeployTarget is what one stack's deploy role manages.
type DeployTarget struct {
	RolePath          string // IAM path of the stack's roles
	ClusterName       string // the stack's EKS cluster
	ECRRepositoryName string // the stack's ECR repository
}

// DeployPolicy is what the deploy role may do. It manages the services this program uses; it manages IAM roles
// only under the stack's role path, creates or changes their permissions only while they carry the platform's
// boundary, and attaches no managed policy but the platform's own four; so no role it touches can do more than
// the boundary allows. It may never create IAM users or access keys (nothing here needs a long-lived key), read
// instance passwords, change its own role, or change the boundary: those changes are applied from a laptop.
func DeployPolicy(account Account, target DeployTarget, selfRoleARN, boundaryARN string) PolicyDocument {
	iamARN := func(resource string) string {
		return fmt.Sprintf("arn:%s:iam::%s:%s", account.Partition, account.ID, resource)
	}
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", account.Partition, service, account.Region, account.ID, resource)
	}
	rolePath, cluster := target.RolePath, target.ClusterName
	stackRoles := iamARN("role" + rolePath + "*")
	sharedIssuers := []string{iamARN("oidc-provider/" + GitHubIssuerHost), iamARN("oidc-provider/" + PulumiIssuerHost)}
	bounded := map[string][]string{"iam:PermissionsBoundary": {boundaryARN}}
	return PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			// The VPC, KMS and log resources of this stack are autonamed, so no name prefix can scope them.
			Sid:      "ManagePlatformServices",
			Effect:   "Allow",
			Action:   []string{"ec2:*", "kms:*", "logs:*", "sts:GetCallerIdentity"},
			Resource: []string{"*"},
		},
		{
			Sid:    "ManageThisCluster", // and no other cluster of the account
			Effect: "Allow",
			Action: []string{"eks:*"},
			Resource: []string{
				arn("eks", "cluster/"+cluster), arn("eks", "nodegroup/"+cluster+"/*"), arn("eks", "addon/"+cluster+"/*"),
				arn("eks", "access-entry/"+cluster+"/*"), "arn:" + account.Partition + ":eks::aws:cluster-access-policy/*",
			},
		},
		{
			Sid:      "ReadEKS", // versions, addon versions, access policies: no resource-level permissions
			Effect:   "Allow",
			Action:   []string{"eks:Describe*", "eks:List*"},
			Resource: []string{"*"},
		},
		{
			Sid:      "ManageThisRepository", // and no other repository of the account
			Effect:   "Allow",
			Action:   []string{"ecr:*"},
			Resource: []string{arn("ecr", "repository/"+target.ECRRepositoryName)},
		},
		{
			Sid:      "ReadECR",
			Effect:   "Allow",
			Action:   []string{"ecr:GetAuthorizationToken", "ecr:DescribeRegistry", "ecr:DescribeRepositories"},
			Resource: []string{"*"},
		},
		publicParameters(account.Partition),
		{
			Sid:      "ReadIAM",
			Effect:   "Allow",
			Action:   []string{"iam:Get*", "iam:List*"},
			Resource: []string{"*"},
		},
		{
			Sid:    "ChangeRolePermissionsOnlyUnderTheBoundary",
			Effect: "Allow",
			Action: []string{
				"iam:CreateRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
				"iam:PutRolePolicy",
			},
			Resource:  []string{stackRoles},
			Condition: map[string]map[string][]string{"StringEquals": bounded},
		},
		{
			Sid:      "AttachOnlyThePlatformsManagedPolicies",
			Effect:   "Allow",
			Action:   []string{"iam:AttachRolePolicy"},
			Resource: []string{stackRoles},
			Condition: map[string]map[string][]string{
				"StringEquals": bounded,
				"ArnEquals":    {"iam:PolicyARN": ManagedPoliciesAttached(account.Partition)},
			},
		},
		{
			Sid:    "ManageTheStacksRoles",
			Effect: "Allow",
			Action: []string{
				"iam:DeleteRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
				"iam:UpdateRoleDescription",
			},
			Resource: []string{stackRoles},
		},
		{
			Sid:      "ServiceLinkedRoles", // EKS, its nodegroups and load balancers create their own on first use
			Effect:   "Allow",
			Action:   []string{"iam:CreateServiceLinkedRole"},
			Resource: []string{iamARN("role/aws-service-role/*")},
		},
		{
			Sid:    "ManageClusterOIDCProviders", // EKS clusters' IRSA issuers in this region
			Effect: "Allow",
			Action: []string{
				"iam:AddClientIDToOpenIDConnectProvider", "iam:CreateOpenIDConnectProvider",
				"iam:DeleteOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider",
				"iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider",
				"iam:UpdateOpenIDConnectProviderThumbprint",
			},
			Resource: []string{iamARN("oidc-provider/oidc.eks." + account.Region + ".amazonaws.com/id/*")},
		},
		{
			// The account's GitHub and Pulumi issuers are shared by every stack: the deploy role may create one in a
			// fresh account, never delete or re-point it (the program retains them on delete).
			Sid:      "CreateSharedOIDCProviders",
			Effect:   "Allow",
			Action:   []string{"iam:CreateOpenIDConnectProvider", "iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider"},
			Resource: sharedIssuers,
		},
		{
			Sid:    "NeverDeleteOrRepointSharedOIDCProviders",
			Effect: "Deny",
			Action: []string{
				"iam:AddClientIDToOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
				"iam:RemoveClientIDFromOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
			},
			Resource: sharedIssuers,
		},
		{
			Sid:       "PassTheStacksRolesToTheirServices",
			Effect:    "Allow",
			Action:    []string{"iam:PassRole"},
			Resource:  []string{stackRoles},
			Condition: map[string]map[string][]string{"StringEquals": {"iam:PassedToService": {"eks.amazonaws.com", "ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com"}}},
		},
		{
			Sid:    "NoLongLivedCredentials",
			Effect: "Deny",
			Action: []string{
				"iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
				"iam:CreateServiceSpecificCredential", "iam:UploadSSHPublicKey", "ec2:GetPasswordData",
				"iam:DeleteRolePermissionsBoundary",
			},
			Resource: []string{"*"},
		},
		{
			Sid:    "NeverChangeItself",
			Effect: "Deny",
			Action: []string{
				"iam:AttachRolePolicy", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
				"iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
			},
			Resource: []string{selfRoleARN},
		},
		{
			Sid:      "TagTheBoundary", // aws:defaultTags changes; tags grant nothing
			Effect:   "Allow",
			Action:   []string{"iam:TagPolicy", "iam:UntagPolicy"},
			Resource: []string{boundaryARN},
		},
		{
			Sid:      "NeverChangeTheBoundary",
			Effect:   "Deny",
			Action:   []string{"iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"},
			Resource: []string{boundaryARN},
		},
	}}
}

// PreviewPolicy is read-only: what `pulumi preview` reads of this stack. No Get* on EC2 (instance passwords,
// console output, launch template user data) and no SSM parameter of the account.
func PreviewPolicy(partition string) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			Sid:    "ReadPlatform",
			Effect: "Allow",
			Action: []string{
				"ec2:Describe*",
				"eks:Describe*", "eks:List*",
				"ecr:Describe*", "ecr:List*", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy",
				"iam:Get*", "iam:List*",
				"kms:Describe*", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:List*",
				"logs:Describe*", "logs:ListTagsForResource", "logs:ListTagsLogGroup",
				"sts:GetCallerIdentity",
			},
			Resource: []string{"*"},
		},
		publicParameters(partition),
	}}
}

func deployOperations(allowDestroy bool) []string {
	if allowDestroy {
		return append(slices.Clone(DeployOperations), "destroy")
	}
	return DeployOperations
}

// NewDeployAccess creates the Pulumi OIDC provider (or reuses one) and the two roles.
func NewDeployAccess(ctx *pulumi.Context, name string, args *DeployAccessArgs, opts ...pulumi.ResourceOption) (*DeployAccess, error) {
	if args == nil || args.Project == "" || args.Stack == "" || !args.Account.valid() || !args.Roles.valid() || args.ClusterName == "" || args.ECRRepositoryName == "" || (args.PulumiOrganization == "" && args.InfraRepository == "") {
		return nil, fmt.Errorf("deploy access %q: project, stack, account, roles, cluster, repository and a Pulumi organization or infrastructure repository are required", name)
	}
	if args.InfraRepository != "" && args.GitHubProviderARN == nil {
		return nil, fmt.Errorf("deploy access %q: the GitHub provider ARN is required with an infrastructure repository", name)
	}
	d := &DeployAccess{}
	if err := ctx.RegisterComponentResource(deployAccessType, name, d, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)
	wrap := func(what string, err error) error { return fmt.Errorf("deploy access %q: %s: %w", name, what, err) }

	pulumiARN := pulumi.String("").ToStringOutput()
	if args.PulumiOrganization != "" {
		arn, err := oidcProvider(ctx, name+"-pulumi-provider", OIDCProviderArgs{
			IssuerHost:  PulumiIssuerHost,
			ClientIDs:   []string{strings.ToLower(args.PulumiOrganization)},
			ExistingARN: args.ExistingPulumiProviderARN,
		}, parent)
		if err != nil {
			return nil, wrap("create Pulumi OIDC provider", err)
		}
		pulumiARN = arn
	}
	githubARN := pulumi.String("").ToStringOutput()
	if args.InfraRepository != "" {
		githubARN = args.GitHubProviderARN.ToStringOutput()
	}

	trust := func(ops []string, githubSubject string) pulumi.StringOutput {
		return pulumi.All(pulumiARN, githubARN).ApplyT(func(arns []any) (string, error) {
			doc := PolicyDocument{Version: policyVersion}
			if args.PulumiOrganization != "" {
				doc.Statement = append(doc.Statement, WebIdentityTrust(arns[0].(string), PulumiIssuerHost,
					strings.ToLower(args.PulumiOrganization),
					PulumiSubjects(args.PulumiOrganization, args.Project, args.Stack, ops)).Statement...)
			}
			if args.InfraRepository != "" {
				doc.Statement = append(doc.Statement, WebIdentityTrust(arns[1].(string), GitHubIssuerHost, GitHubAudience,
					GitHubSubjects(args.InfraRepository, args.InfraOwnerID, args.InfraRepositoryID, []string{githubSubject})).Statement...)
			}
			return doc.JSON()
		}).(pulumi.StringOutput)
	}

	deployRole, err := iam.NewRole(ctx, name+"-deploy-role", &iam.RoleArgs{
		Description:        pulumi.Sprintf("Runs pulumi up/refresh/destroy of %s/%s", args.Project, args.Stack),
		AssumeRolePolicy:   trust(deployOperations(args.AllowDestroy), "environment:"+args.Stack),
		MaxSessionDuration: pulumi.Int(int(DeployRoleMaxSession.Seconds())),
		Path:               pulumi.String(args.Roles.Path),
		// No boundary: this role manages the boundary-carrying roles, and may not change itself.
	}, parent)
	if err != nil {
		return nil, wrap("create deploy role", err)
	}
	target := DeployTarget{RolePath: args.Roles.Path, ClusterName: args.ClusterName, ECRRepositoryName: args.ECRRepositoryName}
	deployPolicy := pulumi.All(deployRole.Arn, args.Roles.Boundary).ApplyT(func(arns []any) (string, error) {
		return DeployPolicy(args.Account, target, arns[0].(string), arns[1].(string)).JSON()
	}).(pulumi.StringOutput)
	if _, err := iam.NewRolePolicy(ctx, name+"-deploy-policy", &iam.RolePolicyArgs{
		Role:   deployRole.ID(),
		Policy: deployPolicy,
	}, parent); err != nil {
		return nil, wrap("attach deploy policy", err)
	}

	previewRole, err := iam.NewRole(ctx, name+"-preview-role", &iam.RoleArgs{
		Description:         pulumi.Sprintf("Runs pulumi preview of %s/%s (read-only)", args.Project, args.Stack),
		AssumeRolePolicy:    trust(PreviewOperations, "pull_request"),
		MaxSessionDuration:  pulumi.Int(3600),
		Path:                pulumi.String(args.Roles.Path),
		PermissionsBoundary: args.Roles.Boundary,
	}, parent)
	if err != nil {
		return nil, wrap("create preview role", err)
	}
	if _, err := iam.NewRolePolicy(ctx, name+"-preview-policy", &iam.RolePolicyArgs{
		Role:   previewRole.ID(),
		Policy: pulumi.String(mustJSON(PreviewPolicy(args.Account.Partition))),
	}, parent); err != nil {
		return nil, wrap("attach preview policy", err)
	}

	d.DeployRoleARN = deployRole.Arn
	d.PreviewRoleARN = previewRole.Arn
	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{
		"deployRoleArn":  d.DeployRoleARN,
		"previewRoleArn": d.PreviewRoleARN,
	}); err != nil {
		return nil, wrap("register outputs", err)
	}
	return d, nil
}
