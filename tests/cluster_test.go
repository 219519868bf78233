package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

const (
	nodeGroupTy = "aws:eks/nodeGroup:NodeGroup"
	k8sProvTy   = "pulumi:providers:kubernetes"
)

func TestCluster_isThePulumiEKSRemoteComponentInPrivateSubnets(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		azCount := mustAtoi(t, cfg.Get("azCount"))
		r := runStack(t, stack, cfg).ok()
		c := r.single(eksClusterTy)
		assert.True(t, c.Remote, "pulumi-eks Cluster is a remote component")
		assert.False(t, c.Custom)
		assert.Equal(t, projectName+"-"+stack, c.Str("name"))
		assert.Equal(t, cfg.Get("kubernetesVersion"), c.Str("version"))
		assert.Equal(t, "network-vpc-id", c.Str("vpcId"))
		var private, public []string
		for _, az := range testZones[:azCount] {
			private = append(private, "network-private-"+az+"-id")
			public = append(public, "network-public-"+az+"-id")
		}
		assert.Equal(t, private, c.Strs("privateSubnetIds"))
		assert.Equal(t, public, c.Strs("publicSubnetIds"), "public subnets only for internet-facing load balancers")
		assert.Equal(t, true, c.In("skipDefaultNodeGroup"), "the default node group needs launch configurations")
		assert.Equal(t, "API", c.Str("authenticationMode"))
		assert.Equal(t, true, c.In("createOidcProvider"), "IRSA")
	}
}

func TestCluster_endpointIsPrivateAndPublicOnlyForConfiguredCIDRs(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		c := runStack(t, stack, cfg).ok().single(eksClusterTy)
		assert.Equal(t, true, c.In("endpointPrivateAccess"))
		assert.Equal(t, true, c.In("endpointPublicAccess"))
		assert.Equal(t, asStrings(t, cfg.Get("endpointPublicAccessCidrs")), c.Strs("publicAccessCidrs"))
		if stack == "prod" {
			assert.NotContains(t, c.Strs("publicAccessCidrs"), "0.0.0.0/0")
		}
	}
	cfg := fixtureConfig(t, "prod")
	cfg.Set("endpointPublicAccessCidrs", []string{})
	c := runStack(t, "prod", cfg).ok().single(eksClusterTy)
	assert.Equal(t, false, c.In("endpointPublicAccess"), "an empty list means no public endpoint at all")
	assert.Equal(t, true, c.In("endpointPrivateAccess"))
}

func TestCluster_secretsAreEnvelopeEncryptedWithARotatingKey(t *testing.T) {
	t.Parallel()
	r := runStack(t, "prod", fixtureConfig(t, "prod")).ok()
	c := r.single(eksClusterTy)
	key := r.one("aws:kms/key:Key", "cluster-secrets-key")
	assert.Equal(t, true, key.In("enableKeyRotation"))
	assert.True(t, strings.HasPrefix(c.Str("encryptionConfigKeyArn"), "arn:aws:kms:"))
	assert.True(t, r.dependsOn(c, key))
}

func TestCluster_allControlPlaneLogsGoToAGroupWithRetentionCreatedFirst(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		r := runStack(t, stack, cfg).ok()
		c := r.single(eksClusterTy)
		assert.ElementsMatch(t, []string{"api", "audit", "authenticator", "controllerManager", "scheduler"}, c.Strs("enabledClusterLogTypes"))
		group := r.one("aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane-logs")
		assert.Equal(t, "/aws/eks/"+projectName+"-"+stack+"/cluster", group.Str("name"), "EKS writes to exactly this group")
		assert.Equal(t, float64(mustAtoi(t, cfg.Get("logRetentionDays"))), group.In("retentionInDays"))
		assert.True(t, r.dependsOn(c, group), "the group exists before EKS would create it without retention")
		assert.Contains(t, c.PropertyDeps["clusterTags"], group.URN, "an input ties the remote component's construction to the group")
	}
}

