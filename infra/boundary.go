package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const roleBoundaryType = "platform:infra:RoleBoundary" // frozen; renaming needs an alias

// BoundaryPolicy caps every role this program creates, except the deploy role that manages them: the services
// the platform's roles use, IAM only to read and to create service-linked roles, and nothing that mints or
// reads credentials. A role the deploy role creates can therefore never hold more than this, whatever policy
// it is given, which closes privilege escalation through new roles.
func BoundaryPolicy() PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			Sid:    "PlatformServices",
			Effect: "Allow",
			Action: []string{
				"ec2:*", "elasticloadbalancing:*", "autoscaling:*", "eks:*", "eks-auth:*", "ecr:*", "logs:*",
				"kms:*", "sts:GetCallerIdentity", "iam:Get*", "iam:List*", "iam:CreateServiceLinkedRole",
			},
			Resource: []string{"*"},
		},
		publicParameters("*"),
		{
			Sid:      "NoCredentialReads",
			Effect:   "Deny",
			Action:   []string{"ec2:GetPasswordData"},
			Resource: []string{"*"},
		},
	}}
}

// RoleSettings apply to every role the platform creates: one IAM path per stack, which scopes what the deploy
// role may touch, and the permissions boundary, which caps what any of those roles can ever do.
type RoleSettings struct {
	Path     string             // IAM path, such as /eks-gitops-platform/dev/ (required)
	Boundary pulumi.StringInput // ARN of the boundary policy (required)
}

func (s RoleSettings) valid() bool { return s.Path != "" && s.Boundary != nil }

// RoleBoundaryArgs configures the permissions boundary.
type RoleBoundaryArgs struct {
	Path string // IAM path of the policy, the stack's role path (required)
}

// RoleBoundary is the managed policy used as permissions boundary of the platform's roles.
type RoleBoundary struct {
	pulumi.ResourceState
	PolicyARN pulumi.StringOutput `pulumi:"policyArn"`
}

// NewRoleBoundary creates the boundary policy. Changes to it are applied from a laptop: the deploy role may
// not edit it.
func NewRoleBoundary(ctx *pulumi.Context, name string, args *RoleBoundaryArgs, opts ...pulumi.ResourceOption) (*RoleBoundary, error) {
	if args == nil || args.Path == "" {
		return nil, fmt.Errorf("role boundary %q: a path is required", name)
	}
	b := &RoleBoundary{}
	if err := ctx.RegisterComponentResource(roleBoundaryType, name, b, opts...); err != nil {
		return nil, err
	}
	policy, err := iam.NewPolicy(ctx, name+"-policy", &iam.PolicyArgs{
		Description: pulumi.String("Permissions boundary of the platform's roles"),
		Path:        pulumi.String(args.Path),
		Policy:      pulumi.String(mustJSON(BoundaryPolicy())),
	}, pulumi.Parent(b))
	if err != nil {
		return nil, fmt.Errorf("role boundary %q: create policy: %w", name, err)
	}
	b.PolicyARN = policy.Arn
	if err := ctx.RegisterResourceOutputs(b, pulumi.Map{"policyArn": b.PolicyARN}); err != nil {
		return nil, fmt.Errorf("role boundary %q: register outputs: %w", name, err)
	}
	return b, nil
}
