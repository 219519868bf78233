package tests

// The rules of the policy suite for the roles pods get through EKS Pod Identity (Cluster Autoscaler's, and the
// service's own), each with its failing fixtures. They join the suite (policies) in init.

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
)

func init() {
	policies = append(policies, workloadPolicies...)
	policyFixtures = append(policyFixtures, workloadFixtures...)
}

const (
	polTypePodIdentityAssociation = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
	polPodsPrincipal              = "pods.eks.amazonaws.com"
)

var workloadPolicies = []policy{
	{
		id: "PLAT-POD-IDENTITY-TRUST",
		title: "A role EKS Pod Identity may assume trusts one ServiceAccount of one namespace of this cluster (its session tags), " +
			"and the one association for that ServiceAccount is the role's",
		also:  "without the conditions, an association anywhere in the account (another cluster, namespace or ServiceAccount) gets the role",
		check: checkPodIdentityTrust,
	},
	{
		id: "PLAT-AUTOSCALER-SCOPED",
		title: "Cluster Autoscaler's role does what its AWS documentation lists for auto-discovery and nothing more; its writes only " +
			"on managed nodegroups' groups tagged as this cluster's",
		also:  "kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md, \"Full Cluster Autoscaler Features Policy\"",
		check: checkAutoscalerScoped,
	},
}

// polClusterName is the stack's cluster, as the engine names it.
func polClusterName(g *plan.Result) string {
	for _, r := range g.Find(plan.EKSClusterType) {
		if n := r.Str("name"); n != "" {
			return n
		}
	}
	return ""
}

func checkPodIdentityTrust(g *plan.Result) []string {
	var out []string
	cluster := polClusterName(g)
	for _, d := range polDocuments(g) {
		if d.kind != "trust" || d.err != nil {
			continue
		}
		for _, st := range d.doc.Statement {
			if !st.allows() || !slices.Contains(st.Principal.byType["Service"], polPodsPrincipal) {
				continue
			}
			eq := st.Condition["StringEquals"]
			ns, sa, arn := eq["aws:RequestTag/kubernetes-namespace"], eq["aws:RequestTag/kubernetes-service-account"],
				eq["aws:RequestTag/eks-cluster-arn"]
			if len(ns) != 1 || len(sa) != 1 || len(arn) != 1 || !strings.HasSuffix(arn[0], ":cluster/"+cluster) ||
				len(st.Condition) != 1 {
				out = append(out, polViolation(d.res, "trusts Pod Identity without naming exactly one namespace, ServiceAccount and this "+
					"cluster in StringEquals session tags (got %v)", st.Condition))
				continue
			}
			var associations []*plan.Resource
			deps := "roleArn"
			for _, a := range g.Find(polTypePodIdentityAssociation) {
				if a.Str("namespace") == ns[0] && a.Str("serviceAccount") == sa[0] {
					associations = append(associations, a)
				}
			}
			// An EKS add-on's own associations, in the add-on's namespace.
			for _, a := range g.Find("aws:eks/addon:Addon") {
				for _, e := range asSlice(a.In("podIdentityAssociations")) {
					entry, _ := e.(map[string]any)
					if polAddonNamespaces[a.Str("addonName")] == ns[0] && entry["serviceAccount"] == sa[0] {
						associations, deps = append(associations, a), "podIdentityAssociations"
					}
				}
			}
			switch {
			case len(associations) != 1:
				out = append(out, polViolation(d.res, "trusts %s/%s, which has %d Pod Identity associations, not one", ns[0], sa[0], len(associations)))
			case !slices.Contains(associations[0].PropertyDeps[deps], d.res.URN):
				out = append(out, polViolation(d.res, "trusts %s/%s, whose association names another role", ns[0], sa[0]))
			}
		}
	}
	return out
}