func TestCluster_adminsGetAccessEntriesWithClusterAdminPolicy(t *testing.T) {
	t.Parallel()
	admins := []string{"arn:aws:iam::111122223333:role/platform-admins", "arn:aws:iam::111122223333:user/alice"}
	cfg := fixtureConfig(t, "prod")
	cfg.Set("clusterAdminArns", admins)
	r := runStack(t, "prod", cfg).ok()
	entries := r.all("aws:eks/accessEntry:AccessEntry")
	require.Len(t, entries, len(admins))
	for _, arn := range admins {
		var entry *record
		for _, e := range entries {
			if e.Str("principalArn") == arn {
				entry = e
			}
		}
		require.NotNil(t, entry, "access entry for %s", arn)
		assert.Equal(t, "STANDARD", entry.Str("type"))
		assert.Equal(t, projectName+"-prod", entry.Str("clusterName"))
		assert.False(t, entry.Protect, "access follows the admin list even in prod")
		assocs := r.all("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
		var found bool
		for _, a := range assocs {
			if a.Str("principalArn") != arn {
				continue
			}
			found = true
			assert.Equal(t, "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", a.Str("policyArn"))
			assert.Equal(t, "cluster", a.Str("accessScope.type"))
			assert.True(t, r.dependsOn(a, entry), "a policy can only be associated once the entry exists")
		}
		assert.True(t, found, "policy association for %s", arn)
	}
	assert.Contains(t, entries[0].Name, "cluster-access-admin-111122223333-", "keyed by principal, not list position")
}

// TestProtect_prodProtectsEverythingButWhatFollowsItsConfiguration: the engine goes on deleting whatever it can
// after it refuses a protected resource (tests/engine shows it), so production mode protects every resource of
// the stack, custom resources and components alike; only the access entries (the admin list), the repository
// credentials (appRepoToken) and, once the VPC CNI has a role of its own, what vpcCniIdentity adds and removes
// follow their configuration. Dev protects nothing.
func TestProtect_prodProtectsEverythingButWhatFollowsItsConfiguration(t *testing.T) {
	t.Parallel()
	follows := map[string]bool{
		"aws:eks/accessEntry:AccessEntry": true, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": true,
	}
	for _, stack := range stackNames {
		for _, cni := range []string{infra.VPCCNINode, infra.VPCCNIBoth} {
			cfg := deployConfig(t, stack)
			cfg.Set("clusterAdminArns", []string{"arn:aws:iam::111122223333:role/oncall"})
			cfg.SetSecret("appRepoToken", "t0ken")
			cfg.Set("vpcCniIdentity", cni)
			r := runStack(t, stack, cfg).ok()
			for _, rec := range r.records {
				exempt := follows[rec.Type] || rec.Name == "gitops-repo-credentials" ||
					cni == infra.VPCCNIBoth && slices.Contains([]string{"cluster-vpc-cni-role", "cluster-vpc-cni-policy", "cluster-node-role-cni"}, rec.Name)
				want := stack == "prod" && !exempt
				assert.Equalf(t, want, rec.Protect, "%s, %s: %s %s protected", stack, cni, rec.Type, rec.Name)
			}
		}
	}
}

// TestCluster_kubeconfigOutputIsSecretAndTheClusterIsNamedAfterTheStack: the kubeconfig (which names the cluster
// and its endpoint) is exported as a secret; the cluster's name, which the program chooses, is <project>-<stack>
// and is not secret. (What the kubeconfig holds is pulumi-eks's: the mock only echoes it.)
func TestCluster_kubeconfigOutputIsSecretAndTheClusterIsNamedAfterTheStack(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		kc := r.outputs[stacks.OutputKubeconfig]
		assert.True(t, kc.Secret, "kubeconfig output is secret")
		assert.Equal(t, projectName+"-"+stack, r.single(eksClusterTy).Str("name"), "the name the program gives the cluster")
		assert.False(t, r.outputs[stacks.OutputClusterName].Secret)
		assert.Equal(t, "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE", r.outputs[stacks.OutputClusterOIDCIssuerURL].Value)
		assert.Equal(t, "arn:aws:iam::"+testAccount+":oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
			r.outputs[stacks.OutputClusterOIDCProvider].Value, "the ARN follows from the issuer")
		assert.Contains(t, r.outputs[stacks.OutputNodeRoleARN].Value, ":role/"+projectName+"/"+stack+"/cluster-node-role-")
	}
}

