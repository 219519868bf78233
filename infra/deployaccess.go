package infra

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const deployAccessType = "platform:infra:DeployAccess" // frozen; renaming needs an alias

// Pulumi Deployments operations, as they appear in the OIDC subject.
var (
	DeployOperations  = []string{"update", "refresh", "destroy"}
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
	// GitHubProviderARN is the account's GitHub OIDC provider (required with InfraRepository).
	GitHubProviderARN pulumi.StringInput
	Partition         string // AWS partition, such as aws (required)
	AccountID         string // AWS account the stack deploys to; scopes the IAM permissions (required)
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

// DeployPolicy is what the deploy role may do: manage the services this program uses, and IAM only for roles,
// policies and OIDC providers. It may never create IAM users or access keys: nothing here needs a long-lived key.
func DeployPolicy(partition, account string) PolicyDocument {
	iamARN := func(kind string) string { return fmt.Sprintf("arn:%s:iam::%s:%s/*", partition, account, kind) }
	return PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			// The VPC, EKS, ECR, KMS and log resources of this stack are autonamed, so no name prefix can scope them.
			Sid:      "ManagePlatformServices",
			Effect:   "Allow",
			Action:   []string{"ec2:*", "eks:*", "ecr:*", "kms:*", "logs:*", "sts:GetCallerIdentity", "ssm:GetParameter", "ssm:GetParameters"},
			Resource: []string{"*"},
		},
		{
			Sid:    "ManageStackIAM",
			Effect: "Allow",
			Action: []string{
				"iam:AttachRolePolicy", "iam:CreateOpenIDConnectProvider", "iam:CreatePolicy", "iam:CreatePolicyVersion",
				"iam:CreateRole", "iam:CreateServiceLinkedRole", "iam:DeleteOpenIDConnectProvider", "iam:DeletePolicy",
				"iam:DeletePolicyVersion", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:Get*",
				"iam:List*", "iam:PutRolePolicy", "iam:TagOpenIDConnectProvider", "iam:TagPolicy", "iam:TagRole",
				"iam:UntagOpenIDConnectProvider", "iam:UntagPolicy", "iam:UntagRole",
				"iam:AddClientIDToOpenIDConnectProvider", "iam:RemoveClientIDFromOpenIDConnectProvider",
				"iam:UpdateOpenIDConnectProviderThumbprint", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
				"iam:UpdateRoleDescription",
			},
			Resource: []string{iamARN("role"), iamARN("policy"), iamARN("oidc-provider")},
		},
		{
			Sid:       "PassRolesToTheirServices",
			Effect:    "Allow",
			Action:    []string{"iam:PassRole"},
			Resource:  []string{iamARN("role")},
			Condition: map[string]map[string][]string{"StringEquals": {"iam:PassedToService": {"eks.amazonaws.com", "ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com"}}},
		},
		{
			Sid:    "NoLongLivedCredentials",
			Effect: "Deny",
			Action: []string{
				"iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
				"iam:CreateServiceSpecificCredential", "iam:UploadSSHPublicKey",
			},
			Resource: []string{"*"},
		},
	}}
}

// PreviewPolicy is read-only: what `pulumi preview` and `pulumi refresh --preview-only` read of this stack.
func PreviewPolicy() PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{{
		Sid:    "ReadPlatform",
		Effect: "Allow",
		Action: []string{
			"ec2:Describe*", "ec2:Get*",
			"eks:Describe*", "eks:List*",
			"ecr:Describe*", "ecr:List*", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy",
			"iam:Get*", "iam:List*",
			"kms:Describe*", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:List*",
			"logs:Describe*", "logs:ListTagsForResource", "logs:ListTagsLogGroup",
			"ssm:GetParameter", "sts:GetCallerIdentity",
		},
		Resource: []string{"*"},
	}}}
}

// NewDeployAccess creates the Pulumi OIDC provider (or reuses one) and the two roles.
func NewDeployAccess(ctx *pulumi.Context, name string, args *DeployAccessArgs, opts ...pulumi.ResourceOption) (*DeployAccess, error) {
	if args == nil || args.Project == "" || args.Stack == "" || args.Partition == "" || args.AccountID == "" || (args.PulumiOrganization == "" && args.InfraRepository == "") {
		return nil, fmt.Errorf("deploy access %q: project, stack, partition, account and a Pulumi organization or infrastructure repository are required", name)
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
					GitHubSubjects(args.InfraRepository, "", "", []string{githubSubject})).Statement...)
			}
			return doc.JSON()
		}).(pulumi.StringOutput)
	}

	deployRole, err := iam.NewRole(ctx, name+"-deploy-role", &iam.RoleArgs{
		Description:        pulumi.Sprintf("Runs pulumi up/refresh/destroy of %s/%s", args.Project, args.Stack),
		AssumeRolePolicy:   trust(DeployOperations, "environment:"+args.Stack),
		MaxSessionDuration: pulumi.Int(4 * 3600), // a first EKS + ArgoCD update takes longer than one hour
	}, parent)
	if err != nil {
		return nil, wrap("create deploy role", err)
	}
	deployPolicy, err := DeployPolicy(args.Partition, args.AccountID).JSON()
	if err != nil {
		return nil, wrap("deploy policy", err)
	}
	if _, err := iam.NewRolePolicy(ctx, name+"-deploy-policy", &iam.RolePolicyArgs{
		Role:   deployRole.ID(),
		Policy: pulumi.String(deployPolicy),
	}, parent); err != nil {
		return nil, wrap("attach deploy policy", err)
	}

	previewRole, err := iam.NewRole(ctx, name+"-preview-role", &iam.RoleArgs{
		Description:        pulumi.Sprintf("Runs pulumi preview of %s/%s (read-only)", args.Project, args.Stack),
		AssumeRolePolicy:   trust(PreviewOperations, "pull_request"),
		MaxSessionDuration: pulumi.Int(3600),
	}, parent)
	if err != nil {
		return nil, wrap("create preview role", err)
	}
	if _, err := iam.NewRolePolicy(ctx, name+"-preview-policy", &iam.RolePolicyArgs{
		Role:   previewRole.ID(),
		Policy: pulumi.String(mustJSON(PreviewPolicy())),
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
