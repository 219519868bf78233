package standin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Fixed facts of the stand-in AWS account.
const (
	Account   = "123456789012"
	Region    = "us-east-1"
	Partition = "aws"
)

// Zones are what getAvailabilityZones answers.
var Zones = []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"}

// shortHash is a stable 8-hex-digit suffix for IDs derived from a URN.
func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

// prefixedID is an ID AWS assigns (vpc-0a1b2c3d): a new one for every resource it creates.
func prefixedID(prefix string) func(c Call) string {
	return func(c Call) string {
		if c.Generation == 0 {
			return prefix + "-" + shortHash(string(c.URN))
		}
		return prefix + "-" + shortHash(fmt.Sprintf("%s#%d", c.URN, c.Generation))
	}
}

func props(kv ...any) resource.PropertyMap {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return resource.NewPropertyMapFromMap(m)
}

func arn(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", Partition, service, Region, Account, resource)
}

func iamARN(kind string, c Call) string {
	path := c.Str("path")
	if path == "" {
		path = "/"
	}
	return fmt.Sprintf("arn:%s:iam::%s:%s%s%s", Partition, Account, kind, path, c.Str("name"))
}

// AWSRules are the AWS resource types the program and pulumi-eks create. Replace lists the inputs that are
// ForceNew in terraform-provider-aws, which pulumi-aws v6 bridges (internal/service/<service>/<resource>.go).
var AWSRules = map[string]Rules{
	"aws:ec2/vpc:Vpc": {
		Replace: []string{"cidrBlock", "instanceTenancy"},
		ID:      prefixedID("vpc"),
		Outputs: func(c Call) resource.PropertyMap {
			return props("arn", arn("ec2", "vpc/vpc-"+shortHash(string(c.URN))), "ownerId", Account)
		},
	},
	"aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": {Replace: []string{"vpcId"}, ID: prefixedID("sg")},
	"aws:ec2/securityGroup:SecurityGroup": {
		Replace:  []string{"name", "namePrefix", "vpcId", "description"},
		AutoName: "name",
		ID:       prefixedID("sg"),
		Outputs: func(c Call) resource.PropertyMap {
			return props("arn", arn("ec2", "security-group/sg-"+shortHash(string(c.URN))), "ownerId", Account)
		},
	},
	"aws:ec2/securityGroupRule:SecurityGroupRule": {
		Replace: []string{"securityGroupId", "type", "protocol", "fromPort", "toPort", "cidrBlocks", "sourceSecurityGroupId", "self"},
		ID:      prefixedID("sgrule"),
	},
	"aws:ec2/internetGateway:InternetGateway": {ID: prefixedID("igw")},
	"aws:ec2/routeTable:RouteTable":           {Replace: []string{"vpcId"}, ID: prefixedID("rtb")},
	"aws:ec2/routeTableAssociation:RouteTableAssociation": {
		Replace: []string{"subnetId", "gatewayId"}, ID: prefixedID("rtbassoc"),
	},
	"aws:ec2/subnet:Subnet": {
		Replace: []string{"availabilityZone", "availabilityZoneId", "cidrBlock", "vpcId"},
		ID:      prefixedID("subnet"),
		Outputs: func(c Call) resource.PropertyMap {
			return props("arn", arn("ec2", "subnet/subnet-"+shortHash(string(c.URN))))
		},
	},
	"aws:ec2/eip:Eip": {
		Replace: []string{"domain", "vpc"},
		ID:      prefixedID("eipalloc"),
		Outputs: func(c Call) resource.PropertyMap {
			return props("publicIp", "198.51.100."+fmt.Sprint(len(c.Name)), "allocationId", "eipalloc-"+shortHash(string(c.URN)))
		},
	},
	"aws:ec2/natGateway:NatGateway": {
		Replace: []string{"allocationId", "subnetId", "connectivityType"}, ID: prefixedID("nat"),
	},
	"aws:ec2/flowLog:FlowLog": {
		Replace: []string{"vpcId", "logDestination", "logDestinationType", "trafficType", "iamRoleArn", "logFormat"},
		ID:      prefixedID("fl"),
	},
	"aws:ec2/launchTemplate:LaunchTemplate": {
		// Changes make a new version; the nodegroup rolls to it.
		Replace:  []string{"name", "namePrefix"},
		AutoName: "name",
		ID:       prefixedID("lt"),
		Outputs: func(c Call) resource.PropertyMap {
			version := 1.0
			if old, ok := c.Olds["latestVersion"]; ok && old.IsNumber() {
				version = old.NumberValue() + 1
			}
			return props("latestVersion", version, "arn", arn("ec2", "launch-template/lt-"+shortHash(string(c.URN))))
		},
	},
	"aws:cloudwatch/logGroup:LogGroup": {
		Replace:  []string{"name", "namePrefix"},
		AutoName: "name",
		Outputs: func(c Call) resource.PropertyMap {
			return props("arn", arn("logs", "log-group:"+c.Str("name")))
		},
	},
	"aws:kms/key:Key": {
		Replace: []string{"customerMasterKeySpec", "keySpec", "keyUsage", "multiRegion", "xksKeyId"},
		ID:      prefixedID("key"),
		Outputs: func(c Call) resource.PropertyMap {
			id := prefixedID("key")(c)
			return props("arn", arn("kms", "key/"+id), "keyId", id)
		},
	},
	"aws:iam/role:Role": {
		Replace:  []string{"name", "namePrefix", "path"},
		AutoName: "name",
		Outputs: func(c Call) resource.PropertyMap {
			return props("arn", iamARN("role", c), "uniqueId", "AROA"+strings.ToUpper(shortHash(string(c.URN))))
		},
	},
	"aws:iam/policy:Policy": {
		Replace:  []string{"name", "namePrefix", "path", "description"},
		AutoName: "name",
		ID:       func(c Call) string { return iamARN("policy", c) },
		Outputs:  func(c Call) resource.PropertyMap { return props("arn", iamARN("policy", c)) },
	},
	"aws:iam/rolePolicy:RolePolicy": {
		Replace:  []string{"role", "name", "namePrefix"},
		AutoName: "name",
		ID:       func(c Call) string { return c.Str("role") + ":" + c.Str("name") },
	},
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment": {
		Replace: []string{"role", "policyArn"},
		ID:      func(c Call) string { return c.Str("role") + "-" + shortHash(c.Str("policyArn")) },
	},
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider": {
		Replace: []string{"url"},
		ID:      oidcProviderARN,
		Outputs: func(c Call) resource.PropertyMap { return props("arn", oidcProviderARN(c)) },
	},
	"aws:ecr/repository:Repository": {
		Replace: []string{"name", "encryptionConfigurations"},
		ID:      func(c Call) string { return c.Str("name") },
		Outputs: func(c Call) resource.PropertyMap {
			return props("arn", arn("ecr", "repository/"+c.Str("name")), "registryId", Account,
				"repositoryUrl", Account+".dkr.ecr."+Region+".amazonaws.com/"+c.Str("name"))
		},
	},
	"aws:ecr/lifecyclePolicy:LifecyclePolicy": {Replace: []string{"repository"}, ID: func(c Call) string { return c.Str("repository") }},
	"aws:eks/cluster:Cluster": {
		// The cluster's identity: its name, role and bootstrap choices; subnets, endpoint access, logging and
		// the version change in place.
		Replace: []string{"name", "roleArn", "bootstrapSelfManagedAddons", "accessConfig.bootstrapClusterCreatorAdminPermissions",
			"kubernetesNetworkConfig.ipFamily", "kubernetesNetworkConfig.serviceIpv4Cidr"},
		ID: func(c Call) string { return c.Str("name") },
		Outputs: func(c Call) resource.PropertyMap {
			id := strings.ToUpper(shortHash(string(c.URN)) + shortHash(c.Str("name")))
			return props(
				"arn", arn("eks", "cluster/"+c.Str("name")),
				"endpoint", "https://"+id+".gr7."+Region+".eks.amazonaws.com",
				"certificateAuthority", map[string]any{"data": "LS0tLS1CRUdJTi1zdGFuZC1pbg=="},
				"identities", []any{map[string]any{"oidcs": []any{map[string]any{"issuer": "https://oidc.eks." + Region + ".amazonaws.com/id/" + id}}}},
				"platformVersion", "eks.1", "status", "ACTIVE",
			)
		},
	},
	"aws:eks/nodeGroup:NodeGroup": {
		Replace: []string{"amiType", "capacityType", "clusterName", "diskSize", "instanceTypes", "nodeGroupName",
			"nodeGroupNamePrefix", "nodeRoleArn", "remoteAccess", "subnetIds", "launchTemplate.id", "launchTemplate.name"},
		AutoName: "nodeGroupName",
		ID:       func(c Call) string { return c.Str("clusterName") + ":" + c.Str("nodeGroupName") },
		Outputs: func(c Call) resource.PropertyMap {
			return props("arn", arn("eks", "nodegroup/"+c.Str("clusterName")+"/"+c.Str("nodeGroupName")+"/"+shortHash(string(c.URN))),
				"status", "ACTIVE")
		},
	},
	"aws:eks/addon:Addon": {
		Replace: []string{"clusterName", "addonName"},
		ID:      func(c Call) string { return c.Str("clusterName") + ":" + c.Str("addonName") },
		Outputs: func(c Call) resource.PropertyMap {
			return props("arn", arn("eks", "addon/"+c.Str("clusterName")+"/"+c.Str("addonName")+"/"+shortHash(string(c.URN))),
				"addonVersion", c.Str("addonVersion"))
		},
	},
	"aws:eks/accessEntry:AccessEntry": {
		Replace: []string{"clusterName", "principalArn", "type"},
		ID:      func(c Call) string { return c.Str("clusterName") + ":" + c.Str("principalArn") },
		Outputs: func(c Call) resource.PropertyMap {
			return props("accessEntryArn", arn("eks", "access-entry/"+c.Str("clusterName")+"/"+shortHash(c.Str("principalArn"))))
		},
	},
	"aws:eks/accessPolicyAssociation:AccessPolicyAssociation": {
		Replace: []string{"clusterName", "principalArn", "policyArn", "accessScope"},
		ID: func(c Call) string {
			return c.Str("clusterName") + "#" + c.Str("principalArn") + "#" + c.Str("policyArn")
		},
	},
	"aws:eks/podIdentityAssociation:PodIdentityAssociation": {
		Replace: []string{"clusterName", "namespace", "serviceAccount"},
		ID:      prefixedID("a"),
		Outputs: func(c Call) resource.PropertyMap {
			return props("associationArn", arn("eks", "podidentityassociation/"+c.Str("clusterName")+"/a-"+shortHash(string(c.URN))),
				"associationId", "a-"+shortHash(string(c.URN)))
		},
	},
}

