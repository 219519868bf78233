package standin

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumiprovider "github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
)

// The versions pulumi-eks v2.8.1 bundles (nodejs/eks/yarn.lock): its children ask the engine for these
// plugins, so a stack holds a second, older default aws provider next to the program's.
const (
	eksBundledAWS        = "6.45.0"
	eksBundledKubernetes = "4.15.0"
)

// EKSCluster stands in for pulumi-eks v2.8.1's remote eks:index:Cluster in the configuration this program uses
// (skipDefaultNodeGroup, a service role passed in, useDefaultVpcCni, authentication mode API). It registers the
// children the real component registers, with the same types, logical names and wiring, and returns the same
// output shape. Read from nodejs/eks/cluster.ts, servicerole.ts, securitygroup.ts and authenticationMode.ts at
// tag v2.8.1:
//   - a cluster security group with an egress rule, and a node security group with its five rules, always;
//   - the aws:eks/cluster:Cluster, tagged {Name, ...clusterTags, ...tags}, with accessConfig
//     {authenticationMode, bootstrapClusterCreatorAdminPermissions: true} (changes to the flag ignored);
//   - with neither instanceRole nor instanceRoles: its own instance role `<name>-instanceRole-role` (path "/",
//     no permissions boundary, the three node policies) even though no node group uses it; with instanceRole:
//     no role; with instanceRoles: [] neither a role nor an access entry;
//   - in API mode, an EC2_LINUX access entry `<name>-defaultNodeGroupInstanceRole` for the instance role;
//   - the IRSA OIDC provider, and two Kubernetes providers built from the kubeconfig;
//   - outputs kubeconfig and kubeconfigJson, not marked secret, and `core`, whose accessEntries are resource
//     references: the Go SDK cannot decode them into eks.CoreData (pulumi-eks issue #1435, fixed in v3.0.2), so
//     a program that reads Cluster.Core fails here as it fails against the real provider.
//
// Not reproduced: the run-time checks for `kubectl` and `aws` on PATH, the OIDC thumbprint download, the
// /healthz wait.
func EKSCluster(ctx *pulumi.Context, typ, name string, inputs pulumiprovider.ConstructInputs, opts pulumi.ResourceOption) (*pulumiprovider.ConstructResult, error) {
	var in struct {
		Name                   pulumi.StringInput      `pulumi:"name"`
		Version                pulumi.StringInput      `pulumi:"version"`
		VpcID                  pulumi.StringInput      `pulumi:"vpcId"`
		PrivateSubnetIDs       pulumi.StringArrayInput `pulumi:"privateSubnetIds"`
		PublicSubnetIDs        pulumi.StringArrayInput `pulumi:"publicSubnetIds"`
		EndpointPrivateAccess  pulumi.BoolInput        `pulumi:"endpointPrivateAccess"`
		EndpointPublicAccess   pulumi.BoolInput        `pulumi:"endpointPublicAccess"`
		PublicAccessCIDRs      pulumi.StringArrayInput `pulumi:"publicAccessCidrs"`
		EncryptionConfigKeyARN pulumi.StringInput      `pulumi:"encryptionConfigKeyArn"`
		EnabledClusterLogTypes pulumi.StringArrayInput `pulumi:"enabledClusterLogTypes"`
		AuthenticationMode     pulumi.StringInput      `pulumi:"authenticationMode"`
		ClusterTags            pulumi.StringMapInput   `pulumi:"clusterTags"`
		Tags                   pulumi.StringMapInput   `pulumi:"tags"`
	}
	if err := inputs.CopyTo(&in); err != nil {
		return nil, fmt.Errorf("eks:index:Cluster %s: inputs: %w", name, err)
	}
	raw, err := inputs.Map()
	if err != nil {
		return nil, err
	}
	// Resource references arrive as resources in the raw map (CopyTo cannot type them as iam.RoleInput).
	_, hasInstanceRoles := raw["instanceRoles"]
	serviceRole, ok := roleInput(raw, "serviceRole")
	if !ok {
		return nil, fmt.Errorf("eks:index:Cluster %s: this stand-in covers a passed serviceRole only", name)
	}
	instanceRole, hasInstanceRole := roleInput(raw, "instanceRole")

	comp := &struct{ pulumi.ResourceState }{}
	if err := ctx.RegisterComponentResource(typ, name, comp, opts); err != nil {
		return nil, err
	}
	aws := []pulumi.ResourceOption{pulumi.Parent(comp), pulumi.Version(eksBundledAWS)}
	with := func(extra ...pulumi.ResourceOption) []pulumi.ResourceOption {
		return append(append([]pulumi.ResourceOption{}, aws...), extra...)
	}
	tags := func(self string) pulumi.StringMapOutput {
		return pulumi.All(in.ClusterTags, in.Tags).ApplyT(func(v []any) map[string]string {
			out := map[string]string{"Name": self}
			for _, m := range v {
				if mm, ok := m.(map[string]string); ok {
					for k, s := range mm {
						out[k] = s
					}
				}
			}
			return out
		}).(pulumi.StringMapOutput)
	}

	clusterSG, err := ec2.NewSecurityGroup(ctx, name+"-eksClusterSecurityGroup", &ec2.SecurityGroupArgs{
		VpcId: in.VpcID, RevokeRulesOnDelete: pulumi.Bool(true), Tags: tags(name + "-eksClusterSecurityGroup"),
	}, with()...)
	if err != nil {
		return nil, err
	}
	if _, err := ec2.NewSecurityGroupRule(ctx, name+"-eksClusterInternetEgressRule", &ec2.SecurityGroupRuleArgs{
		Description: pulumi.String("Allow internet access."), Type: pulumi.String("egress"), Protocol: pulumi.String("-1"),
		FromPort: pulumi.Int(0), ToPort: pulumi.Int(0), CidrBlocks: pulumi.ToStringArray([]string{"0.0.0.0/0"}),
		SecurityGroupId: clusterSG.ID(),
	}, with()...); err != nil {
		return nil, err
	}

	subnets := pulumi.All(in.PublicSubnetIDs, in.PrivateSubnetIDs).ApplyT(func(v []any) []string {
		return append(append([]string{}, v[0].([]string)...), v[1].([]string)...)
	}).(pulumi.StringArrayOutput)
	clusterArgs := &awseks.ClusterArgs{
		Name:    in.Name,
		RoleArn: serviceRole.Arn(),
		Version: in.Version,
		VpcConfig: awseks.ClusterVpcConfigArgs{
			SecurityGroupIds:      pulumi.StringArray{clusterSG.ID().ToStringOutput()},
			SubnetIds:             subnets,
			EndpointPrivateAccess: in.EndpointPrivateAccess,
			EndpointPublicAccess:  in.EndpointPublicAccess,
			PublicAccessCidrs:     in.PublicAccessCIDRs,
		},
		EnabledClusterLogTypes: in.EnabledClusterLogTypes,
		Tags:                   tags(name + "-eksCluster"),
	}
	if in.EncryptionConfigKeyARN != nil {
		clusterArgs.EncryptionConfig = awseks.ClusterEncryptionConfigArgs{
			Provider:  awseks.ClusterEncryptionConfigProviderArgs{KeyArn: in.EncryptionConfigKeyARN},
			Resources: pulumi.ToStringArray([]string{"secrets"}),
		}
	}
	if in.AuthenticationMode != nil {
		clusterArgs.AccessConfig = awseks.ClusterAccessConfigArgs{
			AuthenticationMode:                      in.AuthenticationMode,
			BootstrapClusterCreatorAdminPermissions: pulumi.Bool(true),
		}
	}
	cluster, err := awseks.NewCluster(ctx, name+"-eksCluster", clusterArgs,
		with(pulumi.IgnoreChanges([]string{"accessConfig.bootstrapClusterCreatorAdminPermissions"}))...)
	if err != nil {
		return nil, err
	}

	kubeconfig := pulumi.All(cluster.Name, cluster.Endpoint, cluster.CertificateAuthority.Data()).ApplyT(
		func(v []any) (map[string]any, error) {
			ca, _ := v[2].(*string)
			data := ""
			if ca != nil {
				data = *ca
			}
			return kubeconfigFor(v[0].(string), v[1].(string), data), nil
		}).(pulumi.MapOutput)
	kubeconfigJSON := kubeconfig.ApplyT(func(m map[string]any) (string, error) {
		b, err := json.Marshal(m)
		return string(b), err
	}).(pulumi.StringOutput)
	if _, err := kubernetes.NewProvider(ctx, name+"-eks-k8s", &kubernetes.ProviderArgs{
		Kubeconfig: kubeconfigJSON, EnableConfigMapMutable: pulumi.Bool(true),
	}, pulumi.Parent(comp), pulumi.Version(eksBundledKubernetes)); err != nil {
		return nil, err
	}

	// Instance roles (cluster.ts:748-819).
	var instanceRoles pulumi.ResourceArray
	var defaultInstanceRole iam.RoleOutput
	hasDefault := false
	switch {
	case hasInstanceRoles:
		// An empty array in API mode: no role, no access entry.
	case hasInstanceRole:
		defaultInstanceRole, hasDefault = instanceRole, true
		instanceRoles = pulumi.ResourceArray{asResource(defaultInstanceRole)}
	default:
		role, err := newServiceRole(ctx, name+"-instanceRole", comp)
		if err != nil {
			return nil, err
		}
		defaultInstanceRole, hasDefault = role.ToRoleOutput(), true
		instanceRoles = pulumi.ResourceArray{pulumi.NewResourceInput(role)}
	}

	var accessEntries pulumi.ResourceArray
	if hasDefault {
		entry, err := awseks.NewAccessEntry(ctx, name+"-defaultNodeGroupInstanceRole", &awseks.AccessEntryArgs{
			ClusterName:  cluster.Name,
			PrincipalArn: defaultInstanceRole.Arn(),
			Type:         pulumi.String("EC2_LINUX"),
		}, with(pulumi.DependsOn([]pulumi.Resource{cluster}))...)
		if err != nil {
			return nil, err
		}
		accessEntries = append(accessEntries, pulumi.NewResourceInput(entry))
	}

	oidc, err := iam.NewOpenIdConnectProvider(ctx, name+"-oidcProvider", &iam.OpenIdConnectProviderArgs{
		Url:             cluster.Identities.Index(pulumi.Int(0)).Oidcs().Index(pulumi.Int(0)).Issuer().Elem(),
		ClientIdLists:   pulumi.ToStringArray([]string{"sts.amazonaws.com"}),
		ThumbprintLists: pulumi.ToStringArray([]string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}),
	}, with()...)
	if err != nil {
		return nil, err
	}

	nodeSG, err := ec2.NewSecurityGroup(ctx, name+"-nodeSecurityGroup", &ec2.SecurityGroupArgs{
		VpcId: in.VpcID, RevokeRulesOnDelete: pulumi.Bool(true),
		Tags: pulumi.All(tags(name+"-nodeSecurityGroup"), cluster.Name).ApplyT(func(v []any) map[string]string {
			m := v[0].(map[string]string)
			m["kubernetes.io/cluster/"+v[1].(string)] = "owned"
			return m
		}).(pulumi.StringMapOutput),
	}, with()...)
	if err != nil {
		return nil, err
	}
	rule := func(suffix, typ, proto string, from, to int, sg pulumi.IDOutput, src pulumi.IDOutput, self bool, cidrs []string) (*ec2.SecurityGroupRule, error) {
		args := &ec2.SecurityGroupRuleArgs{Type: pulumi.String(typ), Protocol: pulumi.String(proto),
			FromPort: pulumi.Int(from), ToPort: pulumi.Int(to), SecurityGroupId: sg}
		if self {
			args.Self = pulumi.Bool(true)
		} else if cidrs != nil {
			args.CidrBlocks = pulumi.ToStringArray(cidrs)
		} else {
			args.SourceSecurityGroupId = src
		}
		return ec2.NewSecurityGroupRule(ctx, name+suffix, args, with()...)
	}
	if _, err := rule("-eksNodeIngressRule", "ingress", "-1", 0, 0, nodeSG.ID(), pulumi.IDOutput{}, true, nil); err != nil {
		return nil, err
	}
	if _, err := rule("-eksNodeClusterIngressRule", "ingress", "tcp", 1025, 65535, nodeSG.ID(), clusterSG.ID(), false, nil); err != nil {
		return nil, err
	}
	if _, err := rule("-eksExtApiServerClusterIngressRule", "ingress", "tcp", 443, 443, nodeSG.ID(), clusterSG.ID(), false, nil); err != nil {
		return nil, err
	}
	if _, err := rule("-eksNodeInternetEgressRule", "egress", "-1", 0, 0, nodeSG.ID(), pulumi.IDOutput{}, false, []string{"0.0.0.0/0"}); err != nil {
		return nil, err
	}
	ingress, err := rule("-eksClusterIngressRule", "ingress", "tcp", 443, 443, clusterSG.ID(), nodeSG.ID(), false, nil)
	if err != nil {
		return nil, err
	}
	k8s, err := kubernetes.NewProvider(ctx, name+"-provider", &kubernetes.ProviderArgs{Kubeconfig: kubeconfigJSON},
		pulumi.Parent(comp), pulumi.Version(eksBundledKubernetes))
	if err != nil {
		return nil, err
	}

	state := pulumi.Map{
		"kubeconfig":            kubeconfig,
		"kubeconfigJson":        kubeconfigJSON,
		"eksCluster":            pulumi.NewResourceInput(cluster),
		"clusterSecurityGroup":  pulumi.NewResourceInput(clusterSG),
		"nodeSecurityGroup":     pulumi.NewResourceInput(nodeSG),
		"eksClusterIngressRule": pulumi.NewResourceInput(ingress),
		"instanceRoles":         instanceRoles,
		"core": pulumi.Map{
			"cluster":              pulumi.NewResourceInput(cluster),
			"clusterSecurityGroup": pulumi.NewResourceInput(clusterSG),
			"endpoint":             cluster.Endpoint,
			"kubeconfig":           kubeconfig,
			"provider":             pulumi.NewResourceInput(k8s),
			"oidcProvider":         pulumi.NewResourceInput(oidc),
			"instanceRoles":        instanceRoles,
			"accessEntries":        accessEntries,
			"clusterIamRole":       asResource(serviceRole),
			"vpcId":                in.VpcID,
			"subnetIds":            subnets,
			"publicSubnetIds":      in.PublicSubnetIDs,
			"privateSubnetIds":     in.PrivateSubnetIDs,
		},
	}
	if err := ctx.RegisterResourceOutputs(comp, state); err != nil {
		return nil, err
	}
	return &pulumiprovider.ConstructResult{URN: comp.URN(), State: state}, nil
}

