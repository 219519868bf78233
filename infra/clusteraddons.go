package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

const clusterAddonsType = "platform:infra:ClusterAddons" // frozen; renaming needs an alias

// Cluster Autoscaler, installed from its Helm chart. It grows the managed nodegroup when pods cannot be scheduled
// and shrinks it when nodes stay underused, always between the nodegroup's min and max size, which it reads from
// the nodegroup's Auto Scaling group. It finds that group by the tags EKS puts on every managed nodegroup's group
// (k8s.io/cluster-autoscaler/enabled and k8s.io/cluster-autoscaler/<cluster>).
const (
	AutoscalerChart          = "cluster-autoscaler"
	AutoscalerChartRepo      = "https://kubernetes.github.io/autoscaler"
	AutoscalerReleaseName    = "cluster-autoscaler"
	AutoscalerNamespace      = "kube-system"
	AutoscalerServiceAccount = "cluster-autoscaler"
)

// AutoscalerDiscoveryTag is the tag that marks the Auto Scaling groups of a cluster's managed nodegroups as that
// cluster's; EKS sets it to "owned". The autoscaler may change only groups that carry it.
func AutoscalerDiscoveryTag(clusterName string) string {
	return "k8s.io/cluster-autoscaler/" + clusterName
}

// AutoscalerRoleName is the logical name of the autoscaler's role in a ClusterAddons component of that name.
func AutoscalerRoleName(addons string) string { return WorkloadRoleName(addons + "-autoscaler") }

// AutoscalerPolicy is what Cluster Autoscaler's AWS documentation lists for auto-discovery ("Full Cluster Autoscaler
// Features Policy"), with its writes scoped to this cluster: reads where AWS has no resource-level permissions,
// the nodegroup description on this cluster's nodegroups, and the two scaling writes only on managed nodegroups'
// groups (named eks-*) tagged as this cluster's.
func AutoscalerPolicy(a Account, clusterName string) PolicyDocument {
	return PolicyDocument{Version: policyVersion, Statement: []Statement{
		{
			Sid:    "DiscoverGroupsAndInstanceTypes", // no resource-level permissions
			Effect: "Allow",
			Action: []string{
				"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
				"autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities",
				"ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions",
				"ec2:GetInstanceTypesFromInstanceRequirements",
			},
			Resource: []string{"*"},
		},
		{
			Sid:      "DescribeThisClustersNodegroups",
			Effect:   "Allow",
			Action:   []string{"eks:DescribeNodegroup"},
			Resource: []string{fmt.Sprintf("arn:%s:eks:%s:%s:nodegroup/%s/*", a.Partition, a.Region, a.ID, clusterName)},
		},
		{
			Sid:       "ScaleThisClustersNodegroups",
			Effect:    "Allow",
			Action:    AutoscalerWrites,
			Resource:  []string{ManagedNodegroupGroups(a)},
			Condition: map[string]map[string][]string{"StringEquals": {"aws:ResourceTag/" + AutoscalerDiscoveryTag(clusterName): {"owned"}}},
		},
	}}
}

// AutoscalerWrites are the only changes Cluster Autoscaler makes in AWS.
var AutoscalerWrites = []string{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}

// ManagedNodegroupGroups matches the Auto Scaling groups EKS creates for managed nodegroups: their names start with
// eks- (EKS's nodegroup service-linked role may create no other).
func ManagedNodegroupGroups(a Account) string {
	return fmt.Sprintf("arn:%s:autoscaling:%s:%s:autoScalingGroup:*:autoScalingGroupName/eks-*", a.Partition, a.Region, a.ID)
}

// AutoscalerValues are the chart values. HA runs two replicas on different nodes (leader election keeps one
// active) behind the chart's disruption budget of one. imageTag is the autoscaler release to run (the calendar's
// AutoscalerImageTag for the cluster's minor version).
func AutoscalerValues(clusterName, region, imageTag string, ha bool) map[string]any {
	replicas := 1
	if ha {
		replicas = 2
	}
	values := map[string]any{
		"cloudProvider": "aws",
		"awsRegion":     region,
		"autoDiscovery": map[string]any{"clusterName": clusterName},
		// A fixed name, which the Pod Identity association names (the chart would derive one from the release).
		"rbac":         map[string]any{"create": true, "serviceAccount": map[string]any{"create": true, "name": AutoscalerServiceAccount}},
		"replicaCount": replicas,
		"extraArgs": map[string]any{
			// The chart's 1.32 autoscaler defaults to random; least-waste is the default from 1.33.
			"expander": "least-waste",
			// emptyDir is scratch space (Argo CD's repo server, the service's /tmp): it must not pin a node forever.
			"skip-nodes-with-local-storage": false,
		},
		"resources": map[string]any{
			"requests": map[string]any{"cpu": "100m", "memory": "300Mi"},
			"limits":   map[string]any{"memory": "600Mi"},
		},
		"securityContext": map[string]any{
			"runAsNonRoot": true, "runAsUser": 65534, "runAsGroup": 65534,
			"seccompProfile": map[string]any{"type": "RuntimeDefault"},
		},
		"containerSecurityContext": map[string]any{
			"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
			"capabilities": map[string]any{"drop": []any{"ALL"}},
		},
	}
	if imageTag != "" {
		values["image"] = map[string]any{"tag": imageTag}
	}
	if ha {
		values["topologySpreadConstraints"] = []any{map[string]any{
			"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
			"labelSelector": map[string]any{"matchLabels": map[string]any{
				"app.kubernetes.io/instance": AutoscalerReleaseName, "app.kubernetes.io/name": "aws-cluster-autoscaler",
			}},
		}}
	}
	return values
}

