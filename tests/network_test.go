package tests

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNetwork_vpcHasDNSForEKS(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		vpc := r.single("aws:ec2/vpc:Vpc")
		assert.Equal(t, cfg.Get("vpcCidr"), vpc.Str("cidrBlock"))
		assert.Equal(t, true, vpc.In("enableDnsSupport"))
		assert.Equal(t, true, vpc.In("enableDnsHostnames"))
	}
}

// TestNetwork_subnetsPerZoneAreCarvedWithoutOverlap checks, per stack file, one public and one private
// subnet in each zone, keyed by zone name, inside the VPC and disjoint.
func TestNetwork_subnetsPerZoneAreCarvedWithoutOverlap(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		t.Run(stack, func(t *testing.T) {
			cfg := fixtureConfig(t, stack)
			azCount := mustAtoi(t, cfg.Get("azCount"))
			r := runStack(t, stack, cfg).ok()
			vpcID := r.single("aws:ec2/vpc:Vpc").Name + "-id"
			vpc := netip.MustParsePrefix(cfg.Get("vpcCidr"))

			subnets := r.all("aws:ec2/subnet:Subnet")
			require.Len(t, subnets, 2*azCount)
			var prefixes []netip.Prefix
			for _, az := range testZones[:azCount] {
				for _, kind := range []string{"public", "private"} {
					s := r.one("aws:ec2/subnet:Subnet", "network-"+kind+"-"+az)
					assert.Equal(t, az, s.Str("availabilityZone"))
					assert.Equal(t, vpcID, s.Str("vpcId"))
					assert.Equal(t, false, s.In("mapPublicIpOnLaunch"), "%s never hands out public IPs", s.Name)
					p := netip.MustParsePrefix(s.Str("cidrBlock"))
					assert.True(t, vpc.Contains(p.Addr()) && p.Bits() > vpc.Bits(), "%s inside %s", p, vpc)
					assert.LessOrEqual(t, p.Bits(), 28, "AWS subnets are /28 or larger")
					prefixes = append(prefixes, p)
				}
			}
			for i := range prefixes {
				for j := i + 1; j < len(prefixes); j++ {
					assert.False(t, prefixes[i].Overlaps(prefixes[j]), "%s overlaps %s", prefixes[i], prefixes[j])
				}
			}
		})
	}
}

func TestNetwork_subnetsCarryLoadBalancerAndClusterTags(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		clusterTag := "tags.kubernetes.io/cluster/" + projectName + "-" + stack
		for _, s := range r.all("aws:ec2/subnet:Subnet") {
			tags, _ := s.In("tags").(map[string]any)
			assert.Equal(t, "shared", tags["kubernetes.io/cluster/"+projectName+"-"+stack], "%s %s", s.Name, clusterTag)
			if strings.Contains(s.Name, "-public-") {
				assert.Equal(t, "1", tags["kubernetes.io/role/elb"], s.Name)
				assert.NotContains(t, tags, "kubernetes.io/role/internal-elb", s.Name)
			} else {
				assert.Equal(t, "1", tags["kubernetes.io/role/internal-elb"], s.Name)
				assert.NotContains(t, tags, "kubernetes.io/role/elb", s.Name)
			}
		}
	}
}

func TestNetwork_addingAZKeepsExistingSubnets(t *testing.T) {
	t.Parallel()
	cidrs := func(azCount int) map[string]string {
		cfg := fixtureConfig(t, "dev")
		cfg.Set("azCount", azCount)
		r := runStack(t, "dev", cfg).ok()
		out := map[string]string{}
		for _, s := range r.all("aws:ec2/subnet:Subnet") {
			out[s.Name] = s.Str("cidrBlock")
		}
		return out
	}
	two, four := cidrs(2), cidrs(4)
	for name, cidr := range two {
		assert.Equal(t, cidr, four[name], "%s must not move when zones are added", name)
	}
	assert.Len(t, four, 8)
}

func TestNetwork_smallestVPCStillCarvesValidSubnets(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.Set("vpcCidr", "10.1.2.0/24")
	cfg.Set("azCount", 4)
	r := runStack(t, "dev", cfg).ok()
	for _, s := range r.all("aws:ec2/subnet:Subnet") {
		p := netip.MustParsePrefix(s.Str("cidrBlock"))
		assert.LessOrEqual(t, p.Bits(), 28, s.Name)
	}
}

func TestNetwork_publicRoutesGoToTheInternetGateway(t *testing.T) {
	t.Parallel()
	r := runStack(t, "dev", fixtureConfig(t, "dev")).ok()
	igw := r.single("aws:ec2/internetGateway:InternetGateway")
	rt := r.one("aws:ec2/routeTable:RouteTable", "network-public-rt")
	routes := asSlice(rt.In("routes"))
	require.Len(t, routes, 1)
	route := routes[0].(map[string]any)
	assert.Equal(t, "0.0.0.0/0", route["cidrBlock"])
	assert.Equal(t, igw.Name+"-id", route["gatewayId"])
	for _, az := range testZones[:2] {
		a := r.one("aws:ec2/routeTableAssociation:RouteTableAssociation", "network-public-rta-"+az)
		assert.Equal(t, "network-public-"+az+"-id", a.Str("subnetId"))
		assert.Equal(t, rt.Name+"-id", a.Str("routeTableId"))
	}
}

