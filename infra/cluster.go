package infra

import (
	"context"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const clusterType = "platform:infra:Cluster" // frozen; renaming needs an alias

// ControlPlaneLogTypes are all EKS control-plane log types; all are enabled.
var ControlPlaneLogTypes = []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}

// EKS access policies granted through access entries.
const (
	AccessPolicyClusterAdmin = "AmazonEKSClusterAdminPolicy"
	AccessPolicyAdminView    = "AmazonEKSAdminViewPolicy" // read everything, Secrets included
	AccessPolicyView         = "AmazonEKSViewPolicy"      // read everything but Secrets
)

// AccessGrant gives one IAM principal access through one EKS access entry and its policy associations.
type AccessGrant struct {
	Key          string             // stable logical key, such as the role name (required, unique)
	PrincipalARN pulumi.StringInput // IAM role or user ARN (required)
	Policies     []AccessPolicy     // at least one (required)
}

// AccessPolicy associates an EKS access policy, cluster-wide or limited to namespaces.
type AccessPolicy struct {
	Policy     string   // one of the AccessPolicy* constants (required)
	Namespaces []string // default (empty): the whole cluster
}

// ClusterArgs configures the EKS control plane.
type ClusterArgs struct {
	// VPCCNIIdentity is whose AWS identity the VPC CNI (aws-node) calls EC2 with: VPCCNINode (default ""), the
	// node role's AmazonEKS_CNI_Policy; VPCCNIBoth, a Pod Identity role of its own as well, the step in which aws-node
	// restarts onto it; VPCCNIPodIdentity, that role alone, the node role without the policy.
	VPCCNIIdentity string
	// NetworkPolicy makes the VPC CNI enforce Kubernetes NetworkPolicies (a platform of several tenants). Default
	// false: they are accepted and not enforced.
	NetworkPolicy    bool
	Name             string                  // physical cluster name (required)
	Version          string                  // Kubernetes minor version, such as 1.33 (required)
	VPCID            pulumi.StringInput      // (required)
	PrivateSubnetIDs pulumi.StringArrayInput // nodes and the private endpoint (required)
	PublicSubnetIDs  pulumi.StringArrayInput // internet-facing load balancers (required)
	// PublicAccessCIDRs may reach the public API endpoint. Default (empty): no public endpoint at all; the API is
	// then reachable from inside the VPC only.
	PublicAccessCIDRs []string
	LogRetentionDays  int     // control-plane log retention (required, >= 1)
	Account           Account // scopes the key policies and access policy ARNs (required)
	// Roles sets the path and permissions boundary of the roles created here (required).
	Roles RoleSettings
	// Access lists principals given access entries. The identity that creates the cluster gets admin from EKS
	// itself (bootstrap admin) and must not be listed.
	Access []AccessGrant
}

// Cluster is an EKS cluster (pulumi-eks) with KMS secrets encryption, control-plane logging with bounded
// retention, an IRSA OIDC provider, API authentication mode and access entries.
type Cluster struct {
	pulumi.ResourceState
	Name            pulumi.StringOutput `pulumi:"name"`
	Kubeconfig      pulumi.StringOutput `pulumi:"kubeconfig"` // secret
	OIDCProviderARN pulumi.StringOutput `pulumi:"oidcProviderArn"`
	OIDCProviderURL pulumi.StringOutput `pulumi:"oidcProviderUrl"`
	// Endpoint is the API server URL. It identifies this cluster: a replacement cluster gets another one.
	Endpoint pulumi.StringOutput `pulumi:"endpoint"` // secret, like everything pulumi-eks builds from it
	// NodeRole is the role of the cluster's nodes, with exactly the NodePolicies; NodeRolePolicies are its
	// attachments, which nodes wait for.
	NodeRole         *iam.Role
	NodeRolePolicies []pulumi.Resource
	// AccessResources are the access entries and policy associations; whatever talks to the Kubernetes API as
	// one of those principals waits for them.
	AccessResources []pulumi.Resource
	// NodeAddons are the managed add-ons nodes need (NodeAddons: pod networking, Service routing, Pod Identity);
	// nodes wait for them.
	NodeAddons []pulumi.Resource
}

