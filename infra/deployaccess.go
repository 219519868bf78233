package infra

import (
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const deployAccessType = "platform:infra:DeployAccess" // frozen; renaming needs an alias

// How long automation runs. The slowest routine update is a prod Kubernetes version bump: EKS upgrades the control
// plane (up to about 30 minutes), then the add-ons, then rolls every node (up to NodeGroupUpdateTimeout, 90
// minutes), then the add-ons on nodes and the charts (up to about 30 minutes). Pulumi Deployments and GitHub Actions ask for DeploySession, which
// outlives it; the deploy role allows sessions up to DeployRoleMaxSession; GitHub jobs time out within the session.
const (
	LongestUpdate        = 150 * time.Minute
	DeploySession        = 3 * time.Hour
	DeployRoleMaxSession = 4 * time.Hour
)

// DeployOperations are the Pulumi Deployments operations the deploy role trusts, as they appear in the OIDC
// subject. Never destroy: a stack is torn down from a laptop (the deploy role may not delete roles), and never
// preview: Deployments would run a pull request's code with the deploy role. detect-drift is the scheduled drift
// run (a refresh that changes nothing; Pulumi Cloud's API names it as an operation of its own, and which name its
// token carries only Pulumi Cloud can show, so both are trusted); remediate-drift, an update nobody reviewed, is not.
var DeployOperations = []string{"update", "refresh", "detect-drift"}

// Deployment flows: which automation may assume the deploy role. One issuer each, never both.
const (
	FlowDeployments   = "deployments"    // Pulumi Deployments, OIDC issuer api.pulumi.com/oidc
	FlowGitHubActions = "github-actions" // GitHub Actions of the infrastructure repository
)

// DeployAccessArgs configures the roles that run this stack without a person.
type DeployAccessArgs struct {
	Project string // Pulumi project name (required)
	Stack   string // stack name (required)
	// Flow is FlowDeployments or FlowGitHubActions: the one issuer the deploy role trusts (required).
	Flow string
	// PulumiOrganization is the Pulumi Cloud organization, lowercase (required with FlowDeployments).
	PulumiOrganization string
	// ExistingPulumiProviderARN reuses the account's api.pulumi.com/oidc provider; default "" creates one.
	ExistingPulumiProviderARN string
	// AdoptPulumiProviderARN is this stack's own api.pulumi.com/oidc provider, kept by an earlier destroy, to
	// import; default none.
	AdoptPulumiProviderARN string
	// InfraRepository is owner/name of the infrastructure repository (required with FlowGitHubActions or
	// PullRequestPreviews), with its numeric owner and repository IDs (required with it).
	InfraRepository                 string
	InfraOwnerID, InfraRepositoryID string
	// NameSubjects also trusts GitHub's name-only subject form (repositories created before 2026-07-15).
	NameSubjects bool
	// PullRequestPreviews creates the read-only preview role, trusted by the infrastructure repository's pull
	// requests. Default false: a stack whose configuration pull request code must not read (prod) has none.
	PullRequestPreviews bool
	// GitHubProviderARN is the account's GitHub OIDC provider (required with InfraRepository).
	GitHubProviderARN pulumi.StringInput
	Account           Account // where the stack deploys; scopes the IAM permissions (required)
	ClusterName       string  // the stack's EKS cluster: the only cluster the deploy role may change (required)
	ECRRepositoryName string  // the stack's repository: the only one the deploy role may change (required)
	// Roles are the stack's role path and boundary: both roles live under the path, and the preview role carries
	// the boundary (required).
	Roles RoleSettings
	// StackTag is the value of StackTagKey the stack's AWS resources carry (required); LogGroups the names of its
	// log groups (required: a statement with no resource is an invalid policy); AdminARNs the principals beside its
	// roles it gives cluster access; Protected denies the deploy role the deletes of what serves traffic. See
	// DeployTarget.
	StackTag  string
	LogGroups []string
	AdminARNs []string
	Protected bool
	// NodeRole is the logical name of the nodes' role (NodeRoleName), which may have an access entry (required).
	NodeRole string
}

// DeployAccess is the deploy role (update, refresh) and, for pull request previews, the read-only preview role.
type DeployAccess struct {
	pulumi.ResourceState
	DeployRoleARN  pulumi.StringOutput `pulumi:"deployRoleArn"`
	PreviewRoleARN pulumi.StringOutput `pulumi:"previewRoleArn"` // "" without pull request previews
}

// DeployRoleName is the logical name of the deploy role of a DeployAccess component of that name; its physical
// name is this name with a random suffix.
func DeployRoleName(access string) string { return access + "-deploy-role" }

// PulumiSubjects are the exact Deployments subjects for a stack and operations, with write scope.
func PulumiSubjects(org, project, stack string, operations []string) []string {
	var subs []string
	for _, op := range operations {
		subs = append(subs, fmt.Sprintf("pulumi:deploy:org:%s:project:%s:stack:%s:operation:%s:scope:write", org, project, stack, op))
	}
	return subs
}

// DeployTarget is what one stack's deploy role manages.
type DeployTarget struct {
	RolePath          string // IAM path of the stack's roles
	ClusterName       string // the stack's EKS cluster
	ECRRepositoryName string // the stack's ECR repository
	// StackTag is the value of StackTagKey on every AWS resource of the stack (StackTagValue).
	StackTag string
	// LogGroups are the names of the stack's log groups: most CloudWatch Logs writes take no tag condition.
	LogGroups []string
	// AdminARNs are the principals outside the stack's role path that the stack gives cluster access
	// (clusterAdminArns): the only ones, beside the deploy role itself, it may give any access policy.
	AdminARNs []string
	// Access is the name of the DeployAccess component, whose roles' names derive from it; NodeRole the logical
	// name of the nodes' role. Those roles may get access entries with no access policy but the view policy.
	Access, NodeRole string
	// Protected (prod): the deploy role may not delete what serves traffic.
	Protected bool
}

// StackTagKey is the tag every AWS resource of a stack carries, through the AWS provider's default tags
// (aws:defaultTags), with StackTagValue as its value. The deploy role creates only what carries it, changes and
// deletes only what carries it, and may neither remove it nor give it another value.
const StackTagKey = "platform/stack"

// StackTagValue is the value of StackTagKey for a stack.
func StackTagValue(project, stack string) string { return project + "/" + stack }

// ec2Creates are the EC2 actions that create a resource tagged at creation (the AWS provider sends the default
// tags in the request's TagSpecifications), grouped by the statement that allows them: a statement allows each
// action on the resource type it creates only, and no type in it is one that another action of the statement takes
// as an existing resource (CreateSubnet creates a subnet, CreateNatGateway uses one), so that the request's tag
// never stands in for the tag of an existing resource of another stack.
var ec2Creates = [][]struct{ action, resourceType string }{
	{{"ec2:CreateVpc", "vpc"}, {"ec2:CreateInternetGateway", "internet-gateway"}, {"ec2:AllocateAddress", "elastic-ip"},
		{"ec2:CreateLaunchTemplate", "launch-template"}},
	{{"ec2:CreateSubnet", "subnet"}, {"ec2:CreateRouteTable", "route-table"}, {"ec2:CreateSecurityGroup", "security-group"}},
	{{"ec2:CreateNatGateway", "natgateway"}},
	{{"ec2:CreateFlowLogs", "vpc-flow-log"}}, // it also takes a NAT gateway, subnet or VPC as an existing resource
}

// EC2Changes are the EC2 writes the AWS provider makes on the stack's network, node template and security groups
// (terraform-provider-aws internal/service/ec2: vpc_.go, vpc_subnet.go, vpc_internet_gateway.go, ec2_eip.go,
// vpc_nat_gateway.go, vpc_route_table.go, vpc_route_table_association.go, vpc_default_security_group.go,
// vpc_security_group.go, vpc_security_group_rule.go, ec2_launch_template.go, vpc_flow_log.go), allowed on resources
// that carry the stack's tag only: the existing resources a create names (the VPC of a new subnet), updates, deletes.
var EC2Changes = []string{
	"ec2:AssociateRouteTable", "ec2:AttachInternetGateway", "ec2:AuthorizeSecurityGroupEgress",
	"ec2:AuthorizeSecurityGroupIngress", "ec2:CreateFlowLogs", "ec2:CreateLaunchTemplateVersion", "ec2:CreateNatGateway",
	"ec2:CreateRoute", "ec2:CreateRouteTable", "ec2:CreateSecurityGroup", "ec2:CreateSubnet", "ec2:CreateTags",
	"ec2:DeleteFlowLogs", "ec2:DeleteInternetGateway", "ec2:DeleteLaunchTemplate", "ec2:DeleteLaunchTemplateVersions",
	"ec2:DeleteNatGateway", "ec2:DeleteRoute", "ec2:DeleteRouteTable", "ec2:DeleteSecurityGroup", "ec2:DeleteSubnet",
	"ec2:DeleteTags", "ec2:DeleteVpc", "ec2:DetachInternetGateway", "ec2:DisassociateAddress", "ec2:DisassociateRouteTable",
	"ec2:ModifyLaunchTemplate", "ec2:ModifySecurityGroupRules", "ec2:ModifySubnetAttribute", "ec2:ModifyVpcAttribute",
	"ec2:ReleaseAddress", "ec2:ReplaceRoute", "ec2:ReplaceRouteTableAssociation", "ec2:RevokeSecurityGroupEgress",
	"ec2:RevokeSecurityGroupIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
	"ec2:UpdateSecurityGroupRuleDescriptionsIngress",
}

// KeyChanges are the KMS writes the AWS provider makes on the stack's existing keys (terraform-provider-aws
// internal/service/kms/key.go: UpdateKeyDescription, EnableKey and the tags on update; ScheduleKeyDeletion on
// delete). The deploy role creates no key: CreateKey sends the tags, which KMS authorizes as kms:TagResource on
// no particular key, so a role that may tag new keys may tag any untagged key of the account as its own (the
// trail's key, say) and then delete it; and a new key's tags take up to five minutes to authorize the
// EnableKeyRotation that follows. A key is created with its stack (a laptop's first `pulumi up`), and no routine
// change replaces one. PutKeyPolicy, which a change of a key's policy makes, is denied (PersistencePaths): a key
// policy is changed from a laptop.
var KeyChanges = []string{
	"kms:EnableKey", "kms:EnableKeyRotation", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
	"kms:UpdateKeyDescription",
}

// LogGroupChanges are the CloudWatch Logs writes the AWS provider makes on the stack's log groups
// (terraform-provider-aws internal/service/logs/group.go).
var LogGroupChanges = []string{
	"logs:AssociateKmsKey", "logs:DeleteLogGroup", "logs:DeleteRetentionPolicy", "logs:DisassociateKmsKey",
	"logs:PutRetentionPolicy", "logs:TagLogGroup", "logs:TagResource", "logs:UntagLogGroup", "logs:UntagResource",
}

// PersistencePaths are the actions that would leave access behind that is not IAM, or open the stack's network
// or data to someone else: peering, VPN and transit attachments, traffic mirroring, endpoint services, snapshot
// and image sharing, key policies and replicas, log subscriptions, destinations, exports and deliveries. Denied to
// automation whatever else allows them.
var PersistencePaths = []string{
	"ec2:AcceptTransitGatewayVpcAttachment", "ec2:AcceptVpcEndpointConnections", "ec2:AcceptVpcPeeringConnection",
	"ec2:AttachVpnGateway", "ec2:CreateClientVpnEndpoint", "ec2:CreateCustomerGateway", "ec2:CreateTrafficMirrorFilter",
	"ec2:CreateTrafficMirrorSession", "ec2:CreateTrafficMirrorTarget", "ec2:CreateTransitGatewayVpcAttachment",
	"ec2:CreateVpcEndpointServiceConfiguration", "ec2:CreateVpcPeeringConnection", "ec2:CreateVpnConnection",
	"ec2:CreateVpnGateway", "ec2:ModifyFpgaImageAttribute", "ec2:ModifyImageAttribute", "ec2:ModifySnapshotAttribute",
	"ec2:ModifyVpcEndpointServicePermissions", "ec2:ModifyVpcPeeringConnectionOptions",
	"kms:PutKeyPolicy", "kms:ReplicateKey",
	"logs:CreateDelivery", "logs:CreateExportTask", "logs:PutAccountPolicy", "logs:PutDeliveryDestination",
	"logs:PutDeliveryDestinationPolicy", "logs:PutDeliverySource", "logs:PutDestination", "logs:PutDestinationPolicy",
	"logs:PutResourcePolicy", "logs:PutSubscriptionFilter",
}

// ServingDeletes are what a protected stack's automation may not delete or replace: the cluster, its nodes, the
// network they run in, the keys, the log groups and the repository's images. Denied in IAM, not only by protect.
var ServingDeletes = []string{
	"ec2:DeleteSubnet", "ec2:DeleteVpc", "ecr:BatchDeleteImage", "ecr:DeleteRepository", "eks:DeleteCluster",
	"eks:DeleteNodegroup", "kms:DisableKey", "kms:ScheduleKeyDeletion", "logs:DeleteLogGroup",
}

// stackTagWrites and stackTagRemovals are the tagging actions of the services the deploy role may tag in: the
// stack's tag may be neither given another value nor removed through them.
var stackTagWrites = []string{
	"ec2:CreateTags", "eks:TagResource", "ecr:TagResource", "iam:TagOpenIDConnectProvider", "kms:TagResource",
	"logs:TagLogGroup", "logs:TagResource",
}

var stackTagRemovals = []string{
	"ec2:DeleteTags", "eks:UntagResource", "ecr:UntagResource", "iam:UntagOpenIDConnectProvider", "kms:UntagResource",
	"logs:UntagLogGroup", "logs:UntagResource",
}

// RoleChanges are the IAM actions that create, widen, re-trust or delete a role or a customer managed policy,
// or mint a long-lived credential. The deploy role may do none of them: code that reaches it (a merged change, a
// compromised runner) could otherwise mint a lasting role with any trust, and IAM has no condition on a trust
// policy's content. Changes to roles and policies are applied from a laptop by an admin.
var RoleChanges = []string{
	"iam:AttachRolePolicy", "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:CreateRole", "iam:DeletePolicy",
	"iam:DeletePolicyVersion", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary", "iam:DeleteRolePolicy",
	"iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:SetDefaultPolicyVersion",
	"iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription",
	"iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
	"iam:CreateServiceSpecificCredential", "iam:UploadSSHPublicKey", "ec2:GetPasswordData",
}

// RepositoryPolicyChanges are the ECR actions that could make a repository readable or writable by others:
// its policy, the registry's, replication to another registry, pull-through caching, and the creation templates
// that give future repositories a policy.
var RepositoryPolicyChanges = []string{
	"ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy", "ecr:PutRegistryPolicy", "ecr:DeleteRegistryPolicy",
	"ecr:PutReplicationConfiguration", "ecr:CreatePullThroughCacheRule", "ecr:UpdatePullThroughCacheRule",
	"ecr:CreateRepositoryCreationTemplate", "ecr:UpdateRepositoryCreationTemplate",
}

// ServiceLinkedRoleServices are the services whose service-linked roles the stack's first run may create.
var ServiceLinkedRoleServices = []string{
	"eks.amazonaws.com", "eks-nodegroup.amazonaws.com", "autoscaling.amazonaws.com", "elasticloadbalancing.amazonaws.com",
}

// PassedToServices are the services the deploy role may pass the stack's roles to: EKS (the cluster and Pod
// Identity), EC2 (the nodes) and VPC Flow Logs.
var PassedToServices = []string{"eks.amazonaws.com", "ec2.amazonaws.com", "pods.eks.amazonaws.com", "vpc-flow-logs.amazonaws.com"}

// DeployPolicy is what the deploy role may do: manage the services this stack uses, its own cluster and
// repository but never create a cluster (EKS would make the deploy role the new cluster's bootstrap admin, whose
// access entry then conflicts with the program's), pass the stack's roles to their services, tag them, and
// create the account's shared OIDC issuers but never delete or re-point them. It may not change any role or
// policy (RoleChanges) or any repository policy.
func DeployPolicy(account Account, target DeployTarget) PolicyDocument {
	iamARN := func(resource string) string {
		return fmt.Sprintf("arn:%s:iam::%s:%s", account.Partition, account.ID, resource)
	}
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", account.Partition, service, account.Region, account.ID, resource)
	}
	own := map[string]map[string][]string{"StringEquals": {"aws:ResourceTag/" + StackTagKey: {target.StackTag}}}
	tagged := map[string]map[string][]string{"StringEquals": {"aws:RequestTag/" + StackTagKey: {target.StackTag}}}
	statements := []Statement{{
		// EC2 reads have no resource-level permissions; what a refresh reads of the keys and log groups.
		Sid:    "ReadPlatformServices",
		Effect: "Allow",
		Action: []string{
			"ec2:Describe*", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases",
			"kms:ListKeys", "kms:ListResourceTags", "logs:DescribeLogGroups", "logs:ListTagsForResource",
			"logs:ListTagsLogGroup", "sts:GetCallerIdentity",
		},
		Resource: []string{"*"},
	}}
	var createActions []string
	for i, group := range ec2Creates {
		st := Statement{Sid: fmt.Sprintf("CreateTaggedAsThisStack%d", i+1), Effect: "Allow", Condition: tagged}
		for _, c := range group {
			st.Action = append(st.Action, c.action)
			st.Resource = append(st.Resource, arn("ec2", c.resourceType+"/*"))
			createActions = append(createActions, strings.TrimPrefix(c.action, "ec2:"))
		}
		statements = append(statements, st)
	}
	var logGroups []string
	for _, name := range target.LogGroups {
		logGroups = append(logGroups, arn("logs", "log-group:"+name), arn("logs", "log-group:"+name+":*"))
	}
	statements = append(statements,
		Statement{
			Sid:      "TagWhatItCreates",
			Effect:   "Allow",
			Action:   []string{"ec2:CreateTags"},
			Resource: []string{"*"},
			Condition: map[string]map[string][]string{"StringEquals": {
				"ec2:CreateAction": createActions, "aws:RequestTag/" + StackTagKey: {target.StackTag},
			}},
		},
		Statement{Sid: "ChangeOnlyThisStacksNetwork", Effect: "Allow", Action: EC2Changes, Resource: []string{"*"}, Condition: own},
		Statement{Sid: "ChangeOnlyThisStacksKeys", Effect: "Allow", Action: KeyChanges, Resource: []string{arn("kms", "key/*")}, Condition: own},
		Statement{
			// EKS and EBS create grants on the stack's keys for the cluster and the nodes' volumes; nobody else may.
			Sid:      "GrantsOnlyForAWSServices",
			Effect:   "Allow",
			Action:   []string{"kms:CreateGrant"},
			Resource: []string{arn("kms", "key/*")},
			Condition: map[string]map[string][]string{
				"StringEquals": {"aws:ResourceTag/" + StackTagKey: {target.StackTag}},
				"Bool":         {"kms:GrantIsForAWSResource": {"true"}},
			},
		},
		Statement{Sid: "CreateThisStacksLogGroups", Effect: "Allow", Action: []string{"logs:CreateLogGroup"}, Resource: logGroups, Condition: tagged},
		// By name: most CloudWatch Logs writes take no tag condition.
		Statement{Sid: "ChangeOnlyThisStacksLogGroups", Effect: "Allow", Action: LogGroupChanges, Resource: logGroups},
	)
	return PolicyDocument{Version: policyVersion, Statement: append(statements, deployPolicyRest(account, target, arn, iamARN)...)}
}