// TestNodeGroup_roleIsTheClustersInstanceRoleWithExactlyWorkerCNIAndECRRead: the node role is handed to
// pulumi-eks as the cluster's instance role, so pulumi-eks v2.8.1 creates no role of its own (one without the
// stack's path and boundary; tests/engine shows it does when none is passed) and gives this role the nodes'
// access entry; the nodegroup runs with the same role.
func TestNodeGroup_roleIsTheClustersInstanceRoleWithExactlyWorkerCNIAndECRRead(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		role := r.one("aws:iam/role:Role", "cluster-node-role")
		trust := jsonInput[trustDoc](t, role, "assumeRolePolicy")
		assert.Equal(t, []string{"ec2.amazonaws.com"}, trust.Statement[0].Principal.Service)
		var attached []string
		for _, a := range r.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
			if r.dependsOn(a, role) {
				attached = append(attached, a.Str("policyArn"))
			}
		}
		assert.ElementsMatch(t, []string{
			"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
			"arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
			"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
		}, attached)
		cluster := r.single(eksClusterTy)
		assert.Equal(t, role.URN, cluster.In("instanceRole"), "pulumi-eks gets the node role as its instance role")
		assert.Nil(t, cluster.In("instanceRoles"))
		assert.Contains(t, r.single(nodeGroupTy).PropertyDeps["nodeRoleArn"], role.URN, "the nodes run with it")
	}
}

func TestNodeGroup_waitsForAllThreePolicyAttachments(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		ng := r.single(nodeGroupTy)
		for _, key := range []string{"worker", "cni", "ecr-read"} {
			att := r.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "cluster-node-role-"+key)
			assert.Contains(t, ng.Dependencies, att.URN, "nodes start only with %s attached", key)
		}
	}
}

// TestNodeGroup_waitsForPrivateEgress: nodes in private subnets join the cluster through the NAT routes, so the
// nodegroup is created only once every NAT gateway and private route exists.
func TestNodeGroup_waitsForPrivateEgress(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		ng := r.single(nodeGroupTy)
		egress := append(r.all("aws:ec2/natGateway:NatGateway"), r.all("aws:ec2/routeTableAssociation:RouteTableAssociation")...)
		egress = append(egress, r.all("aws:ec2/routeTable:RouteTable")...)
		for _, e := range egress {
			assert.True(t, r.dependsOn(ng, e), "nodegroup waits for %s", e.Name)
		}
	}
}

func TestNodeGroup_sizesTypesAndPrivateSubnetsFollowTheStack(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		azCount := mustAtoi(t, cfg.Get("azCount"))
		r := runStack(t, stack, cfg).ok()
		ng := r.single(nodeGroupTy)
		var private []string
		for _, az := range testZones[:azCount] {
			private = append(private, "network-private-"+az+"-id")
		}
		assert.Equal(t, private, ng.Strs("subnetIds"), "nodes only in private subnets")
		assert.Equal(t, projectName+"-"+stack, ng.Str("clusterName"))
		assert.True(t, r.dependsOn(ng, r.single(eksClusterTy)))
		assert.Equal(t, asStrings(t, cfg.Get("nodeInstanceTypes")), ng.Strs("instanceTypes"))
		assert.Equal(t, cfg.Get("nodeCapacityType"), ng.Str("capacityType"))
		assert.Equal(t, float64(mustAtoi(t, cfg.Get("nodeMinSize"))), ng.In("scalingConfig.minSize"))
		assert.Equal(t, float64(mustAtoi(t, cfg.Get("nodeDesiredSize"))), ng.In("scalingConfig.desiredSize"))
		assert.Equal(t, float64(mustAtoi(t, cfg.Get("nodeMaxSize"))), ng.In("scalingConfig.maxSize"))
		assert.Equal(t, float64(1), ng.In("updateConfig.maxUnavailable"))
		assert.Equal(t, "AL2023_x86_64_STANDARD", ng.Str("amiType"))
		assert.Nil(t, ng.In("remoteAccess"), "no SSH")
		assert.Equal(t, "nodes-lt-id", ng.Str("launchTemplate.id"))
		assert.Equal(t, "1", ng.Str("launchTemplate.version"))
	}
}

