package infra

import (
	"fmt"

	awseks "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// EKS managed add-ons. Each follows the cluster's Kubernetes version: its version is resolved for that version
// at every preview and update (aws.eks.getAddonVersion, the newest EKS publishes for it), so a kubernetesVersion
// bump upgrades them in the same update, and a new EKS build of one shows in the preview as an update.
//
// EKS installs its own self-managed vpc-cni, kube-proxy and coredns with a new cluster; the managed add-ons
// take them over (conflicts resolved in favour of the add-on's settings).
const (
	AddonVPCCNI        = "vpc-cni"                // pod networking (DaemonSet): nodes need it to become Ready
	AddonKubeProxy     = "kube-proxy"             // Service routing (DaemonSet)
	AddonPodIdentity   = "eks-pod-identity-agent" // credentials for Pod Identity associations (DaemonSet)
	AddonCoreDNS       = "coredns"                // cluster DNS (Deployment): needs nodes to become ACTIVE
	AddonMetricsServer = "metrics-server"         // resource metrics for HPAs and `kubectl top` (Deployment; EKS community add-on)
)

// NodeAddons are the add-ons nodes need before they join: DaemonSets, which EKS reports ACTIVE without nodes.
// On a version bump they upgrade after the control plane and before the nodes.
var NodeAddons = []string{AddonVPCCNI, AddonKubeProxy, AddonPodIdentity}

// WorkloadAddons run as Deployments and so need nodes: created before any node exists, EKS reports them
// DEGRADED until its create timeout. They come after the nodegroup.
var WorkloadAddons = []string{AddonCoreDNS, AddonMetricsServer}

// newAddon creates one managed add-on at the version EKS publishes last for the Kubernetes version, as a child of
// parent (whose AWS provider the version lookup uses too).
func newAddon(ctx *pulumi.Context, name string, clusterName pulumi.StringInput, addon, kubernetesVersion string,
	parent pulumi.ResourceOrInvokeOption, opts ...pulumi.ResourceOption) (*awseks.Addon, error) {
	return newConfiguredAddon(ctx, name, clusterName, addon, kubernetesVersion, addonSettings{}, parent, opts...)
}

// addonSettings are an add-on's configuration values (JSON; "" for the add-on's defaults), its Pod Identity
// associations (none: the add-on uses the node role) and what it waits for.
type addonSettings struct {
	configuration string
	associations  awseks.AddonPodIdentityAssociationArrayInput
	dependsOn     []pulumi.Resource
}

// VPCCNINetworkPolicy is the vpc-cni add-on's configuration that enforces Kubernetes NetworkPolicies: its node
// agent (in aws-node since v1.14) applies them with eBPF (EKS user guide, "Configure your cluster for Kubernetes
// network policies"; the add-on's configuration schema types the value as a string).
const VPCCNINetworkPolicy = `{"enableNetworkPolicy":"true"}`

// newConfiguredAddon is newAddon with settings.
func newConfiguredAddon(ctx *pulumi.Context, name string, clusterName pulumi.StringInput, addon, kubernetesVersion string,
	settings addonSettings, parent pulumi.ResourceOrInvokeOption, opts ...pulumi.ResourceOption) (*awseks.Addon, error) {
	v, err := awseks.GetAddonVersion(ctx, &awseks.GetAddonVersionArgs{
		AddonName:         addon,
		KubernetesVersion: kubernetesVersion,
		MostRecent:        pulumi.BoolRef(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("resolve the %s version for Kubernetes %s: %w", addon, kubernetesVersion, err)
	}
	var values pulumi.StringPtrInput
	if settings.configuration != "" {
		values = pulumi.StringPtr(settings.configuration)
	}
	if len(settings.dependsOn) > 0 {
		opts = append(opts, pulumi.DependsOn(settings.dependsOn))
	}
	return awseks.NewAddon(ctx, name, &awseks.AddonArgs{
		ConfigurationValues:     values,
		PodIdentityAssociations: settings.associations,
		ClusterName:             clusterName,
		AddonName:               pulumi.String(addon),
		AddonVersion:            pulumi.String(v.Version),
		// Adopt what EKS installed at creation, and keep the add-on's settings on every update.
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
	}, append([]pulumi.ResourceOption{parent}, opts...)...)
}