func deployPolicyRest(account Account, target DeployTarget, arn func(service, resource string) string,
	iamARN func(resource string) string) []Statement {
	cluster := target.ClusterName
	stackRoles := iamARN("role" + target.RolePath + "*")
	sharedIssuers := []string{iamARN("oidc-provider/" + GitHubIssuerHost), iamARN("oidc-provider/" + PulumiIssuerHost)}
	own := map[string]map[string][]string{"StringEquals": {"aws:ResourceTag/" + StackTagKey: {target.StackTag}}}
	clusterIssuers := []string{iamARN("oidc-provider/oidc.eks." + account.Region + ".amazonaws.com/id/*")}
	statements := []Statement{
		{
			Sid:    "ManageThisCluster", // and no other cluster of the account
			Effect: "Allow",
			Action: []string{"eks:*"},
			Resource: []string{
				arn("eks", "cluster/"+cluster), arn("eks", "nodegroup/"+cluster+"/*"), arn("eks", "addon/"+cluster+"/*"),
				arn("eks", "access-entry/"+cluster+"/*"), arn("eks", "podidentityassociation/"+cluster+"/*"),
				"arn:" + account.Partition + ":eks::aws:cluster-access-policy/*",
			},
		},
		{
			Sid:      "NeverCreateACluster",
			Effect:   "Deny",
			Action:   []string{"eks:CreateCluster"},
			Resource: []string{"*"},
		},
		{
			Sid:      "ReadEKS", // versions, addon versions, access policies: no resource-level permissions
			Effect:   "Allow",
			Action:   []string{"eks:Describe*", "eks:List*"},
			Resource: []string{"*"},
		},
		{
			Sid:    "ManageThisRepository", // its settings and images, never its policy; deleting it is a laptop's job
			Effect: "Allow",
			Action: []string{
				"ecr:CreateRepository", "ecr:DeleteLifecyclePolicy", "ecr:PutImageScanningConfiguration",
				"ecr:PutImageTagMutability", "ecr:PutLifecyclePolicy", "ecr:TagResource", "ecr:UntagResource",
				"ecr:Describe*", "ecr:List*", "ecr:GetLifecyclePolicy", "ecr:GetRepositoryPolicy",
			},
			Resource: []string{arn("ecr", "repository/"+target.ECRRepositoryName)},
		},
		{
			Sid:      "ReadECR",
			Effect:   "Allow",
			Action:   []string{"ecr:GetAuthorizationToken", "ecr:DescribeRegistry", "ecr:DescribeRepositories"},
			Resource: []string{"*"},
		},
		{
			Sid:      "NeverChangeRepositoryPolicies",
			Effect:   "Deny",
			Action:   RepositoryPolicyChanges,
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
			Sid:      "TagTheStacksRoles", // aws:defaultTags changes; the program's policies grant nothing by tag
			Effect:   "Allow",
			Action:   []string{"iam:TagRole", "iam:UntagRole"},
			Resource: []string{stackRoles},
		},
		{
			Sid:       "PassTheStacksRolesToTheirServices",
			Effect:    "Allow",
			Action:    []string{"iam:PassRole"},
			Resource:  []string{stackRoles},
			Condition: map[string]map[string][]string{"StringEquals": {"iam:PassedToService": PassedToServices}},
		},
		{
			Sid:       "ServiceLinkedRoles", // EKS, its nodegroups and load balancers create their own on first use
			Effect:    "Allow",
			Action:    []string{"iam:CreateServiceLinkedRole"},
			Resource:  []string{iamARN("role/aws-service-role/*")},
			Condition: map[string]map[string][]string{"StringEquals": {"iam:AWSServiceName": ServiceLinkedRoleServices}},
		},
		{
			// The cluster's IRSA issuer is created with the cluster, which the deploy role never creates; it may
			// change the one tagged as this stack's, never another cluster's (IAM authorizes the tags of a new
			// issuer as iam:TagOpenIDConnectProvider on it, so allowing creation would let a request tag stand in
			// for the tag of an existing issuer).
			Sid:    "ChangeOnlyThisClustersOIDCProvider",
			Effect: "Allow",
			Action: []string{
				"iam:AddClientIDToOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
				"iam:RemoveClientIDFromOpenIDConnectProvider", "iam:TagOpenIDConnectProvider",
				"iam:UntagOpenIDConnectProvider", "iam:UpdateOpenIDConnectProviderThumbprint",
			},
			Resource:  clusterIssuers,
			Condition: own,
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
			// aws:defaultTags changes; tags grant nothing. The stack's boundaries: the roles' and, with
			// serviceIamStatements, the service role's own, both under the stack's path.
			Sid:      "TagTheBoundaries",
			Effect:   "Allow",
			Action:   []string{"iam:TagPolicy", "iam:UntagPolicy"},
			Resource: []string{iamARN("policy" + target.RolePath + "*")},
		},
		{
			Sid:      "NeverChangeRolesPoliciesOrCredentials",
			Effect:   "Deny",
			Action:   RoleChanges,
			Resource: []string{"*"},
		},
	}
	return statements
}

