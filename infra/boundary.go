package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const roleBoundaryType = "platform:infra:RoleBoundary" // frozen; renaming needs an alias

// RoleBoundaryType is the RoleBoundary component's type token, which its children's URNs carry.
const RoleBoundaryType = roleBoundaryType

// BoundaryScope is what a stack's boundary confines writes to.
type BoundaryScope struct {
	Account           Account
	ClusterName       string // the stack's EKS cluster
	ECRRepositoryName string // the stack's ECR repository
	FlowLogGroupName  string // the stack's VPC flow log group
	RolePath          string // the stack's IAM path
	// LaunchTemplateReaders are the logical names of the roles that may read launch template versions: Cluster
	// Autoscaler's (its documented permissions include it, to learn a group's instance type). Default none.
	LaunchTemplateReaders []string
}

// BoundaryPolicy caps every role of the stack but the deploy role (which may change no role): whatever policy
// such a role is given, it can do no more than this. Reads, and image pulls from any registry (EKS add-on images
// come from AWS's own accounts), stay broad where AWS needs them; writes are confined to what the stack's roles
// do, on the stack's own resources:
//   - nodes: the VPC CNI's network interfaces (AmazonEKS_CNI_Policy), Pod Identity for this cluster only;
//   - the control plane: load balancers for Services and their security groups (AmazonEKSClusterPolicy;
//     Kubernetes does not tag every load balancer object at creation, so these writes cannot be scoped by tag),
//     not the policy's routes, volumes and instance attributes, which EKS no longer uses;
//   - tags only on network interfaces and security groups, the cluster's tag on instances, never the stack's tag;
//   - the autoscaler: only the managed nodegroups' Auto Scaling groups tagged as this cluster's, and launch
//     template reads for the autoscaler's role alone;
//   - the push role: pushing to this stack's repository, no other, and never its policy;
//   - flow logs: writing to this stack's flow log group;
//   - KMS: using keys of this account;
//   - no EKS writes at all, no IAM but reads and the load balancers' service-linked role, nothing that reads
//     credentials or what nodes boot with.
func BoundaryPolicy(scope BoundaryScope) PolicyDocument {
	a := scope.Account
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", a.Partition, service, a.Region, a.ID, resource)
	}
	flowLogs := arn("logs", "log-group:"+scope.FlowLogGroupName)
	doc := PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			Sid:    "Read",
			Effect: "Allow",
			Action: []string{
				"autoscaling:Describe*", "ec2:Describe*", "ecr:Describe*", "ecr:GetAuthorizationToken", "ecr:GetLifecyclePolicy*",
				"ecr:GetRepositoryPolicy", "ecr:List*", "ec2:GetInstanceTypesFromInstanceRequirements", "eks:Describe*", "eks:List*", "elasticloadbalancing:Describe*",
				"iam:Get*", "iam:List*", "kms:Describe*", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:List*",
				"logs:Describe*", "logs:ListTagsForResource", "logs:ListTagsLogGroup", "sts:GetCallerIdentity",
			},
			Resource: []string{"*"},
		},
		publicParameters(a.Partition),
		{
			Sid:      "PullImages",
			Effect:   "Allow",
			Action:   []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"},
			Resource: []string{"*"},
		},
		{
			Sid:      "PushToThisRepository",
			Effect:   "Allow",
			Action:   []string{"ecr:CompleteLayerUpload", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"},
			Resource: []string{arn("ecr", "repository/"+scope.ECRRepositoryName)},
		},
		{
			Sid:      "PodIdentityInThisCluster",
			Effect:   "Allow",
			Action:   []string{"eks-auth:AssumeRoleForPodIdentity"},
			Resource: []string{arn("eks", "cluster/"+scope.ClusterName)},
		},
		{
			Sid:    "NodeNetworking",
			Effect: "Allow",
			Action: []string{
				"ec2:AssignPrivateIpAddresses", "ec2:AttachNetworkInterface", "ec2:CreateNetworkInterface",
				"ec2:DeleteNetworkInterface", "ec2:DetachNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute",
				"ec2:UnassignPrivateIpAddresses",
			},
			Resource: []string{"*"},
		},
		{
			// Load balancers for Services, and their security groups. Not the routes, volumes and instance
			// attributes AmazonEKSClusterPolicy also grants: cloud-provider-aws calls CreateRoute, DeleteRoute and
			// ModifyInstanceAttribute only from its route controller, which routes only nodes with a pod CIDR (none
			// on EKS: the VPC CNI gives pods VPC addresses) through route tables tagged as the cluster's (none
			// here), and no volume API at all (since EKS 1.23 the EBS CSI driver serves volumes).
			Sid:    "ControlPlane",
			Effect: "Allow",
			Action: []string{
				"ec2:AuthorizeSecurityGroupIngress", "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
				"ec2:RevokeSecurityGroupIngress", "elasticloadbalancing:*",
			},
			Resource: []string{"*"},
		},
		{
			// Tags only where the stack's roles put them: the VPC CNI's network interfaces, the load balancers'
			// security groups (cloud-provider-aws tags them as its cluster's).
			Sid:      "TagInterfacesAndSecurityGroups",
			Effect:   "Allow",
			Action:   []string{"ec2:CreateTags"},
			Resource: []string{arn("ec2", "network-interface/*"), arn("ec2", "security-group/*")},
		},
		{
			// The cluster's tag on its nodes' instances (cloud-provider-aws's tagging controller), as the EKS
			// user guide's minimal cluster role policy has it ("Amazon EKS cluster IAM role").
			Sid:       "TagInstancesAsTheClusters",
			Effect:    "Allow",
			Action:    []string{"ec2:CreateTags"},
			Resource:  []string{arn("ec2", "instance/*")},
			Condition: map[string]map[string][]string{"ForAnyValue:StringLike": {"aws:TagKeys": {"kubernetes.io/cluster/*"}}},
		},
		{
			Sid:      "LoadBalancersServiceLinkedRole",
			Effect:   "Allow",
			Action:   []string{"iam:CreateServiceLinkedRole"},
			Resource: []string{"*"},
			Condition: map[string]map[string][]string{
				"StringEquals": {"iam:AWSServiceName": {"elasticloadbalancing.amazonaws.com"}},
			},
		},
		{
			Sid:      "ScaleThisClustersNodes",
			Effect:   "Allow",
			Action:   append([]string{}, AutoscalerWrites...),
			Resource: []string{ManagedNodegroupGroups(a)},
			Condition: map[string]map[string][]string{
				"StringEquals": {"aws:ResourceTag/" + AutoscalerDiscoveryTag(scope.ClusterName): {"owned"}},
			},
		},
		{
			Sid:      "WriteFlowLogs",
			Effect:   "Allow",
			Action:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
			Resource: []string{flowLogs, flowLogs + ":*"},
		},
		{
			Sid:    "UseThisAccountsKeys",
			Effect: "Allow",
			Action: []string{
				"kms:CreateGrant", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ListGrants", "kms:ReEncrypt*",
			},
			Resource: []string{arn("kms", "key/*")},
		},
	}}
	var launchTemplateReaders []string
	for _, role := range scope.LaunchTemplateReaders {
		launchTemplateReaders = append(launchTemplateReaders, fmt.Sprintf("arn:%s:iam::%s:role%s%s-*", a.Partition, a.ID, scope.RolePath, role))
	}
	var others []string
	for _, action := range UserDataReads {
		if action != launchTemplateVersions || len(launchTemplateReaders) == 0 {
			others = append(others, action)
		}
	}
	doc.Statement = append(doc.Statement, Statement{
		// The deploy role reaches what carries the stack's tag: no role under the boundary may put it on anything.
		Sid:       "NeverTagAsTheStack",
		Effect:    "Deny",
		Action:    []string{"ec2:CreateTags", "elasticloadbalancing:AddTags"},
		Resource:  []string{"*"},
		Condition: map[string]map[string][]string{"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": {StackTagKey}}},
	}, Statement{
		Sid:      "NeverReadWhatNodesBootWith",
		Effect:   "Deny",
		Action:   others,
		Resource: []string{"*"},
	})
	if len(launchTemplateReaders) > 0 {
		doc.Statement = append(doc.Statement, Statement{
			Sid:       "OnlyTheAutoscalerReadsLaunchTemplates",
			Effect:    "Deny",
			Action:    []string{launchTemplateVersions},
			Resource:  []string{"*"},
			Condition: map[string]map[string][]string{"ArnNotLike": {"aws:PrincipalArn": launchTemplateReaders}},
		})
	}
	return doc
}