// ClusterAddonsArgs configures what runs in the cluster for every workload once nodes exist.
type ClusterAddonsArgs struct {
	ClusterName       string               // the cluster's name (required)
	Cluster           pulumi.StringInput   // the cluster's name as an output of the cluster (required)
	KubernetesVersion string               // the cluster's version: add-on versions and the autoscaler follow it (required)
	Account           Account              // (required)
	Roles             RoleSettings         // path and boundary of the autoscaler's role (required)
	Provider          *kubernetes.Provider // for the autoscaler's Helm release (required)
	// Nodes is what the add-ons wait for: the nodegroup (required). Deployments need nodes to become ACTIVE.
	Nodes []pulumi.Resource
	HA    bool // two autoscaler replicas on different nodes; default false (dev)
}

// ClusterAddons are the add-ons that need nodes (CoreDNS, metrics-server) and the Cluster Autoscaler with its
// Pod Identity role.
type ClusterAddons struct {
	pulumi.ResourceState
	AutoscalerRoleARN pulumi.StringOutput `pulumi:"autoscalerRoleArn"`
	// Ready are the add-ons workloads need: DNS, and the metrics their HPAs read. Whatever runs workloads waits
	// for them, and is deleted before them (a namespace cannot finish deleting while metrics.k8s.io is
	// registered but has no server).
	Ready []pulumi.Resource
	// Autoscaler is the Helm release.
	Autoscaler pulumi.Resource
}

// NewClusterAddons creates the add-ons that need nodes and installs the Cluster Autoscaler.
func NewClusterAddons(ctx *pulumi.Context, name string, args *ClusterAddonsArgs, opts ...pulumi.ResourceOption) (*ClusterAddons, error) {
	if args == nil || args.ClusterName == "" || args.Cluster == nil || args.KubernetesVersion == "" || !args.Account.valid() ||
		!args.Roles.valid() || args.Provider == nil || len(args.Nodes) == 0 {
		return nil, fmt.Errorf("cluster add-ons %q: cluster, version, account, roles, provider and nodes are required", name)
	}
	version, ok := LookupKubernetesVersion(args.KubernetesVersion)
	if !ok {
		return nil, fmt.Errorf("cluster add-ons %q: no Cluster Autoscaler chart for Kubernetes %s", name, args.KubernetesVersion)
	}
	a := &ClusterAddons{}
	if err := ctx.RegisterComponentResource(clusterAddonsType, name, a, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(a)
	wrap := func(what string, err error) error { return fmt.Errorf("cluster add-ons %q: %s: %w", name, what, err) }

	for _, addon := range WorkloadAddons {
		r, err := newAddon(ctx, name+"-"+addon, args.Cluster, addon, args.KubernetesVersion, parent, pulumi.DependsOn(args.Nodes))
		if err != nil {
			return nil, wrap("manage "+addon+" add-on", err)
		}
		a.Ready = append(a.Ready, r)
	}

	identity, err := NewWorkloadIdentity(ctx, name+"-autoscaler", &WorkloadIdentityArgs{
		ClusterName: args.ClusterName, Cluster: args.Cluster, Account: args.Account, Roles: args.Roles,
		Namespace: AutoscalerNamespace, ServiceAccount: AutoscalerServiceAccount,
		Description: "Cluster Autoscaler of " + args.ClusterName + ": scales its managed nodegroups",
		Policy:      AutoscalerPolicy(args.Account, args.ClusterName),
	}, parent)
	if err != nil {
		return nil, wrap("autoscaler identity", err)
	}
	// Pods get Pod Identity credentials only if the association exists when they start, and the autoscaler
	// resolves AWS endpoints through CoreDNS.
	release, err := newHelmRelease(ctx, name+"-autoscaler", HelmReleaseArgs{
		Name:          AutoscalerReleaseName,
		Chart:         AutoscalerChart,
		Version:       version.AutoscalerChart,
		Repo:          AutoscalerChartRepo,
		Namespace:     pulumi.String(AutoscalerNamespace),
		Atomic:        true,
		CleanupOnFail: true,
		Timeout:       HelmTimeoutSeconds,
		MaxHistory:    10,
		Values:        AutoscalerValues(args.ClusterName, args.Account.Region, version.AutoscalerImageTag, args.HA),
	}, parent, pulumi.Provider(args.Provider), pulumi.DependsOn(append(append([]pulumi.Resource{}, identity.Ready...), a.Ready...)))
	if err != nil {
		return nil, wrap("install cluster autoscaler", err)
	}
	a.Autoscaler = release
	a.AutoscalerRoleARN = identity.RoleARN
	if err := ctx.RegisterResourceOutputs(a, pulumi.Map{"autoscalerRoleArn": a.AutoscalerRoleARN}); err != nil {
		return nil, wrap("register outputs", err)
	}
	return a, nil
}