func oidcProviderARN(c Call) string {
	return fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", Partition, Account, strings.TrimPrefix(c.Str("url"), "https://"))
}

// AWSAlreadyExists is the error code each AWS API answers a create of a name that exists with.
func AWSAlreadyExists(typ string) string {
	switch {
	case strings.HasPrefix(typ, "aws:iam/"):
		return "EntityAlreadyExists: the entity already exists"
	case strings.HasPrefix(typ, "aws:ecr/"):
		return "RepositoryAlreadyExistsException: the repository already exists in the registry"
	case strings.HasPrefix(typ, "aws:eks/"):
		return "ResourceInUseException: the resource is already in use"
	case strings.HasPrefix(typ, "aws:cloudwatch/"):
		return "ResourceAlreadyExistsException: the specified log group already exists"
	}
	return "AlreadyExists"
}

// AWSInvokes answer the functions the program calls; those that read live resources answer from cloud.
func AWSInvokes(zones []string, cloud *Cloud) map[string]Invoke {
	nodegroups := func(cluster string) map[string]resource.PropertyMap {
		out := map[string]resource.PropertyMap{}
		for _, ng := range cloud.Of("aws:eks/nodeGroup:NodeGroup") {
			if ng["clusterName"].StringValue() == cluster {
				out[ng["nodeGroupName"].StringValue()] = ng
			}
		}
		return out
	}
	return map[string]Invoke{
		"aws:eks/getClusters:getClusters": func(resource.PropertyMap) (resource.PropertyMap, error) {
			var names []any
			for _, c := range cloud.Of("aws:eks/cluster:Cluster") {
				names = append(names, c["name"].StringValue())
			}
			return props("names", names, "id", Region), nil
		},
		// terraform-provider-aws internal/service/eks/cluster_data_source.go: the cluster by name, or an error.
		"aws:eks/getCluster:getCluster": func(args resource.PropertyMap) (resource.PropertyMap, error) {
			name := args["name"].StringValue()
			for _, c := range cloud.Of("aws:eks/cluster:Cluster") {
				if c["name"].StringValue() == name {
					return props("name", name, "id", name, "version", c["version"].StringValue(), "arn", c["arn"].StringValue()), nil
				}
			}
			return nil, fmt.Errorf("reading EKS Cluster (%s): couldn't find resource", name)
		},
		// terraform-provider-aws internal/service/iam/openid_connect_provider_data_source.go (v5.100.0): lists the
		// account's providers and matches the URL, or fails with "not found".
		"aws:iam/getOpenIdConnectProvider:getOpenIdConnectProvider": func(args resource.PropertyMap) (resource.PropertyMap, error) {
			url := strings.TrimPrefix(args["url"].StringValue(), "https://")
			for id, p := range cloud.Of("aws:iam/openIdConnectProvider:OpenIdConnectProvider") {
				if strings.TrimPrefix(p["url"].StringValue(), "https://") == url {
					tags := map[string]any{}
					if t, ok := p["tags"]; ok && t.IsObject() {
						tags = t.Mappable().(map[string]any)
					}
					return props("arn", id, "id", id, "url", p["url"].StringValue(), "clientIdLists", p["clientIdLists"].Mappable(),
						"tags", tags), nil
				}
			}
			return nil, fmt.Errorf("finding IAM OIDC Provider by url (%s): not found", url)
		},
		"aws:eks/getNodeGroups:getNodeGroups": func(args resource.PropertyMap) (resource.PropertyMap, error) {
			cluster := args["clusterName"].StringValue()
			var names []any
			for name := range nodegroups(cluster) {
				names = append(names, name)
			}
			return props("clusterName", cluster, "names", names, "id", cluster), nil
		},
		"aws:eks/getNodeGroup:getNodeGroup": func(args resource.PropertyMap) (resource.PropertyMap, error) {
			cluster, name := args["clusterName"].StringValue(), args["nodeGroupName"].StringValue()
			ng, ok := nodegroups(cluster)[name]
			if !ok {
				return nil, fmt.Errorf("reading EKS Node Group (%s:%s): couldn't find resource", cluster, name)
			}
			return props("clusterName", cluster, "nodeGroupName", name, "id", cluster+":"+name,
				"scalingConfigs", []any{ng["scalingConfig"].Mappable()}), nil
		},
		"aws:index/getAvailabilityZones:getAvailabilityZones": func(resource.PropertyMap) (resource.PropertyMap, error) {
			return props("names", toAny(zones), "zoneIds", toAny(zones), "id", Region), nil
		},
		"aws:index/getPartition:getPartition": func(resource.PropertyMap) (resource.PropertyMap, error) {
			return props("partition", Partition, "dnsSuffix", "amazonaws.com", "id", Partition), nil
		},
		"aws:index/getRegion:getRegion": func(resource.PropertyMap) (resource.PropertyMap, error) {
			return props("name", Region, "id", Region, "description", "US East (N. Virginia)"), nil
		},
		// An account of the stack's own: no other stack's roles.
		"aws:iam/getRoles:getRoles": func(args resource.PropertyMap) (resource.PropertyMap, error) {
			return props("arns", []any{}, "names", []any{}, "id", Account), nil
		},
		// What AWS answers for the newest version of an add-on for a Kubernetes version, in its format.
		"aws:eks/getAddonVersion:getAddonVersion": func(args resource.PropertyMap) (resource.PropertyMap, error) {
			addon, version := args["addonName"], args["kubernetesVersion"]
			if !addon.IsString() || !version.IsString() {
				return nil, fmt.Errorf("getAddonVersion: addonName and kubernetesVersion are required")
			}
			return props("addonName", addon.StringValue(), "kubernetesVersion", version.StringValue(),
				"version", AddonVersion(addon.StringValue(), version.StringValue()), "id", addon.StringValue()), nil
		},
		"aws:index/getCallerIdentity:getCallerIdentity": func(resource.PropertyMap) (resource.PropertyMap, error) {
			return props("accountId", Account, "arn", "arn:aws:sts::"+Account+":assumed-role/admin/laptop",
				"userId", "AROAEXAMPLE:laptop", "id", Account), nil
		},
	}
}

// AddonVersion is the stand-in's answer for an add-on's newest version for a Kubernetes version.
func AddonVersion(addon, kubernetesVersion string) string {
	return "v" + kubernetesVersion + ".0-" + addon + "-eksbuild.1"
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
