package infra

import (
	"fmt"
	"net/netip"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const networkType = "platform:infra:Network" // frozen; renaming needs an alias

// NAT gateway modes.
const (
	NATSingle = "single" // one NAT gateway in the first zone (cheap; the zone is a single point of failure)
	NATPerAZ  = "perAz"  // one NAT gateway per zone, each zone's private subnet routes through its own
)

// NetworkArgs configures the VPC.
type NetworkArgs struct {
	CIDR        string   // VPC IPv4 block, /16 to /24 (required)
	AZs         []string // zone names, 2 to 4, in the order their subnets are carved (required)
	NATGateways string   // NATSingle or NATPerAZ (required)
	ClusterName string   // EKS cluster whose load balancers and nodes use the subnets (required)
	// FlowLogRetentionDays bounds the flow log group's retention (required, >= 1).
	FlowLogRetentionDays int
	// FlowLogGroupName names the flow log group; explicit, so that its key and the boundary can name it before it
	// exists (required).
	FlowLogGroupName string
	// Account scopes the flow log role's trust (confused-deputy guard) and the log encryption key. Required.
	Account Account
	// Roles sets the path and permissions boundary of the roles created here (required).
	Roles RoleSettings
}

// Network is a VPC with one public and one private subnet per zone.
type Network struct {
	pulumi.ResourceState
	VPCID            pulumi.StringOutput      `pulumi:"vpcId"`
	PublicSubnetIDs  pulumi.StringArrayOutput `pulumi:"publicSubnetIds"`
	PrivateSubnetIDs pulumi.StringArrayOutput `pulumi:"privateSubnetIds"`
	// Egress is everything private subnets need to reach the internet (internet gateway, NAT gateways and
	// their addresses, route tables and associations). Nodes wait for it; on destroy it outlives them.
	Egress []pulumi.Resource
}

// SubnetLayout is where the subnets of zone index i sit inside the VPC block. The layout never depends on the
// zone count, so adding a zone adds subnets without moving existing ones: private subnets take the first half
// of the VPC in eighths (pods take VPC addresses, so they get the room), public subnets take sixteenths of the
// second half.
func SubnetLayout(vpc netip.Prefix, i int) (public, private netip.Prefix, err error) {
	if i < 0 || i >= 4 {
		return public, private, fmt.Errorf("zone index %d outside the 4 zones the layout reserves", i)
	}
	private, err = subnet(vpc, 3, i)
	if err != nil {
		return public, private, err
	}
	public, err = subnet(vpc, 4, 8+i)
	return public, private, err
}

// subnet is Terraform's cidrsubnet for IPv4.
func subnet(base netip.Prefix, newBits, num int) (netip.Prefix, error) {
	bits := base.Bits() + newBits
	if bits > 28 {
		return netip.Prefix{}, fmt.Errorf("%s is too small to split into /%d subnets (AWS allows /28 at the smallest)", base, bits)
	}
	a := base.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= uint32(num) << (32 - bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits), nil
}

// NewNetwork creates the VPC, its subnets, gateways, routes, flow logs and a rule-less default security group.
func NewNetwork(ctx *pulumi.Context, name string, args *NetworkArgs, opts ...pulumi.ResourceOption) (*Network, error) {
	if args == nil || len(args.AZs) < 2 || args.ClusterName == "" || args.FlowLogGroupName == "" || !args.Account.valid() || !args.Roles.valid() {
		return nil, fmt.Errorf("network %q: at least two zones, a cluster name and the account are required", name)
	}
	vpcCIDR, err := netip.ParsePrefix(args.CIDR)
	if err != nil {
		return nil, fmt.Errorf("network %q: parse CIDR: %w", name, err)
	}
	if args.NATGateways != NATSingle && args.NATGateways != NATPerAZ {
		return nil, fmt.Errorf("network %q: unknown NAT mode %q", name, args.NATGateways)
	}

	n := &Network{}
	if err := ctx.RegisterComponentResource(networkType, name, n, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(n)
	wrap := func(what string, err error) error { return fmt.Errorf("network %q: %s: %w", name, what, err) }

	vpc, err := ec2.NewVpc(ctx, name+"-vpc", &ec2.VpcArgs{
		CidrBlock:          pulumi.String(vpcCIDR.String()),
		EnableDnsSupport:   pulumi.Bool(true),
		EnableDnsHostnames: pulumi.Bool(true), // EKS private endpoint resolution and nodes need both
		Tags:               pulumi.StringMap{"Name": pulumi.String(name)},
	}, parent)
	if err != nil {
		return nil, wrap("create VPC", err)
	}

	// The default security group is adopted and left with no rules, so nothing lands in an open group by accident.
	if _, err := ec2.NewDefaultSecurityGroup(ctx, name+"-default-sg", &ec2.DefaultSecurityGroupArgs{
		VpcId: vpc.ID(),
		Tags:  pulumi.StringMap{"Name": pulumi.String(name + "-default-unused")},
	}, parent); err != nil {
		return nil, wrap("manage default security group", err)
	}

	igw, err := ec2.NewInternetGateway(ctx, name+"-igw", &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  pulumi.StringMap{"Name": pulumi.String(name)},
	}, parent)
	if err != nil {
		return nil, wrap("create internet gateway", err)
	}
	n.Egress = append(n.Egress, igw)

	publicRT, err := ec2.NewRouteTable(ctx, name+"-public-rt", &ec2.RouteTableArgs{
		VpcId: vpc.ID(),
		Routes: ec2.RouteTableRouteArray{ec2.RouteTableRouteArgs{
			CidrBlock: pulumi.String("0.0.0.0/0"),
			GatewayId: igw.ID(),
		}},
		Tags: pulumi.StringMap{"Name": pulumi.String(name + "-public")},
	}, parent)
	if err != nil {
		return nil, wrap("create public route table", err)
	}
	n.Egress = append(n.Egress, publicRT)

	clusterTag := "kubernetes.io/cluster/" + args.ClusterName
	var publicIDs, privateIDs pulumi.StringArray
	var natIDs []pulumi.StringOutput
	for i, az := range args.AZs {
		pubCIDR, privCIDR, err := SubnetLayout(vpcCIDR, i)
		if err != nil {
			return nil, wrap("carve subnets for "+az, err)
		}
		pub, err := ec2.NewSubnet(ctx, name+"-public-"+az, &ec2.SubnetArgs{
			VpcId:            vpc.ID(),
			AvailabilityZone: pulumi.String(az),
			CidrBlock:        pulumi.String(pubCIDR.String()),
			// Only load balancers and NAT gateways live here; nothing gets a public IP implicitly.
			MapPublicIpOnLaunch: pulumi.Bool(false),
			Tags: pulumi.StringMap{
				"Name":                   pulumi.String(name + "-public-" + az),
				"kubernetes.io/role/elb": pulumi.String("1"),
				clusterTag:               pulumi.String("shared"),
			},
		}, parent)
		if err != nil {
			return nil, wrap("create public subnet "+az, err)
		}
		priv, err := ec2.NewSubnet(ctx, name+"-private-"+az, &ec2.SubnetArgs{
			VpcId:               vpc.ID(),
			AvailabilityZone:    pulumi.String(az),
			CidrBlock:           pulumi.String(privCIDR.String()),
			MapPublicIpOnLaunch: pulumi.Bool(false),
			Tags: pulumi.StringMap{
				"Name":                            pulumi.String(name + "-private-" + az),
				"kubernetes.io/role/internal-elb": pulumi.String("1"),
				clusterTag:                        pulumi.String("shared"),
			},
		}, parent)
		if err != nil {
			return nil, wrap("create private subnet "+az, err)
		}
		publicIDs = append(publicIDs, pub.ID())
		privateIDs = append(privateIDs, priv.ID())

		pubRTA, err := ec2.NewRouteTableAssociation(ctx, name+"-public-rta-"+az, &ec2.RouteTableAssociationArgs{
			SubnetId:     pub.ID(),
			RouteTableId: publicRT.ID(),
		}, parent)
		if err != nil {
			return nil, wrap("associate public subnet "+az, err)
		}
		n.Egress = append(n.Egress, pubRTA)

		if args.NATGateways == NATPerAZ || i == 0 {
			eip, err := ec2.NewEip(ctx, name+"-nat-eip-"+az, &ec2.EipArgs{
				Domain: pulumi.String("vpc"),
				Tags:   pulumi.StringMap{"Name": pulumi.String(name + "-nat-" + az)},
			}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
			if err != nil {
				return nil, wrap("allocate NAT address "+az, err)
			}
			nat, err := ec2.NewNatGateway(ctx, name+"-nat-"+az, &ec2.NatGatewayArgs{
				AllocationId: eip.ID(),
				SubnetId:     pub.ID(),
				Tags:         pulumi.StringMap{"Name": pulumi.String(name + "-" + az)},
			}, parent, pulumi.DependsOn([]pulumi.Resource{igw}))
			if err != nil {
				return nil, wrap("create NAT gateway "+az, err)
			}
			natIDs = append(natIDs, nat.ID().ToStringOutput())
			n.Egress = append(n.Egress, eip, nat)
		}
		// perAz: each zone routes through its own NAT; single: every zone through the first.
		natID := natIDs[len(natIDs)-1]
		privRT, err := ec2.NewRouteTable(ctx, name+"-private-rt-"+az, &ec2.RouteTableArgs{
			VpcId: vpc.ID(),
			Routes: ec2.RouteTableRouteArray{ec2.RouteTableRouteArgs{
				CidrBlock:    pulumi.String("0.0.0.0/0"),
				NatGatewayId: natID,
			}},
			Tags: pulumi.StringMap{"Name": pulumi.String(name + "-private-" + az)},
		}, parent)
		if err != nil {
			return nil, wrap("create private route table "+az, err)
		}
		privRTA, err := ec2.NewRouteTableAssociation(ctx, name+"-private-rta-"+az, &ec2.RouteTableAssociationArgs{
			SubnetId:     priv.ID(),
			RouteTableId: privRT.ID(),
		}, parent)
		if err != nil {
			return nil, wrap("associate private subnet "+az, err)
		}
		n.Egress = append(n.Egress, privRT, privRTA)
	}

	if err := newFlowLogs(ctx, name, vpc, args, parent); err != nil {
		return nil, wrap("flow logs", err)
	}

	n.VPCID = vpc.ID().ToStringOutput()
	n.PublicSubnetIDs = publicIDs.ToStringArrayOutput()
	n.PrivateSubnetIDs = privateIDs.ToStringArrayOutput()
	if err := ctx.RegisterResourceOutputs(n, pulumi.Map{
		"vpcId":            n.VPCID,
		"publicSubnetIds":  n.PublicSubnetIDs,
		"privateSubnetIds": n.PrivateSubnetIDs,
	}); err != nil {
		return nil, wrap("register outputs", err)
	}
	return n, nil
}

// newFlowLogs sends all VPC traffic records to a CloudWatch log group with bounded retention.
func newFlowLogs(ctx *pulumi.Context, name string, vpc *ec2.Vpc, args *NetworkArgs, parent pulumi.ResourceOption) error {
	account := args.Account
	key, err := newKey(ctx, name+"-flow-logs-key", "VPC flow log encryption", LogsKeyPolicy(account, args.FlowLogGroupName), parent)
	if err != nil {
		return err
	}
	group, err := cloudwatch.NewLogGroup(ctx, name+"-flow-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(args.FlowLogGroupName),
		RetentionInDays: pulumi.Int(args.FlowLogRetentionDays),
		KmsKeyId:        key.Arn,
	}, parent)
	if err != nil {
		return err
	}
	// Confused-deputy guard: only this account's flow logs may use the role.
	trust := serviceTrust("vpc-flow-logs.amazonaws.com")
	trust.Statement[0].Condition = map[string]map[string][]string{
		"StringEquals": {"aws:SourceAccount": {account.ID}},
		"ArnLike":      {"aws:SourceArn": {fmt.Sprintf("arn:%s:ec2:%s:%s:vpc-flow-log/*", account.Partition, account.Region, account.ID)}},
	}
	role, err := iam.NewRole(ctx, name+"-flow-logs", &iam.RoleArgs{
		AssumeRolePolicy:    pulumi.String(mustJSON(trust)),
		Path:                pulumi.String(args.Roles.Path),
		PermissionsBoundary: args.Roles.Boundary,
	}, parent)
	if err != nil {
		return err
	}
	// The role may write only to its own log group. logs:DescribeLogGroups authorizes on "*" alone (AWS's service
	// authorization reference lists no resource type for it), and it only lists names and settings.
	policy := group.Arn.ApplyT(func(arn string) (string, error) {
		return PolicyDocument{Version: policyVersion, Statement: []Statement{
			{
				Sid:      "WriteItsOwnLogGroup",
				Effect:   "Allow",
				Action:   []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
				Resource: []string{arn, arn + ":*"},
			},
			{
				Sid:      "ListLogGroups",
				Effect:   "Allow",
				Action:   []string{"logs:DescribeLogGroups"},
				Resource: []string{"*"},
			},
		}}.JSON()
	}).(pulumi.StringOutput)
	if _, err := iam.NewRolePolicy(ctx, name+"-flow-logs", &iam.RolePolicyArgs{
		Role:   role.ID(),
		Policy: policy,
	}, parent); err != nil {
		return err
	}
	_, err = ec2.NewFlowLog(ctx, name+"-flow-log", &ec2.FlowLogArgs{
		VpcId:              vpc.ID(),
		TrafficType:        pulumi.String("ALL"),
		LogDestinationType: pulumi.String("cloud-watch-logs"),
		LogDestination:     group.Arn,
		IamRoleArn:         role.Arn,
	}, parent)
	return err
}