func TestNodeGroup_gravitonTypesGetTheARMImage(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "dev")
	cfg.Set("nodeInstanceTypes", []string{"m7g.large", "c7g.large"})
	ng := runStack(t, "dev", cfg).ok().single(nodeGroupTy)
	assert.Equal(t, "AL2023_ARM_64_STANDARD", ng.Str("amiType"))
	assert.Equal(t, "AL2023_ARM_64_STANDARD", infra.AMIType([]string{"t4g.medium"}))
	assert.Equal(t, "AL2023_x86_64_STANDARD", infra.AMIType([]string{"t3.medium"}))
}

// TestNodeGroup_keepsTheAutoscalersSizeWhenItsBoundsChange: EKS takes the desired, minimum and maximum size
// together. While the bounds stay, the desired size is left to the autoscaler (ignored); when nodeMinSize or
// nodeMaxSize change, the nodegroup sends the size it runs at (read from AWS), kept within the new bounds, never
// the initial nodeDesiredSize, which would undo the autoscaler or break the new bounds.
func TestNodeGroup_keepsTheAutoscalersSizeWhenItsBoundsChange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		live          *plan.LiveNodeGroup
		min, max      int
		desired       float64
		ignoresDesire bool
	}{
		{"first up", nil, 3, 6, 3, true},
		{"bounds unchanged", &plan.LiveNodeGroup{Name: "nodes-abc", Desired: 5, Min: 3, Max: 6}, 3, 6, 3, true},
		{"max raised", &plan.LiveNodeGroup{Name: "nodes-abc", Desired: 5, Min: 3, Max: 6}, 3, 9, 5, false},
		{"min raised above the live size", &plan.LiveNodeGroup{Name: "nodes-abc", Desired: 3, Min: 3, Max: 6}, 4, 6, 4, false},
		{"max lowered below the live size", &plan.LiveNodeGroup{Name: "nodes-abc", Desired: 6, Min: 3, Max: 6}, 3, 4, 4, false},
		{"another group of the cluster", &plan.LiveNodeGroup{Name: "batch-abc", Desired: 6, Min: 3, Max: 6}, 3, 4, 3, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fixtureConfig(t, "prod")
			cfg.Set("nodeMinSize", tc.min)
			cfg.Set("nodeDesiredSize", tc.min)
			cfg.Set("nodeMaxSize", tc.max)
			ng := runStackWith(t, "prod", cfg, func(e *plan.Engine) { e.Nodes = tc.live }).ok().single(nodeGroupTy)
			assert.Equal(t, tc.desired, ng.In("scalingConfig.desiredSize"))
			assert.Equal(t, float64(tc.min), ng.In("scalingConfig.minSize"))
			assert.Equal(t, float64(tc.max), ng.In("scalingConfig.maxSize"))
			if tc.ignoresDesire {
				assert.Equal(t, []string{"scalingConfig.desiredSize"}, ng.IgnoreChanges)
			} else {
				assert.Empty(t, ng.IgnoreChanges, "the live size goes to EKS with the new bounds")
			}
		})
	}
}

// TestNodeGroup_rollsWithinItsTimeoutAndTheDeploySession: a rolling update replaces nodes in batches sized so
// that the largest group allowed rolls within the provider's timeout, which the automation session outlives.
func TestNodeGroup_rollsWithinItsTimeoutAndTheDeploySession(t *testing.T) {
	t.Parallel()
	for _, max := range []int{4, 6, 11, 12, 100, stacks.MaxNodesPerNodeGroup} {
		cfg := fixtureConfig(t, "prod")
		cfg.Set("nodeMaxSize", max)
		ng := runStack(t, "prod", cfg).ok().single(nodeGroupTy)
		unavailable := int(ng.In("updateConfig.maxUnavailable").(float64))
		batches := (max + unavailable - 1) / unavailable
		assert.LessOrEqualf(t, time.Duration(batches)*infra.NodeBatchTime, infra.NodeGroupUpdateTimeout,
			"%d nodes, %d at a time", max, unavailable)
		assert.LessOrEqual(t, unavailable, 100, "EKS allows at most 100")
		assert.Equal(t, fmt.Sprintf("%dm", int(infra.NodeGroupUpdateTimeout.Minutes())), ng.UpdateTimeout)
		if max <= 11 {
			assert.Equal(t, 1, unavailable, "small groups roll one node at a time")
		}
	}
	// Control plane (about 30 minutes), the roll, then add-ons and charts (about 30).
	assert.GreaterOrEqual(t, infra.LongestUpdate, 30*time.Minute+infra.NodeGroupUpdateTimeout+30*time.Minute)
}

