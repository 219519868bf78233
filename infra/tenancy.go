package infra

import (
	"strconv"

	admissionv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/admissionregistration/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Tenancy is what a service's namespace may hold and who may reach it, on a cluster shared by several services.
type Tenancy struct {
	// CPU and Memory cap the requests of all the namespace's pods together (Memory caps their limits too), as
	// Kubernetes quantities such as "2" and "4Gi".
	CPU, Memory string
	Pods        int // pods at most
	// LoadBalancers caps Services of type LoadBalancer, each an AWS load balancer (0: none, private by default).
	LoadBalancers int
	// DefaultCPU and DefaultMemory are the requests of a container that names none, DefaultMemoryLimit its memory
	// limit: the quota counts every pod, so every container needs them.
	DefaultCPU, DefaultMemory, DefaultMemoryLimit string
	// IngressFrom are the other namespaces whose pods may open connections to this one's; its own pods always may.
	IngressFrom []string
}

// Tenancy names: the objects the platform keeps in each tenant's namespace (the AppProject forbids the kinds to
// the tenant's chart).
const (
	TenantQuotaName    = "platform-quota"
	TenantLimitsName   = "platform-limits"
	TenantPolicyName   = "platform-isolation"
	NamespaceNameLabel = "kubernetes.io/metadata.name" // set by Kubernetes on every namespace (1.22+)
)

// QuotaHard is the ResourceQuota's hard limits. Without load balancers, no NodePort either: a node port opens on
// every node, reachable from the whole VPC.
func (t *Tenancy) QuotaHard() map[string]string {
	hard := map[string]string{
		"requests.cpu":           t.CPU,
		"requests.memory":        t.Memory,
		"limits.memory":          t.Memory,
		"pods":                   strconv.Itoa(t.Pods),
		"services.loadbalancers": strconv.Itoa(t.LoadBalancers),
	}
	if t.LoadBalancers == 0 {
		hard["services.nodeports"] = "0"
	}
	return hard
}

// DenyExternalIPsPolicy names the admission policy that refuses Services with external IPs.
const DenyExternalIPsPolicy = "platform-deny-service-external-ips"

// denyExternalIPs refuses, in every namespace, a Service that claims external IPs: any tenant could otherwise
// intercept traffic meant for those addresses from every pod of the cluster (CVE-2020-8554; Kubernetes' own
// DenyServiceExternalIPs admission plugin is not one EKS enables). A ValidatingAdmissionPolicy (GA since
// Kubernetes 1.30) and its binding, which denies.
func denyExternalIPs(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) error {
	policy, err := admissionv1.NewValidatingAdmissionPolicy(ctx, name+"-deny-external-ips", &admissionv1.ValidatingAdmissionPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(DenyExternalIPsPolicy)},
		Spec: &admissionv1.ValidatingAdmissionPolicySpecArgs{
			FailurePolicy: pulumi.String("Fail"),
			MatchConstraints: &admissionv1.MatchResourcesArgs{ResourceRules: admissionv1.NamedRuleWithOperationsArray{
				admissionv1.NamedRuleWithOperationsArgs{
					ApiGroups: pulumi.StringArray{pulumi.String("")}, ApiVersions: pulumi.StringArray{pulumi.String("v1")},
					Operations: pulumi.StringArray{pulumi.String("CREATE"), pulumi.String("UPDATE")},
					Resources:  pulumi.StringArray{pulumi.String("services")},
				},
			}},
			Validations: admissionv1.ValidationArray{admissionv1.ValidationArgs{
				Expression: pulumi.String("!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0"),
				Message:    pulumi.String("Services may not set externalIPs on this platform (CVE-2020-8554)"),
			}},
		},
	}, opts...)
	if err != nil {
		return err
	}
	_, err = admissionv1.NewValidatingAdmissionPolicyBinding(ctx, name+"-deny-external-ips", &admissionv1.ValidatingAdmissionPolicyBindingArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(DenyExternalIPsPolicy)},
		Spec: &admissionv1.ValidatingAdmissionPolicyBindingSpecArgs{
			PolicyName:        policy.Metadata.Name().Elem(),
			ValidationActions: pulumi.StringArray{pulumi.String("Deny")},
		},
	}, opts...)
	return err
}

// newTenancy creates the namespace's quota, limits and isolation; they are what the service's pods must wait for.
func newTenancy(ctx *pulumi.Context, name string, namespace pulumi.StringInput, t *Tenancy, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	quota, err := corev1.NewResourceQuota(ctx, name+"-quota", &corev1.ResourceQuotaArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(TenantQuotaName), Namespace: namespace},
		Spec:     &corev1.ResourceQuotaSpecArgs{Hard: pulumi.ToStringMap(t.QuotaHard())},
	}, opts...)
	if err != nil {
		return nil, err
	}
	limits, err := corev1.NewLimitRange(ctx, name+"-limits", &corev1.LimitRangeArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(TenantLimitsName), Namespace: namespace},
		Spec: &corev1.LimitRangeSpecArgs{Limits: corev1.LimitRangeItemArray{corev1.LimitRangeItemArgs{
			Type:           pulumi.String("Container"),
			DefaultRequest: pulumi.StringMap{"cpu": pulumi.String(t.DefaultCPU), "memory": pulumi.String(t.DefaultMemory)},
			Default:        pulumi.StringMap{"memory": pulumi.String(t.DefaultMemoryLimit)},
		}}},
	}, opts...)
	if err != nil {
		return nil, err
	}
	policy, err := newNetworkPolicy(ctx, name+"-isolation", namespace, t.IngressFrom, opts...)
	if err != nil {
		return nil, err
	}
	return []pulumi.Resource{quota, limits, policy}, nil
}

// newNetworkPolicy admits to every pod of namespace connections from the namespace's own pods and from the pods
// of the namespaces in from, and no others (the VPC CNI enforces it with enableNetworkPolicy). Outgoing traffic is
// not restricted: what a tenant may reach is decided by the policy of the namespace it connects to.
func newNetworkPolicy(ctx *pulumi.Context, name string, namespace pulumi.StringInput, from []string, opts ...pulumi.ResourceOption) (*networkingv1.NetworkPolicy, error) {
	peers := networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{PodSelector: &metav1.LabelSelectorArgs{}}}
	for _, ns := range from {
		peers = append(peers, networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: &metav1.LabelSelectorArgs{
			MatchLabels: pulumi.StringMap{NamespaceNameLabel: pulumi.String(ns)},
		}})
	}
	return networkingv1.NewNetworkPolicy(ctx, name, &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(TenantPolicyName), Namespace: namespace},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
			Ingress:     networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{From: peers}},
		},
	}, opts...)
}