// TestNetwork_natGatewaysFollowTheStackMode: dev has one NAT gateway for every zone; prod one per zone, each
// private route table using the NAT gateway of its own zone.
func TestNetwork_natGatewaysFollowTheStackMode(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		t.Run(stack, func(t *testing.T) {
			cfg := fixtureConfig(t, stack)
			azCount := mustAtoi(t, cfg.Get("azCount"))
			r := runStack(t, stack, cfg).ok()
			nats := r.all("aws:ec2/natGateway:NatGateway")
			perAZ := cfg.Get("natGateways") == "perAz"
			if perAZ {
				require.Len(t, nats, azCount)
			} else {
				require.Len(t, nats, 1)
			}
			assert.Len(t, r.all("aws:ec2/eip:Eip"), len(nats))
			for _, az := range testZones[:azCount] {
				rt := r.one("aws:ec2/routeTable:RouteTable", "network-private-rt-"+az)
				routes := asSlice(rt.In("routes"))
				require.Len(t, routes, 1)
				route := routes[0].(map[string]any)
				assert.Equal(t, "0.0.0.0/0", route["cidrBlock"])
				natAZ := testZones[0]
				if perAZ {
					natAZ = az
				}
				assert.Equal(t, "network-nat-"+natAZ+"-id", route["natGatewayId"], "private %s routes through the NAT in %s", az, natAZ)
				nat := r.one("aws:ec2/natGateway:NatGateway", "network-nat-"+natAZ)
				assert.Equal(t, "network-public-"+natAZ+"-id", nat.Str("subnetId"), "NAT gateways live in public subnets")
				assoc := r.one("aws:ec2/routeTableAssociation:RouteTableAssociation", "network-private-rta-"+az)
				assert.Equal(t, "network-private-"+az+"-id", assoc.Str("subnetId"))
				assert.Equal(t, rt.Name+"-id", assoc.Str("routeTableId"))
			}
		})
	}
}

func TestNetwork_flowLogsCaptureAllTrafficWithBoundedRetention(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		fl := r.single("aws:ec2/flowLog:FlowLog")
		group := r.one("aws:cloudwatch/logGroup:LogGroup", "network-flow-logs")
		role := r.one("aws:iam/role:Role", "network-flow-logs")
		assert.Equal(t, "network-vpc-id", fl.Str("vpcId"))
		assert.Equal(t, "ALL", fl.Str("trafficType"))
		assert.Equal(t, "cloud-watch-logs", fl.Str("logDestinationType"))
		assert.True(t, strings.HasPrefix(fl.Str("logDestination"), "arn:aws:logs:"), fl.Str("logDestination"))
		assert.True(t, r.dependsOn(fl, group) && r.dependsOn(fl, role))
		assert.Equal(t, float64(mustAtoi(t, cfg.Get("logRetentionDays"))), group.In("retentionInDays"))

		trust := jsonInput[trustDoc](t, role, "assumeRolePolicy")
		assert.Equal(t, []string{"vpc-flow-logs.amazonaws.com"}, trust.Statement[0].Principal.Service)
		assert.Equal(t, []string{testAccount}, trust.Statement[0].Condition["StringEquals"]["aws:SourceAccount"],
			"the service may assume the role only for this account's flow logs")
		policy := jsonInput[trustDoc](t, r.one("aws:iam/rolePolicy:RolePolicy", "network-flow-logs"), "policy")
		for _, st := range policy.Statement {
			if slices.Equal(st.Action, []string{"logs:DescribeLogGroups"}) {
				// AWS authorizes DescribeLogGroups on "*" alone; granted on a group's ARN it is denied, and flow
				// logs stop with an access error.
				assert.Equal(t, []string{"*"}, st.Resource)
				continue
			}
			assert.NotContains(t, st.Action, "logs:DescribeLogGroups")
			for _, res := range st.Resource {
				assert.True(t, strings.HasPrefix(res, fl.Str("logDestination")), "flow log role writes only to its group, not %s", res)
			}
		}
	}
}

func TestNetwork_defaultSecurityGroupHasNoRules(t *testing.T) {
	t.Parallel()
	r := runStack(t, "prod", fixtureConfig(t, "prod")).ok()
	sg := r.single("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
	assert.Equal(t, "network-vpc-id", sg.Str("vpcId"))
	assert.Empty(t, sg.In("ingress"))
	assert.Empty(t, sg.In("egress"))
}