// ServiceBoundary caps the service's own role (serviceIamStatements) at its configured Allow statements, and
// denies what no role of the stack may do. It is a boundary of its own: the stack's boundary, which every other
// role carries, never widens for what the service is given.
func ServiceBoundary(statements []Statement) PolicyDocument {
	doc := PolicyDocument{Version: policyVersion}
	for i, st := range statements {
		if st.Effect == "Allow" {
			st.Sid = fmt.Sprintf("Service%d", i)
			doc.Statement = append(doc.Statement, st)
		}
	}
	return PolicyDocument{Version: policyVersion, Statement: append(doc.Statement,
		Statement{Sid: "NeverReadWhatNodesBootWith", Effect: "Deny", Action: UserDataReads, Resource: []string{"*"}},
		Statement{Sid: "NeverChangeRolesPoliciesOrCredentials", Effect: "Deny", Action: RoleChanges, Resource: []string{"*"}},
	)}
}

const launchTemplateVersions = "ec2:DescribeLaunchTemplateVersions"

// RoleSettings apply to every role the platform creates: one IAM path per stack, which scopes what the deploy
// role may touch, and the permissions boundary, which caps what any of those roles can ever do.
type RoleSettings struct {
	Path     string             // IAM path, such as /eks-gitops-platform/dev/ (required)
	Boundary pulumi.StringInput // ARN of the boundary policy (required)
}

