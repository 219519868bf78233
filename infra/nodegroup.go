package infra

import (
	"fmt"
	"regexp"
	"time"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const nodeGroupType = "platform:infra:NodeGroup" // frozen; renaming needs an alias

// NodeGroupArgs configures the managed nodegroup.
type NodeGroupArgs struct {
	ClusterName   pulumi.StringInput      // (required)
	Role          *iam.Role               // the nodes' role, Cluster.NodeRole (required)
	SubnetIDs     pulumi.StringArrayInput // private subnets only (required)
	InstanceTypes []string                // (required, non-empty; all x86_64 or all arm64)
	// Version is the cluster's Kubernetes version; nodes follow it, so a version bump upgrades them after the
	// control plane (EKS refuses the next bump while nodegroups lag behind). Required.
	Version      string
	CapacityType string // ON_DEMAND or SPOT (required)
	MinSize      int
	DesiredSize  int // initial size only: later changes by an autoscaler are not reverted
	MaxSize      int
	// Live is the scaling of the nodegroup as it runs (the autoscaler moves its desired size); nil before it
	// exists. Default nil.
	Live        *NodeGroupScaling
	DiskSizeGiB int               // encrypted gp3 root volume (required)
	Labels      map[string]string // Kubernetes node labels; default none
	// MaxUnavailable is how many nodes a rolling update may take down at once. Default 1.
	MaxUnavailable int
	// WaitFor are resources the nodes need before they can join: the node role's policy attachments, and the
	// NAT routes they reach EKS and ECR through. Custom resources only: dependsOn a component sees only the
	// children registered so far. Default none.
	WaitFor []pulumi.Resource
}

// A rolling update of the nodegroup (a Kubernetes version bump, a new launch template) replaces MaxUnavailable
// nodes per batch; a batch (launch, join, drain, terminate) takes about NodeBatchTime. The provider waits up to
// NodeGroupUpdateTimeout for the whole roll, and MaxUnavailableFor sizes the batches so that even the largest
// group fits in it.
const (
	NodeBatchTime          = 8 * time.Minute
	NodeGroupUpdateTimeout = 90 * time.Minute
)

// MaxUnavailableFor is how many nodes a rolling update may replace at once in a group of up to maxSize nodes: one
// for groups that roll within the timeout one node at a time, more for larger ones.
func MaxUnavailableFor(maxSize int) int {
	batches := int(NodeGroupUpdateTimeout / NodeBatchTime)
	return max(1, (maxSize+batches-1)/batches)
}

// NodeGroupScaling is a nodegroup's desired, minimum and maximum size.
type NodeGroupScaling struct{ Desired, Min, Max int }

// scaling is what the nodegroup asks EKS for, and whether its desired size is left to the autoscaler. EKS takes
// the three sizes together: whenever the bounds change, the desired size goes with them, and Pulumi would send
// its own (the initial one, from the state) in place of the autoscaler's. So while the bounds stay, the desired
// size is ignored; when they change, it is the live one, kept within the new bounds.
func (a *NodeGroupArgs) scaling() (desired int, ignoreDesired bool) {
	live := a.Live
	if live == nil || (live.Min == a.MinSize && live.Max == a.MaxSize) {
		return a.DesiredSize, true
	}
	return min(max(live.Desired, a.MinSize), a.MaxSize), false
}

// NodeGroup is a managed nodegroup with its launch template.
type NodeGroup struct {
	pulumi.ResourceState
	NodeGroupName pulumi.StringOutput `pulumi:"nodeGroupName"`
	// Group is the nodegroup resource itself, for dependsOn: it exists only once its nodes may pull from ECR.
	Group pulumi.Resource
}

var armTypeRe = regexp.MustCompile(`^(a1|[a-z]+[0-9]+g[a-z]*)\.`)

// Graviton reports whether an instance type runs on AWS's arm64 processors.
func Graviton(instanceType string) bool { return armTypeRe.MatchString(instanceType) }

// AMIType is the EKS-optimized Amazon Linux 2023 AMI matching the instance types' architecture.
func AMIType(instanceTypes []string) string {
	if len(instanceTypes) > 0 && Graviton(instanceTypes[0]) {
		return "AL2023_ARM_64_STANDARD"
	}
	return "AL2023_x86_64_STANDARD"
}

// NewNodeGroup creates a launch template that requires IMDSv2 and encrypts the root volume, and the nodegroup,
// which waits for what it is told to (the node role's policies among them).
//
// aws.eks.NodeGroup is used rather than pulumi-eks's ManagedNodeGroup: that one (v2.8.1) has no updateConfig,
// and ignoring autoscaler drift on desired size needs ignoreChanges on the nodegroup resource itself, which
// a remote component cannot pass down to its child.
func NewNodeGroup(ctx *pulumi.Context, name string, args *NodeGroupArgs, opts ...pulumi.ResourceOption) (*NodeGroup, error) {
	if args == nil || args.ClusterName == nil || args.Role == nil || args.SubnetIDs == nil || len(args.InstanceTypes) == 0 || args.DiskSizeGiB < 1 || args.Version == "" {
		return nil, fmt.Errorf("nodegroup %q: cluster, role, version, subnets, instance types and disk size are required", name)
	}
	maxUnavailable := args.MaxUnavailable
	if maxUnavailable < 1 {
		maxUnavailable = 1
	}
	desired, ignoreDesired := args.scaling()
	ng := &NodeGroup{}
	if err := ctx.RegisterComponentResource(nodeGroupType, name, ng, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(ng)
	wrap := func(what string, err error) error { return fmt.Errorf("nodegroup %q: %s: %w", name, what, err) }

	lt, err := ec2.NewLaunchTemplate(ctx, name+"-lt", &ec2.LaunchTemplateArgs{
		Description: pulumi.String("EKS nodes: IMDSv2 only, encrypted gp3 root volume, no SSH key"),
		MetadataOptions: &ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint: pulumi.String("enabled"),
			HttpTokens:   pulumi.String("required"),
			// Hop limit 1: pods (one hop away) cannot reach the node role's credentials; they use Pod Identity.
			HttpPutResponseHopLimit: pulumi.Int(1),
		},
		BlockDeviceMappings: ec2.LaunchTemplateBlockDeviceMappingArray{ec2.LaunchTemplateBlockDeviceMappingArgs{
			DeviceName: pulumi.String("/dev/xvda"),
			Ebs: &ec2.LaunchTemplateBlockDeviceMappingEbsArgs{
				VolumeSize:          pulumi.Int(args.DiskSizeGiB),
				VolumeType:          pulumi.String("gp3"),
				Encrypted:           pulumi.String("true"),
				DeleteOnTermination: pulumi.String("true"),
			},
		}},
		TagSpecifications: ec2.LaunchTemplateTagSpecificationArray{ec2.LaunchTemplateTagSpecificationArgs{
			ResourceType: pulumi.String("instance"),
			Tags:         pulumi.StringMap{"Name": pulumi.String(name)},
		}},
	}, parent)
	if err != nil {
		return nil, wrap("create launch template", err)
	}

	group, err := awseks.NewNodeGroup(ctx, name, &awseks.NodeGroupArgs{
		ClusterName:   args.ClusterName,
		Version:       pulumi.String(args.Version),
		NodeRoleArn:   args.Role.Arn,
		SubnetIds:     args.SubnetIDs,
		AmiType:       pulumi.String(AMIType(args.InstanceTypes)),
		InstanceTypes: pulumi.ToStringArray(args.InstanceTypes),
		CapacityType:  pulumi.String(args.CapacityType),
		ScalingConfig: &awseks.NodeGroupScalingConfigArgs{
			MinSize:     pulumi.Int(args.MinSize),
			DesiredSize: pulumi.Int(desired),
			MaxSize:     pulumi.Int(args.MaxSize),
		},
		UpdateConfig: &awseks.NodeGroupUpdateConfigArgs{MaxUnavailable: pulumi.Int(maxUnavailable)},
		LaunchTemplate: &awseks.NodeGroupLaunchTemplateArgs{
			Id:      lt.ID(),
			Version: lt.LatestVersion.ApplyT(func(v int) string { return fmt.Sprint(v) }).(pulumi.StringOutput),
		},
		Labels: pulumi.ToStringMap(args.Labels),
		// No RemoteAccess and no key pair: nodes accept no SSH.
	}, parent,
		// Nodes must never start without ECR pull rights (ImagePullBackOff) or CNI rights (NotReady), nor
		// before their subnets can reach EKS and ECR (NodeCreationFailure).
		pulumi.DependsOn(args.WaitFor),
		// A rolling update replaces the nodes MaxUnavailable at a time; it may take until NodeGroupUpdateTimeout.
		pulumi.Timeouts(&pulumi.CustomTimeouts{Update: fmt.Sprintf("%dm", int(NodeGroupUpdateTimeout.Minutes()))}),
		// The autoscaler owns the desired size after creation; `pulumi up` must not reset it.
		pulumi.IgnoreChanges(ignored(ignoreDesired, "scalingConfig.desiredSize")),
	)
	if err != nil {
		return nil, wrap("create nodegroup", err)
	}

	ng.Group = group
	ng.NodeGroupName = group.NodeGroupName
	if err := ctx.RegisterResourceOutputs(ng, pulumi.Map{
		"nodeGroupName": ng.NodeGroupName,
	}); err != nil {
		return nil, wrap("register outputs", err)
	}
	return ng, nil
}

// ignored is paths when ignore, else none.
func ignored(ignore bool, paths ...string) []string {
	if ignore {
		return paths
	}
	return nil
}