func TestNodeGroup_launchTemplateRequiresIMDSv2AndEncryptsTheRootVolume(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		cfg := fixtureConfig(t, stack)
		lt := runStack(t, stack, cfg).ok().single("aws:ec2/launchTemplate:LaunchTemplate")
		assert.Equal(t, "required", lt.Str("metadataOptions.httpTokens"))
		assert.Equal(t, float64(1), lt.In("metadataOptions.httpPutResponseHopLimit"), "pods cannot reach node credentials")
		assert.Equal(t, "enabled", lt.Str("metadataOptions.httpEndpoint"))
		bdm := asSlice(lt.In("blockDeviceMappings"))
		require.Len(t, bdm, 1)
		ebs := bdm[0].(map[string]any)["ebs"].(map[string]any)
		assert.Equal(t, "true", ebs["encrypted"])
		assert.Equal(t, "gp3", ebs["volumeType"])
		assert.Equal(t, float64(mustAtoi(t, cfg.Get("nodeDiskSizeGiB"))), ebs["volumeSize"])
		assert.Nil(t, lt.In("keyName"), "no SSH key pair")
		assert.Nil(t, lt.In("userData"), "EKS bootstraps AL2023 nodes itself")
	}
}

func TestKubernetesProvider_waitsForNodesAndUsesTheClusterKubeconfig(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		prov := r.single(k8sProvTy)
		ng := r.single(nodeGroupTy)
		assert.True(t, r.dependsOn(prov, ng), "nothing is deployed before nodes that can pull from ECR exist")
		for _, key := range []string{"worker", "cni", "ecr-read"} {
			att := r.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "cluster-node-role-"+key)
			assert.True(t, r.dependsOnTransitively(prov, att))
		}
		assert.True(t, prov.Raw("kubeconfig").IsSecret(), "the kubeconfig input stays secret")
		assert.Contains(t, prov.PropertyDeps["kubeconfig"], r.single(eksClusterTy).URN, "the cluster's own kubeconfig")
		assert.Equal(t, "https://EXAMPLE.gr7.us-east-1.eks.amazonaws.com", prov.Str("clusterIdentifier"),
			"the cluster's endpoint: a refreshed token replaces nothing, a replaced cluster replaces the provider")
		assert.True(t, prov.Raw("clusterIdentifier").IsSecret(), "the endpoint stays secret like the kubeconfig")
		assert.Nil(t, prov.In("helmReleaseSettings"), "Helm's default driver: previews never read release records")
	}
}

func TestKubernetesProvider_waitsForTheAccessEntriesOfWhoRunsPulumi(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "prod")
	cfg.Set("pulumiOrganization", "acme")
	cfg.Set("clusterAdminArns", []string{"arn:aws:iam::111122223333:role/platform-admins"})
	r := runStack(t, "prod", cfg).ok()
	prov := r.single(k8sProvTy)
	for _, e := range append(r.all("aws:eks/accessEntry:AccessEntry"), r.all("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")...) {
		assert.True(t, r.dependsOn(prov, e), "provider waits for %s", e.Name)
	}
}