func (s RoleSettings) valid() bool { return s.Path != "" && s.Boundary != nil }

// RoleBoundaryArgs configures a permissions boundary.
type RoleBoundaryArgs struct {
	Path        string         // IAM path of the policy, the stack's role path (required)
	Description string         // (required)
	Policy      PolicyDocument // BoundaryPolicy or ServiceBoundary (required, at least one statement)
}

// RoleBoundary is the managed policy used as permissions boundary of the platform's roles.
type RoleBoundary struct {
	pulumi.ResourceState
	PolicyARN pulumi.StringOutput `pulumi:"policyArn"`
}

// NewRoleBoundary creates the boundary policy. Changes to it are applied from a laptop: the deploy role may
// change no policy.
func NewRoleBoundary(ctx *pulumi.Context, name string, args *RoleBoundaryArgs, opts ...pulumi.ResourceOption) (*RoleBoundary, error) {
	if args == nil || args.Path == "" || args.Description == "" || len(args.Policy.Statement) == 0 {
		return nil, fmt.Errorf("role boundary %q: a path, a description and a policy are required", name)
	}
	doc, err := args.Policy.JSON()
	if err != nil {
		return nil, fmt.Errorf("role boundary %q: %w", name, err)
	}
	b := &RoleBoundary{}
	if err := ctx.RegisterComponentResource(roleBoundaryType, name, b, opts...); err != nil {
		return nil, err
	}
	policy, err := iam.NewPolicy(ctx, name+"-policy", &iam.PolicyArgs{
		Description: pulumi.String(args.Description),
		Path:        pulumi.String(args.Path),
		Policy:      pulumi.String(doc),
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