// DeployGuardrails are the deploy role's denies beside its policy's own, a managed policy of their own (IAM caps a
// role's inline policies at 10,240 characters together): no persistence path, KMS grants for AWS services only,
// cluster access for the stack's roles and configured admins only, the stack's tag kept, and in a protected
// stack no delete of what serves traffic.
func DeployGuardrails(account Account, target DeployTarget) PolicyDocument {
	role := func(logical string) string {
		return fmt.Sprintf("arn:%s:iam::%s:role%s%s-*", account.Partition, account.ID, target.RolePath, logical)
	}
	admins := append([]string{role(DeployRoleName(target.Access))}, target.AdminARNs...)
	viewers := []string{role(target.Access + "-preview-role"), role(target.NodeRole)}
	statements := []Statement{
		{Sid: "NeverLeaveAPathBehind", Effect: "Deny", Action: PersistencePaths, Resource: []string{"*"}},
		{
			Sid:       "NeverGrantKeysToAnyoneButAWSServices",
			Effect:    "Deny",
			Action:    []string{"kms:CreateGrant"},
			Resource:  []string{"*"},
			Condition: map[string]map[string][]string{"Bool": {"kms:GrantIsForAWSResource": {"false"}}},
		},
		{
			// Cluster access only for the deploy role, the configured admins, the nodes and the preview role;
			// never for the stack's other roles (the push role is the service repository's CI, the service role
			// its pods).
			Sid:       "NeverGiveClusterAccessToOthers",
			Effect:    "Deny",
			Action:    []string{"eks:AssociateAccessPolicy", "eks:CreateAccessEntry", "eks:UpdateAccessEntry"},
			Resource:  []string{"*"},
			Condition: map[string]map[string][]string{"ArnNotLike": {"eks:principalArn": append(append([]string{}, admins...), viewers...)}},
		},
		{
			// The nodes and the preview role (pull request code) read at most: no access policy but the view one.
			Sid:      "ViewOnlyForTheNodesAndPreviews",
			Effect:   "Deny",
			Action:   []string{"eks:AssociateAccessPolicy"},
			Resource: []string{"*"},
			Condition: map[string]map[string][]string{
				"ArnNotLike":      {"eks:principalArn": admins},
				"StringNotEquals": {"eks:policyArn": {fmt.Sprintf("arn:%s:eks::aws:cluster-access-policy/%s", account.Partition, AccessPolicyView)}},
			},
		},
		{
			// An external OIDC identity provider gives cluster access without an access entry.
			Sid:      "NeverAddAnIdentityProvider",
			Effect:   "Deny",
			Action:   []string{"eks:AssociateIdentityProviderConfig"},
			Resource: []string{"*"},
		},
		{
			Sid:       "NeverRemoveTheStackTag",
			Effect:    "Deny",
			Action:    stackTagRemovals,
			Resource:  []string{"*"},
			Condition: map[string]map[string][]string{"ForAnyValue:StringEquals": {"aws:TagKeys": {StackTagKey}}},
		},
		{
			Sid:      "NeverTagAsAnotherStack",
			Effect:   "Deny",
			Action:   stackTagWrites,
			Resource: []string{"*"},
			Condition: map[string]map[string][]string{
				"ForAnyValue:StringEquals": {"aws:TagKeys": {StackTagKey}},
				"StringNotEquals":          {"aws:RequestTag/" + StackTagKey: {target.StackTag}},
			},
		},
	}
	if target.Protected {
		statements = append(statements, Statement{Sid: "NeverDeleteWhatServes", Effect: "Deny", Action: ServingDeletes, Resource: []string{"*"}})
	}
	return PolicyDocument{Version: policyVersion, Statement: statements}
}