func TestCluster_vpcCNIIsTheManagedAddonNotPulumiEKSsCopy(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		c := r.single(eksClusterTy)
		assert.Equal(t, true, c.In("useDefaultVpcCni"), "no kubectl-applied CNI pinned to an older release")
		addon := r.one("aws:eks/addon:Addon", "cluster-vpc-cni")
		assert.Equal(t, "vpc-cni", addon.Str("addonName"))
		assert.Equal(t, projectName+"-"+stack, addon.Str("clusterName"))
		assert.Equal(t, "OVERWRITE", addon.Str("resolveConflictsOnCreate"), "adopts the aws-node EKS installed")
		assert.Contains(t, r.single(nodeGroupTy).Dependencies, addon.URN, "nodes join with pod networking in place")
	}
}

func TestNodeGroup_followsTheClusterVersion(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "prod")
	cfg.Set("kubernetesVersion", "1.34")
	r := runStack(t, "prod", cfg).ok()
	assert.Equal(t, "1.34", r.single(nodeGroupTy).Str("version"), "EKS refuses the next control-plane bump while nodes lag")
	assert.Equal(t, "1.34", r.single(eksClusterTy).Str("version"))
}

func TestCluster_zonesEKSCannotUseAreExcluded(t *testing.T) {
	t.Parallel()
	r := runStack(t, "prod", fixtureConfig(t, "prod")).ok()
	args := r.result.InvokeArgs["aws:index/getAvailabilityZones:getAvailabilityZones"]
	require.NotNil(t, args)
	assert.ElementsMatch(t, []any{"use1-az3", "usw1-az2", "cac1-az3"}, plain(args["excludeZoneIds"]))
	assert.Equal(t, "available", args["state"].StringValue())
}

func TestCluster_noPublicCIDRListWithoutAPublicEndpoint(t *testing.T) {
	t.Parallel()
	cfg := fixtureConfig(t, "prod")
	cfg.Set("endpointPublicAccessCidrs", []string{})
	c := runStack(t, "prod", cfg).ok().single(eksClusterTy)
	_, present := c.Inputs["publicAccessCidrs"]
	assert.False(t, present, "pulumi-eks rejects a CIDR list, even empty, when the public endpoint is off")
}