// roleInput is the role passed as input key, if any.
func roleInput(raw pulumi.Map, key string) (iam.RoleOutput, bool) {
	v, ok := raw[key]
	if !ok {
		return iam.RoleOutput{}, false
	}
	return pulumi.ToOutput(v).ApplyT(func(r any) (*iam.Role, error) {
		role, ok := r.(*iam.Role)
		if !ok {
			return nil, fmt.Errorf("%s: expected an aws:iam/role:Role reference, got %T", key, r)
		}
		return role, nil
	}).(iam.RoleOutput), true
}

// asResource is a role that arrived as an input, as a resource reference to return.
func asResource(role iam.RoleOutput) pulumi.ResourceOutput {
	return role.ApplyT(func(r *iam.Role) pulumi.Resource { return r }).(pulumi.ResourceOutput)
}

// newServiceRole is pulumi-eks's ServiceRole component as cluster.ts:768-789 uses it for the instance role.
func newServiceRole(ctx *pulumi.Context, name string, parent pulumi.Resource) (*iam.Role, error) {
	comp := &struct{ pulumi.ResourceState }{}
	if err := ctx.RegisterComponentResource("eks:index:ServiceRole", name, comp, pulumi.Parent(parent)); err != nil {
		return nil, err
	}
	opts := []pulumi.ResourceOption{pulumi.Parent(comp), pulumi.Version(eksBundledAWS)}
	role, err := iam.NewRole(ctx, name+"-role", &iam.RoleArgs{
		AssumeRolePolicy: pulumi.String(`{"Version":"2012-10-17","Statement":[{"Action":"sts:AssumeRole","Principal":{"Service":"ec2.amazonaws.com"},"Effect":"Allow","Sid":""}]}`),
	}, opts...)
	if err != nil {
		return nil, err
	}
	for suffix, policy := range map[string]string{
		"03516f97": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
		"e1b295bd": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
		"3eb088f2": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
	} {
		if _, err := iam.NewRolePolicyAttachment(ctx, name+"-"+suffix, &iam.RolePolicyAttachmentArgs{
			Role: role.Name, PolicyArn: pulumi.String(policy),
		}, opts...); err != nil {
			return nil, err
		}
	}
	if err := ctx.RegisterResourceOutputs(comp, pulumi.Map{"role": role}); err != nil {
		return nil, err
	}
	return role, nil
}

// kubeconfigFor is pulumi-eks's generateKubeconfig (cluster.ts:207-268) without an AWS profile or role.
func kubeconfigFor(cluster, endpoint, caData string) map[string]any {
	return map[string]any{
		"apiVersion": "v1",
		"clusters": []any{map[string]any{
			"cluster": map[string]any{"server": endpoint, "certificate-authority-data": caData},
			"name":    "kubernetes",
		}},
		"contexts":        []any{map[string]any{"context": map[string]any{"cluster": "kubernetes", "user": "aws"}, "name": "aws"}},
		"current-context": "aws",
		"kind":            "Config",
		"users": []any{map[string]any{"name": "aws", "user": map[string]any{"exec": map[string]any{
			"apiVersion": "client.authentication.k8s.io/v1beta1",
			"command":    "aws",
			"args":       []any{"eks", "get-token", "--cluster-name", cluster, "--output", "json"},
			"env":        []any{map[string]any{"name": "KUBERNETES_EXEC_INFO", "value": `{"apiVersion": "client.authentication.k8s.io/v1beta1"}`}},
		}}}},
	}
}