// UserDataReads are the reads that return what nodes boot with (user data, console output) or their passwords.
var UserDataReads = []string{
	"ec2:DescribeInstanceAttribute", "ec2:DescribeLaunchTemplateVersions", "ec2:GetConsoleOutput",
	"ec2:GetConsoleScreenshot", "ec2:GetLaunchTemplateData", "ec2:GetPasswordData",
}

// SecretsKeyAlias is the KMS alias of the key that encrypts the stacks' secrets with the awskms secrets provider, as
// the README's quick start creates it.
const SecretsKeyAlias = "alias/pulumi-secrets"

// PreviewPolicy is read-only: what `pulumi preview` of a pull request may read of this stack. Never what nodes boot
// with, no SSM parameter of the account, and no Secrets (its access entry is view-only). It may decrypt with the
// stack's secrets key, found by its alias: the CLI decrypts the stack's configuration before the program runs (with
// the awskms secrets provider, previews fail without it). That exposes nothing new: a pull request's code runs in
// the preview with the decrypted configuration already, which is why only unprotected stacks get previews.
func PreviewPolicy(account Account) PolicyDocument {
	partition := account.Partition
	return PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			Sid:      "DecryptTheStacksSecrets",
			Effect:   "Allow",
			Action:   []string{"kms:Decrypt"},
			Resource: []string{fmt.Sprintf("arn:%s:kms:%s:%s:key/*", partition, account.Region, account.ID)},
			// Multi-valued key (a key has several aliases): ForAnyValue is the right set operator here.
			Condition: map[string]map[string][]string{"ForAnyValue:StringEquals": {"kms:ResourceAliases": {SecretsKeyAlias}}},
		},
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
		{
			Sid:      "NeverReadWhatNodesBootWith",
			Effect:   "Deny",
			Action:   UserDataReads,
			Resource: []string{"*"},
		},
	}}
}