// TestVPCCNI_ownRoleInTwoSteps: vpcCniIdentity moves the VPC CNI from the node role to a Pod Identity role of its
// own. node (the default) has no such role; both adds the role (the AWS managed CNI policy, the stack's path and
// boundary, trusted for kube-system/aws-node) and the add-on's association, and keeps the nodes' policy; podIdentity
// also drops the nodes' policy. A running cluster whose add-on has no association yet may not skip the step in
// between: aws-node would lose its permissions.
func TestVPCCNI_ownRoleInTwoSteps(t *testing.T) {
	t.Parallel()
	nodeAttachments := func(r *run) []string {
		var keys []string
		for _, rec := range r.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
			if key, ok := strings.CutPrefix(rec.Name, "cluster-node-role-"); ok {
				keys = append(keys, key)
			}
		}
		return keys
	}
	nodes := func(r *run) *record { return r.one("aws:eks/nodeGroup:NodeGroup", "nodes") }
	for _, stack := range stackNames {
		r := runStack(t, stack, fixtureConfig(t, stack)).ok()
		assert.Equal(t, stack == "prod", r.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "cluster-node-role-cni").Protect,
			"node: the nodes' CNI policy is protected in prod as before")
		for _, rec := range r.all("aws:iam/role:Role") {
			assert.NotEqual(t, "cluster-vpc-cni-role", rec.Name, "node: no role of its own")
		}
		assert.ElementsMatch(t, []string{"worker", "cni", "ecr-read"}, nodeAttachments(r))
		assert.Nil(t, r.one("aws:eks/addon:Addon", "cluster-vpc-cni").In("podIdentityAssociations"))

		for _, mode := range []string{infra.VPCCNIBoth, infra.VPCCNIPodIdentity} {
			cfg := fixtureConfig(t, stack)
			cfg.Set("vpcCniIdentity", mode)
			r := runStack(t, stack, cfg).ok()
			role := r.one("aws:iam/role:Role", "cluster-vpc-cni-role")
			assert.Equal(t, "/"+projectName+"/"+stack+"/", role.Str("path"))
			assert.Equal(t, []string{r.one("aws:iam/policy:Policy", "roles-policy").URN}, role.PropertyDeps["permissionsBoundary"],
				"under the stack's boundary")
			trust := role.Str("assumeRolePolicy")
			assert.Contains(t, trust, `"aws:RequestTag/kubernetes-namespace":["kube-system"]`)
			assert.Contains(t, trust, `"aws:RequestTag/kubernetes-service-account":["aws-node"]`)
			assert.Contains(t, trust, `"aws:RequestTag/eks-cluster-arn":["arn:aws:eks:`+plan.Region+`:`+testAccount+`:cluster/`+projectName+`-`+stack+`"]`)
			policy := r.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "cluster-vpc-cni-policy")
			assert.Equal(t, "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy", policy.Str("policyArn"))
			addon := r.one("aws:eks/addon:Addon", "cluster-vpc-cni")
			associations := asSlice(addon.In("podIdentityAssociations"))
			require.Len(t, associations, 1)
			assert.Equal(t, "aws-node", associations[0].(map[string]any)["serviceAccount"])
			assert.Contains(t, associations[0].(map[string]any)["roleArn"], "cluster-vpc-cni-role", "its role's ARN")
			assert.Equal(t, []string{role.URN}, addon.PropertyDeps["podIdentityAssociations"], "the association names the role")
			assert.True(t, r.dependsOn(addon, policy), "the association only once the role holds the policy")
			want := []string{"worker", "cni", "ecr-read"}
			if mode == infra.VPCCNIPodIdentity {
				want = []string{"worker", "ecr-read"}
			}
			assert.ElementsMatchf(t, want, nodeAttachments(r), "%s: the nodes' policies", mode)
			// What vpcCniIdentity adds and removes follows it even in prod; a destroy cannot take it before the
			// protected add-on and nodes that depend on it.
			for _, rec := range []*record{role, policy} {
				assert.Falsef(t, rec.Protect, "%s follows vpcCniIdentity", rec.Name)
				assert.Truef(t, r.dependsOnTransitively(nodes(r), rec), "%s goes after the nodes on destroy", rec.Name)
			}
			assert.Equal(t, stack == "prod", addon.Protect, "the add-on stays protected in prod")
			if mode == infra.VPCCNIBoth {
				nodeCNI := r.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "cluster-node-role-cni")
				assert.False(t, nodeCNI.Protect, "the nodes' CNI policy follows vpcCniIdentity once the CNI has a role")
				assert.True(t, r.dependsOn(addon, nodeCNI), "the way back to the node role finds the nodes' policy there")
			}
			assert.True(t, r.dependsOnTransitively(nodes(r), addon), "nodes wait for the CNI with its role")
		}
	}

	running := func(e *plan.Engine) { e.ClusterVersion = stacks.DefaultKubernetesVersion }
	cfg := fixtureConfig(t, "prod")
	cfg.Set("vpcCniIdentity", infra.VPCCNIPodIdentity)
	r := runStackWith(t, "prod", cfg, running)
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "vpcCniIdentity: podIdentity takes the CNI policy from the nodes, and the running VPC CNI has no Pod Identity role yet")
	assert.Contains(t, r.err.Error(), "Set both first and `pulumi up`; check that aws-node restarted onto its role (else `kubectl -n kube-system rollout restart daemonset aws-node`)")
	assert.Empty(t, r.records, "refused before anything is registered")
	runStackWith(t, "prod", cfg, func(e *plan.Engine) {
		running(e)
		e.CNIPodIdentityRole = "arn:aws:iam::" + testAccount + ":role/" + projectName + "/prod/cluster-vpc-cni-role-1a2b3c4"
	}).ok()
	r = runStackWith(t, "prod", cfg, func(e *plan.Engine) {
		running(e)
		e.CNIPodIdentityRole = "arn:aws:iam::" + testAccount + ":role/other"
		e.CNIPodIdentityServiceAccount = "other"
	})
	require.Error(t, r.err, "an association for another ServiceAccount is not aws-node's")
	cfg.Set("vpcCniIdentity", "pods")
	r = runStack(t, "prod", cfg)
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), `vpcCniIdentity: must be "node", "both" or "podIdentity", got "pods"`)
}