// NodePolicies are the managed policies of the node role, keyed by the name used in logical names. ECR read
// access is here so nodes can pull the service image before anything is deployed.
var NodePolicies = map[string]iam.ManagedPolicy{
	"worker":   iam.ManagedPolicyAmazonEKSWorkerNodePolicy,
	"cni":      iam.ManagedPolicy_AmazonEKS_CNI_Policy,
	"ecr-read": iam.ManagedPolicyAmazonEC2ContainerRegistryReadOnly,
}

// nodePolicyOrder fixes the creation order of the attachments (map order is random).
var nodePolicyOrder = []string{"worker", "cni", "ecr-read"}

// The VPC CNI's identities (ClusterArgs.VPCCNIIdentity).
const (
	VPCCNINode        = "node"
	VPCCNIBoth        = "both"
	VPCCNIPodIdentity = "podIdentity"
)

// The VPC CNI's ServiceAccount, which its Pod Identity role trusts.
const (
	VPCCNINamespace      = "kube-system"
	VPCCNIServiceAccount = "aws-node"
)

// NewCluster creates the control plane and the nodes' role. It does not create nodes: see NewNodeGroup.
func NewCluster(ctx *pulumi.Context, name string, args *ClusterArgs, opts ...pulumi.ResourceOption) (*Cluster, error) {
	if args == nil || args.Name == "" || args.Version == "" || !args.Account.valid() || args.LogRetentionDays < 1 || !args.Roles.valid() {
		return nil, fmt.Errorf("cluster %q: name, version, account, log retention and boundary are required", name)
	}
	c := &Cluster{}
	if err := ctx.RegisterComponentResource(clusterType, name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	wrap := func(what string, err error) error { return fmt.Errorf("cluster %q: %s: %w", name, what, err) }

	key, err := newKey(ctx, name+"-secrets-key", "EKS secrets envelope encryption for "+args.Name, AccountKeyPolicy(args.Account), parent)
	if err != nil {
		return nil, wrap("create secrets KMS key", err)
	}
	// EKS writes to this exact group; created first, it gets a retention instead of EKS's never-expire default.
	logGroupName := ClusterLogGroupName(args.Name)
	logKey, err := newKey(ctx, name+"-logs-key", "EKS control-plane log encryption for "+args.Name, LogsKeyPolicy(args.Account, logGroupName), parent)
	if err != nil {
		return nil, wrap("create log KMS key", err)
	}
	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-control-plane-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(logGroupName),
		RetentionInDays: pulumi.Int(args.LogRetentionDays),
		KmsKeyId:        logKey.Arn,
	}, parent)
	if err != nil {
		return nil, wrap("create control-plane log group", err)
	}

	// The cluster's service role is created here rather than inside pulumi-eks, so that it carries the
	// platform's permissions boundary like every other role the deploy role manages.
	serviceRole, err := iam.NewRole(ctx, name+"-service-role", &iam.RoleArgs{
		Description:         pulumi.String("Lets EKS manage the cluster " + args.Name),
		AssumeRolePolicy:    pulumi.String(mustJSON(serviceTrust("eks.amazonaws.com"))),
		Path:                pulumi.String(args.Roles.Path),
		PermissionsBoundary: args.Roles.Boundary,
	}, parent)
	if err != nil {
		return nil, wrap("create service role", err)
	}
	servicePolicy, err := iam.NewRolePolicyAttachment(ctx, name+"-service-role-cluster-policy", &iam.RolePolicyAttachmentArgs{
		Role:      serviceRole.Name,
		PolicyArn: iam.ManagedPolicyAmazonEKSClusterPolicy,
	}, parent)
	if err != nil {
		return nil, wrap("attach cluster policy", err)
	}

	// The nodes' role is created here and handed to pulumi-eks as the cluster's instance role: without one,
	// pulumi-eks v2.8.1 creates a role of its own (path "/", no permissions boundary) even with
	// skipDefaultNodeGroup (nodejs/eks/cluster.ts:767-819; fixed only in v3.0.0). It then gives this role the
	// EC2_LINUX access entry nodes join with, which the managed nodegroup reuses.
	nodeRole, err := iam.NewRole(ctx, NodeRoleName(name), &iam.RoleArgs{
		Description:         pulumi.String("Nodes of the EKS cluster " + args.Name),
		AssumeRolePolicy:    pulumi.String(mustJSON(serviceTrust("ec2.amazonaws.com"))),
		Path:                pulumi.String(args.Roles.Path),
		PermissionsBoundary: args.Roles.Boundary,
	}, parent)
	if err != nil {
		return nil, wrap("create node role", err)
	}
	c.NodeRole = nodeRole
	var nodeCNI pulumi.Resource
	for _, key := range nodePolicyOrder {
		if key == "cni" && args.VPCCNIIdentity == VPCCNIPodIdentity {
			continue // the VPC CNI has a role of its own
		}
		opts := []pulumi.ResourceOption{parent}
		if key == "cni" && args.VPCCNIIdentity != "" && args.VPCCNIIdentity != VPCCNINode {
			// It follows vpcCniIdentity, even in a protected stack, once the CNI has a role of its own: the move
			// to that role deletes it. A destroy still cannot, before the protected nodes that depend on it.
			opts = append(opts, pulumi.Protect(false))
		}
		a, err := iam.NewRolePolicyAttachment(ctx, name+"-node-role-"+key, &iam.RolePolicyAttachmentArgs{
			Role:      nodeRole.Name,
			PolicyArn: NodePolicies[key],
		}, opts...)
		if err != nil {
			return nil, wrap("attach node "+key+" policy", err)
		}
		c.NodeRolePolicies = append(c.NodeRolePolicies, a)
		if key == "cni" {
			nodeCNI = a
		}
	}

	cluster, err := eks.NewCluster(ctx, name+"-eks", &eks.ClusterArgs{
		ServiceRole:      serviceRole,
		InstanceRole:     nodeRole,
		Name:             pulumi.String(args.Name),
		Version:          pulumi.String(args.Version),
		VpcId:            args.VPCID,
		PrivateSubnetIds: args.PrivateSubnetIDs,
		PublicSubnetIds:  args.PublicSubnetIDs,
		// The default node group uses launch configurations, which new AWS accounts cannot create.
		SkipDefaultNodeGroup:  pulumi.BoolRef(true),
		EndpointPrivateAccess: pulumi.Bool(true),
		EndpointPublicAccess:  pulumi.Bool(len(args.PublicAccessCIDRs) > 0),
		PublicAccessCidrs:     publicCIDRs(args.PublicAccessCIDRs),
		// EKS's own VPC CNI, kept current by the managed add-on below, instead of pulumi-eks v2's kubectl-applied
		// copy (pinned to an older release than these Kubernetes versions ship).
		UseDefaultVpcCni:       pulumi.BoolRef(true),
		EncryptionConfigKeyArn: key.Arn,
		EnabledClusterLogTypes: pulumi.ToStringArray(ControlPlaneLogTypes),
		CreateOidcProvider:     pulumi.Bool(true),
		// API: access entries only, no aws-auth ConfigMap to edit by hand. pulumi-eks v2.8.1 supports it with
		// skipDefaultNodeGroup; nodes of managed nodegroups get their EC2_LINUX entries from EKS itself.
		AuthenticationMode: authModeRef(eks.AuthenticationModeApi),
		// An input that resolves only once the log group exists: a remote component's construction starts after
		// its inputs resolve, so EKS never creates the group first (dependsOn alone does not reach its children).
		// The same for the service role's policy: EKS must never run the cluster with a role lacking it.
		ClusterTags: pulumi.StringMap{
			"platform/control-plane-log-group": logGroup.Name,
			"platform/service-role-policy":     servicePolicy.PolicyArn,
		},
	}, parent, pulumi.DependsOn([]pulumi.Resource{logGroup, servicePolicy}),
		// pulumi-eks v2.8.1 returns its kubeconfig in plain text and stores it in two Kubernetes providers of its
		// own. It builds the kubeconfig from the cluster's endpoint and certificate: marked secret at the source,
		// every value built from them is secret too, in the state as in the outputs.
		pulumi.Transforms([]pulumi.ResourceTransform{secretClusterEndpoint}))
	if err != nil {
		return nil, wrap("create EKS cluster", err)
	}

	clusterName := cluster.EksCluster.Name()

	// The VPC CNI's own role, which EKS Pod Identity gives aws-node (the add-on creates the association).
	var cni addonSettings
	if args.VPCCNIIdentity == VPCCNIBoth || args.VPCCNIIdentity == VPCCNIPodIdentity {
		role, err := iam.NewRole(ctx, name+"-vpc-cni-role", &iam.RoleArgs{
			Description: pulumi.String("The VPC CNI (" + VPCCNINamespace + "/" + VPCCNIServiceAccount + ") of the EKS cluster " + args.Name),
			AssumeRolePolicy: pulumi.String(mustJSON(PodIdentityTrust(args.Account, args.Name, VPCCNINamespace,
				VPCCNIServiceAccount))),
			Path:                pulumi.String(args.Roles.Path),
			PermissionsBoundary: args.Roles.Boundary,
			// It follows vpcCniIdentity, even in a protected stack (the way back to the node role deletes it); a
			// destroy cannot delete it before the protected add-on that depends on it.
		}, parent, pulumi.Protect(false))
		if err != nil {
			return nil, wrap("create VPC CNI role", err)
		}
		policy, err := iam.NewRolePolicyAttachment(ctx, name+"-vpc-cni-policy", &iam.RolePolicyAttachmentArgs{
			Role:      role.Name,
			PolicyArn: NodePolicies["cni"],
		}, parent, pulumi.Protect(false))
		if err != nil {
			return nil, wrap("attach VPC CNI policy", err)
		}
		cni.associations = awseks.AddonPodIdentityAssociationArray{awseks.AddonPodIdentityAssociationArgs{
			RoleArn: role.Arn, ServiceAccount: pulumi.String(VPCCNIServiceAccount),
		}}
		// The association only once the role may do the CNI's job; and while the nodes hold the policy too (both),
		// after theirs, so that the way back (both, then node), in which EKS restarts aws-node onto the node role,
		// finds the policy there.
		cni.dependsOn = []pulumi.Resource{policy}
		if nodeCNI != nil {
			cni.dependsOn = append(cni.dependsOn, nodeCNI)
		}
	}

	// The add-ons nodes need, at the versions EKS publishes for this Kubernetes version; nodes wait for them.
	for _, addon := range NodeAddons {
		settings := addonSettings{}
		if addon == AddonVPCCNI {
			settings = cni
			if args.NetworkPolicy {
				settings.configuration = VPCCNINetworkPolicy
			}
		}
		a, err := newConfiguredAddon(ctx, name+"-"+addon, clusterName, addon, args.Version, settings, parent)
		if err != nil {
			return nil, wrap("manage "+addon+" add-on", err)
		}
		c.NodeAddons = append(c.NodeAddons, a)
	}
	for _, g := range args.Access {
		if g.Key == "" || g.PrincipalARN == nil || len(g.Policies) == 0 {
			return nil, wrap("access grant", fmt.Errorf("grant %q needs a key, a principal and a policy", g.Key))
		}
		entry, err := awseks.NewAccessEntry(ctx, name+"-access-"+g.Key, &awseks.AccessEntryArgs{
			ClusterName:  clusterName,
			PrincipalArn: g.PrincipalARN,
			Type:         pulumi.String("STANDARD"),
		}, parent, pulumi.Protect(false)) // access follows the admin list, even in a protected cluster
		if err != nil {
			return nil, wrap("create access entry "+g.Key, err)
		}
		c.AccessResources = append(c.AccessResources, entry)
		for _, p := range g.Policies {
			scope := &awseks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String("cluster")}
			if len(p.Namespaces) > 0 {
				scope = &awseks.AccessPolicyAssociationAccessScopeArgs{
					Type:       pulumi.String("namespace"),
					Namespaces: pulumi.ToStringArray(p.Namespaces),
				}
			}
			assoc, err := awseks.NewAccessPolicyAssociation(ctx, name+"-access-"+g.Key+"-"+p.Policy, &awseks.AccessPolicyAssociationArgs{
				ClusterName:  clusterName,
				PrincipalArn: entry.PrincipalArn,
				PolicyArn:    pulumi.String(AccessPolicyARN(args.Account.Partition, p.Policy)),
				AccessScope:  scope,
			}, parent, pulumi.Protect(false), pulumi.DependsOn([]pulumi.Resource{entry}))
			if err != nil {
				return nil, wrap("associate access policy "+g.Key+" "+p.Policy, err)
			}
			c.AccessResources = append(c.AccessResources, assoc)
		}
	}

	// Nothing is read from cluster.Core: in API mode pulumi-eks v2.8.1 returns access entries there that the Go
	// SDK cannot decode, which fails the whole update (pulumi-eks issue #1435, fixed in v3.0.2). The IRSA
	// provider's URL is the cluster's issuer, and its ARN follows from it.
	issuer := cluster.EksCluster.Identities().ApplyT(func(ids []awseks.ClusterIdentity) (string, error) {
		if len(ids) == 0 || len(ids[0].Oidcs) == 0 || ids[0].Oidcs[0].Issuer == nil {
			return "", fmt.Errorf("cluster %q: EKS reported no OIDC issuer", args.Name)
		}
		return *ids[0].Oidcs[0].Issuer, nil
	}).(pulumi.StringOutput)
	c.Name = clusterName
	c.Endpoint = pulumi.ToSecret(cluster.EksCluster.Endpoint()).(pulumi.StringOutput)
	c.Kubeconfig = pulumi.ToSecret(cluster.KubeconfigJson).(pulumi.StringOutput)
	c.OIDCProviderURL = issuer
	c.OIDCProviderARN = issuer.ApplyT(func(url string) string {
		return fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", args.Account.Partition, args.Account.ID, strings.TrimPrefix(url, "https://"))
	}).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"name":            c.Name,
		"endpoint":        c.Endpoint,
		"kubeconfig":      c.Kubeconfig,
		"oidcProviderArn": c.OIDCProviderARN,
		"oidcProviderUrl": c.OIDCProviderURL,
	}); err != nil {
		return nil, wrap("register outputs", err)
	}
	return c, nil
}