// NewDeployAccess creates the deploy role, trusted by exactly one issuer (the flow), and for pull request
// previews the read-only preview role, trusted by the infrastructure repository's pull requests only.
func NewDeployAccess(ctx *pulumi.Context, name string, args *DeployAccessArgs, opts ...pulumi.ResourceOption) (*DeployAccess, error) {
	if args == nil || args.Project == "" || args.Stack == "" || !args.Account.valid() || !args.Roles.valid() || args.ClusterName == "" ||
		args.ECRRepositoryName == "" || args.StackTag == "" || args.NodeRole == "" || len(args.LogGroups) == 0 {
		return nil, fmt.Errorf("deploy access %q: project, stack, account, roles, cluster, repository, stack tag, node role and log groups are required", name)
	}
	switch {
	case args.Flow != FlowDeployments && args.Flow != FlowGitHubActions:
		return nil, fmt.Errorf("deploy access %q: flow must be %q or %q, got %q", name, FlowDeployments, FlowGitHubActions, args.Flow)
	case args.Flow == FlowDeployments && args.PulumiOrganization == "":
		return nil, fmt.Errorf("deploy access %q: Pulumi Deployments needs the Pulumi organization", name)
	case (args.Flow == FlowGitHubActions || args.PullRequestPreviews) && (args.InfraRepository == "" || args.InfraOwnerID == "" ||
		args.InfraRepositoryID == "" || args.GitHubProviderARN == nil):
		return nil, fmt.Errorf("deploy access %q: GitHub Actions needs the infrastructure repository, its IDs and the GitHub provider", name)
	}
	d := &DeployAccess{}
	if err := ctx.RegisterComponentResource(deployAccessType, name, d, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)
	wrap := func(what string, err error) error { return fmt.Errorf("deploy access %q: %s: %w", name, what, err) }
	githubTrust := func(subject string) pulumi.StringOutput {
		subjects := GitHubSubjects(args.InfraRepository, args.InfraOwnerID, args.InfraRepositoryID, []string{subject}, args.NameSubjects)
		return args.GitHubProviderARN.ToStringOutput().ApplyT(func(arn string) (string, error) {
			return WebIdentityTrust(arn, GitHubIssuerHost, GitHubAudience, subjects).JSON()
		}).(pulumi.StringOutput)
	}

	var deployTrust pulumi.StringOutput
	if args.Flow == FlowDeployments {
		org := args.PulumiOrganization
		providerARN, err := oidcProvider(ctx, name+"-pulumi-provider", OIDCProviderArgs{
			IssuerHost: PulumiIssuerHost, ClientIDs: []string{org}, ExistingARN: args.ExistingPulumiProviderARN,
			AdoptARN: args.AdoptPulumiProviderARN, Owner: args.Roles.Path,
		}, parent)
		if err != nil {
			return nil, wrap("create Pulumi OIDC provider", err)
		}
		deployTrust = providerARN.ApplyT(func(arn string) (string, error) {
			return WebIdentityTrust(arn, PulumiIssuerHost, org, PulumiSubjects(org, args.Project, args.Stack, DeployOperations)).JSON()
		}).(pulumi.StringOutput)
	} else {
		// Only jobs in the stack's GitHub environment, whose reviewers and branch rules gate them, of the deploy
		// workflow on main: a workflow another branch adds or changes cannot assume it.
		subjects := GitHubSubjects(args.InfraRepository, args.InfraOwnerID, args.InfraRepositoryID, []string{"environment:" + args.Stack}, args.NameSubjects)
		deployTrust = args.GitHubProviderARN.ToStringOutput().ApplyT(func(arn string) (string, error) {
			return WorkflowTrust(arn, args.InfraRepository, subjects).JSON()
		}).(pulumi.StringOutput)
	}

	deployRole, err := iam.NewRole(ctx, DeployRoleName(name), &iam.RoleArgs{
		Description:        pulumi.Sprintf("Runs pulumi up/refresh of %s/%s (%s)", args.Project, args.Stack, args.Flow),
		AssumeRolePolicy:   deployTrust,
		MaxSessionDuration: pulumi.Int(int(DeployRoleMaxSession.Seconds())),
		Path:               pulumi.String(args.Roles.Path),
		// No boundary: it would cap what the role manages. The role may change no role or policy, its own included.
	}, parent)
	if err != nil {
		return nil, wrap("create deploy role", err)
	}
	target := DeployTarget{RolePath: args.Roles.Path, ClusterName: args.ClusterName, ECRRepositoryName: args.ECRRepositoryName,
		StackTag: args.StackTag, LogGroups: args.LogGroups, AdminARNs: args.AdminARNs, Protected: args.Protected,
		Access: name, NodeRole: args.NodeRole}
	if _, err := iam.NewRolePolicy(ctx, name+"-deploy-policy", &iam.RolePolicyArgs{
		Role:   deployRole.ID(),
		Policy: pulumi.String(mustJSON(DeployPolicy(args.Account, target))),
	}, parent); err != nil {
		return nil, wrap("attach deploy policy", err)
	}
	guardrails, err := iam.NewPolicy(ctx, name+"-deploy-guardrails", &iam.PolicyArgs{
		Description: pulumi.Sprintf("What the deploy role of %s/%s may never do", args.Project, args.Stack),
		Path:        pulumi.String(args.Roles.Path),
		Policy:      pulumi.String(mustJSON(DeployGuardrails(args.Account, target))),
	}, parent)
	if err != nil {
		return nil, wrap("create deploy guardrails", err)
	}
	if _, err := iam.NewRolePolicyAttachment(ctx, name+"-deploy-guardrails", &iam.RolePolicyAttachmentArgs{
		Role:      deployRole.Name,
		PolicyArn: guardrails.Arn,
	}, parent); err != nil {
		return nil, wrap("attach deploy guardrails", err)
	}
	d.DeployRoleARN = deployRole.Arn
	d.PreviewRoleARN = pulumi.String("").ToStringOutput()

	if args.PullRequestPreviews {
		previewRole, err := iam.NewRole(ctx, name+"-preview-role", &iam.RoleArgs{
			Description:         pulumi.Sprintf("Runs pulumi preview of %s/%s for pull requests (read-only)", args.Project, args.Stack),
			AssumeRolePolicy:    githubTrust("pull_request"),
			MaxSessionDuration:  pulumi.Int(3600),
			Path:                pulumi.String(args.Roles.Path),
			PermissionsBoundary: args.Roles.Boundary,
		}, parent)
		if err != nil {
			return nil, wrap("create preview role", err)
		}
		if _, err := iam.NewRolePolicy(ctx, name+"-preview-policy", &iam.RolePolicyArgs{
			Role:   previewRole.ID(),
			Policy: pulumi.String(mustJSON(PreviewPolicy(args.Account))),
		}, parent); err != nil {
			return nil, wrap("attach preview policy", err)
		}
		d.PreviewRoleARN = previewRole.Arn
	}

	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{
		"deployRoleArn":  d.DeployRoleARN,
		"previewRoleArn": d.PreviewRoleARN,
	}); err != nil {
		return nil, wrap("register outputs", err)
	}
	return d, nil
}