// polAddonNamespaces are the namespaces EKS runs its managed add-ons' pods in (EKS user guide, the add-on pages),
// where an add-on's Pod Identity associations are.
var polAddonNamespaces = map[string]string{"vpc-cni": "kube-system"}

// polAutoscalerDocumented is the "Full Cluster Autoscaler Features Policy (Recommended)" of the autoscaler's AWS
// documentation, read at the chart tags this program pins.
var (
	polAutoscalerDocumentedReads  = []string{"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances", "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities", "ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements", "eks:DescribeNodegroup"}
	polAutoscalerDocumentedWrites = []string{"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
)

func checkAutoscalerScoped(g *plan.Result) []string {
	var out []string
	cluster := polClusterName(g)
	var found bool
	for _, d := range polDocuments(g) {
		if d.kind != "identity" || !strings.HasPrefix(d.res.Name, polAutoscalerPolicy) {
			continue
		}
		found = true
		if d.err != nil {
			out = append(out, polViolation(d.res, "unreadable policy: %v", d.err))
			continue
		}
		var granted []string
		for _, st := range d.doc.Statement {
			if !st.allows() {
				continue
			}
			if len(st.NotAction) > 0 || len(st.NotResource) > 0 {
				out = append(out, polViolation(d.res, "grants through NotAction/NotResource"))
			}
			for _, a := range st.Action {
				granted = append(granted, a)
				switch {
				case slices.Contains(polAutoscalerDocumentedWrites, a):
					tag := st.Condition["StringEquals"]["aws:ResourceTag/k8s.io/cluster-autoscaler/"+cluster]
					if len(tag) != 1 || tag[0] != "owned" || len(st.Condition) != 1 {
						out = append(out, polViolation(d.res, "grants %s without StringEquals aws:ResourceTag/k8s.io/cluster-autoscaler/%s = owned", a, cluster))
					}
					for _, r := range st.Resource {
						if !strings.HasSuffix(r, ":autoScalingGroupName/eks-*") {
							out = append(out, polViolation(d.res, "grants %s on %s, not only managed nodegroups' groups", a, r))
						}
					}
				case a == "eks:DescribeNodegroup":
					for _, r := range st.Resource {
						if !strings.HasSuffix(r, ":nodegroup/"+cluster+"/*") {
							out = append(out, polViolation(d.res, "grants %s on %s, not this cluster's nodegroups", a, r))
						}
					}
				case !slices.Contains(polAutoscalerDocumentedReads, a):
					out = append(out, polViolation(d.res, "grants %s, which the autoscaler's documentation does not list", a))
				}
			}
		}
		for _, a := range append(slices.Clone(polAutoscalerDocumentedReads), polAutoscalerDocumentedWrites...) {
			if !slices.Contains(granted, a) {
				out = append(out, polViolation(d.res, "lacks %s, which the autoscaler's documentation lists: it would fail at run time", a))
			}
		}
	}
	if !found && len(g.Find(polTypeHelmRelease)) > 1 {
		out = append(out, fmt.Sprintf("no %s policy: the autoscaler runs without its role", polAutoscalerPolicy))
	}
	return out
}

var workloadFixtures = []policyFixture{
	{policy: "PLAT-POD-IDENTITY-TRUST", name: "any ServiceAccount of the cluster", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeRole, "addons-autoscaler-role"), "assumeRolePolicy", func(doc map[string]any) {
			st := fxStatements(doc)[0].(map[string]any)
			delete(st["Condition"].(map[string]any)["StringEquals"].(map[string]any), "aws:RequestTag/kubernetes-service-account")
		})
	}},
	{policy: "PLAT-POD-IDENTITY-TRUST", name: "no conditions", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeRole, "addons-autoscaler-role"), "assumeRolePolicy", func(doc map[string]any) {
			delete(fxStatements(doc)[0].(map[string]any), "Condition")
		})
	}},
	{policy: "PLAT-POD-IDENTITY-TRUST", name: "a second association for the ServiceAccount", mutate: func(t *testing.T, g *plan.Result) {
		fxAdd(g, polTypePodIdentityAssociation, "stray", map[string]any{"namespace": "kube-system", "serviceAccount": "cluster-autoscaler",
			"clusterName": "x", "roleArn": "arn:aws:iam::123456789012:role/other"})
	}},
	{policy: "PLAT-POD-IDENTITY-TRUST", name: "the VPC CNI add-on's association for another ServiceAccount",
		config: func(cfg stackConfig) { cfg.Set("vpcCniIdentity", infra.VPCCNIBoth) },
		mutate: func(t *testing.T, g *plan.Result) {
			addon := fxOne(t, g, "aws:eks/addon:Addon", "cluster-vpc-cni")
			addon.Inputs["podIdentityAssociations"] = resource.NewPropertyValue([]any{
				map[string]any{"roleArn": "arn:aws:iam::123456789012:role/x", "serviceAccount": "coredns"}})
		}},
	{policy: "PLAT-POD-IDENTITY-TRUST", name: "the VPC CNI role's association on an add-on of another namespace",
		config: func(cfg stackConfig) { cfg.Set("vpcCniIdentity", infra.VPCCNIBoth) },
		mutate: func(t *testing.T, g *plan.Result) {
			cni := fxOne(t, g, "aws:eks/addon:Addon", "cluster-vpc-cni")
			// Another add-on, whose namespace the rule does not know to be kube-system, carries the association.
			other := fxOne(t, g, "aws:eks/addon:Addon", "addons-coredns")
			other.Inputs["addonName"] = resource.NewPropertyValue("aws-ebs-csi-driver")
			other.Inputs["podIdentityAssociations"] = cni.Inputs["podIdentityAssociations"]
			other.PropertyDeps["podIdentityAssociations"] = cni.PropertyDeps["podIdentityAssociations"]
			delete(cni.Inputs, "podIdentityAssociations")
		}},
	{policy: "PLAT-AUTOSCALER-SCOPED", name: "scaling writes on every group", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeRolePolicy, polAutoscalerPolicy), "policy", func(doc map[string]any) {
			for _, s := range fxStatements(doc) {
				if st := s.(map[string]any); st["Sid"] == "ScaleThisClustersNodegroups" {
					delete(st, "Condition")
				}
			}
		})
	}},
	{policy: "PLAT-AUTOSCALER-SCOPED", name: "an undocumented write", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeRolePolicy, polAutoscalerPolicy), "policy", fxAppendStatement(map[string]any{
			"Effect": "Allow", "Action": []any{"autoscaling:UpdateAutoScalingGroup"},
			"Resource": "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/eks-*"}))
	}},
	{policy: "PLAT-AUTOSCALER-SCOPED", name: "a documented read left out", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeRolePolicy, polAutoscalerPolicy), "policy", fxDropStatement("DescribeThisClustersNodegroups"))
	}},
	{policy: "PLAT-NO-USERDATA-READS", name: "the boundary exempts every role from the launch template deny", mutate: func(t *testing.T, g *plan.Result) {
		fxEditDocument(t, fxOne(t, g, polTypeManagedPolicy, "roles-policy"), "policy", func(doc map[string]any) {
			for _, s := range fxStatements(doc) {
				if st := s.(map[string]any); st["Sid"] == "OnlyTheAutoscalerReadsLaunchTemplates" {
					st["Condition"] = map[string]any{"ArnNotLike": map[string]any{"aws:PrincipalArn": "arn:aws:iam::123456789012:role/*"}}
				}
			}
		})
	}},
	{policy: "PLAT-NO-USERDATA-READS", name: "the boundary denies nothing", mutate: func(t *testing.T, g *plan.Result) {
		p := fxOne(t, g, polTypeManagedPolicy, "roles-policy")
		fxEditDocument(t, p, "policy", fxDropStatement("NeverReadWhatNodesBootWith"))
	}},
}