// NodeRoleName is the logical name of the node role of a Cluster component of that name; its physical name is
// this name with a random suffix.
func NodeRoleName(cluster string) string { return cluster + "-node-role" }

// AccessPolicyARN is the ARN of an EKS access policy in a partition.
func AccessPolicyARN(partition, policy string) string {
	return "arn:" + partition + ":eks::aws:cluster-access-policy/" + policy
}

// publicCIDRs is nil for no CIDRs: pulumi-eks refuses a (truthy) empty list once the public endpoint is off.
func publicCIDRs(cidrs []string) pulumi.StringArrayInput {
	if len(cidrs) == 0 {
		return nil
	}
	return pulumi.ToStringArray(cidrs)
}

func authModeRef(m eks.AuthenticationMode) *eks.AuthenticationMode { return &m }

// secretClusterEndpoint marks the endpoint and certificate of pulumi-eks's aws:eks/cluster:Cluster child secret.
func secretClusterEndpoint(_ context.Context, args *pulumi.ResourceTransformArgs) *pulumi.ResourceTransformResult {
	if args.Type != "aws:eks/cluster:Cluster" {
		return nil
	}
	opts := args.Opts
	opts.AdditionalSecretOutputs = append(opts.AdditionalSecretOutputs, "endpoint", "certificateAuthority")
	return &pulumi.ResourceTransformResult{Props: args.Props, Opts: opts}
}

// ClusterLogGroupName is the log group EKS writes a cluster's control-plane logs to; the program creates it first,
// with its retention and key.
func ClusterLogGroupName(cluster string) string { return "/aws/eks/" + cluster + "/cluster" }
