package plan

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// keyProps are the inputs the tree shows for each resource type.
var keyProps = map[string][]string{
	"aws:ec2/vpc:Vpc":                                         {"cidrBlock"},
	"aws:ec2/subnet:Subnet":                                   {"availabilityZone", "cidrBlock"},
	"aws:ec2/natGateway:NatGateway":                           {"subnetId"},
	"aws:ec2/flowLog:FlowLog":                                 {"trafficType"},
	"aws:cloudwatch/logGroup:LogGroup":                        {"name", "retentionInDays"},
	"aws:ecr/repository:Repository":                           {"name", "imageTagMutability", "forceDelete"},
	"aws:iam/role:Role":                                       {"description"},
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment":       {"policyArn"},
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider":     {"url"},
	EKSClusterType:                                            {"name", "version", "endpointPublicAccess", "publicAccessCidrs", "authenticationMode"},
	"aws:eks/nodeGroup:NodeGroup":                             {"instanceTypes", "capacityType", "scalingConfig"},
	"aws:eks/accessEntry:AccessEntry":                         {"principalArn"},
	"aws:eks/addon:Addon":                                     {"addonName", "addonVersion"},
	"aws:eks/podIdentityAssociation:PodIdentityAssociation":   {"namespace", "serviceAccount"},
	"aws:eks/accessPolicyAssociation:AccessPolicyAssociation": {"policyArn", "accessScope"},
	"pulumi:providers:kubernetes":                             {"clusterIdentifier"},
	"kubernetes:helm.sh/v3:Release":                           {"chart", "version", "namespace"},
	"kubernetes:core/v1:Namespace":                            {"metadata.name"},
	"kubernetes:core/v1:Secret":                               {"metadata.name", "metadata.namespace"},
	"kubernetes:argoproj.io/v1alpha1:AppProject":              {"metadata.name", "spec.sourceRepos"},
	"kubernetes:argoproj.io/v1alpha1:Application":             {"spec.source.repoURL", "spec.source.path", "spec.source.targetRevision"},
}

func compact(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (r *Resource) label() string { return r.Type + " " + r.Name }

func (r *Resource) flags() []string {
	var f []string
	if r.Protect {
		f = append(f, "protected")
	}
	if r.Remote {
		f = append(f, "remote component")
	}
	if len(r.IgnoreChanges) > 0 {
		f = append(f, "ignores "+strings.Join(r.IgnoreChanges, ","))
	}
	if r.UpdateTimeout != "" {
		f = append(f, "update timeout "+r.UpdateTimeout)
	}
	if r.DeleteTimeout != "" {
		f = append(f, "delete timeout "+r.DeleteTimeout)
	}
	return f
}

// Tree renders the plan as the component tree with each resource's key properties and a resource count.
func Tree(res *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s: %d resources (%d components)", res.Stack, len(res.Resources), countComponents(res))
	if n := len(res.Find(EKSClusterType)); n > 0 {
		fmt.Fprintf(&b, "; not counted: the %d resources pulumi-eks's Cluster creates inside itself (%s)", n*EKSClusterChildren, EKSClusterChildrenText)
	}
	b.WriteString("\noffline plan: IDs, ARNs, account and secrets are placeholders; nothing was sent to AWS\n")
	byParent := map[string][]*Resource{}
	for _, r := range res.Resources {
		byParent[r.Parent] = append(byParent[r.Parent], r)
	}
	var roots []*Resource
	for _, r := range res.Resources {
		if res.ByURN(r.Parent) == nil {
			roots = append(roots, r)
		}
	}
	var walk func(rs []*Resource, indent string)
	walk = func(rs []*Resource, indent string) {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
		for i, r := range rs {
			branch, next := "├─ ", "│  "
			if i == len(rs)-1 {
				branch, next = "└─ ", "   "
			}
			line := r.label()
			var props []string
			for _, p := range keyProps[r.Type] {
				if v := redactedAt(r, p); v != nil {
					props = append(props, p+"="+compact(v))
				}
			}
			props = append(props, r.flags()...)
			if len(props) > 0 {
				line += "  " + strings.Join(props, "  ")
			}
			b.WriteString(indent + branch + line + "\n")
			walk(byParent[r.URN], indent+next)
		}
	}
	walk(roots, "")
	if len(res.Outputs) > 0 {
		b.WriteString("outputs:\n")
		for _, name := range sortedKeys(res.Outputs) {
			fmt.Fprintf(&b, "  %s = %s\n", name, outputText(res.Outputs[name]))
		}
	}
	return b.String()
}

func countComponents(res *Result) int {
	n := 0
	for _, r := range res.Resources {
		if !r.Custom {
			n++
		}
	}
	return n
}

func redactedAt(r *Resource, path string) any {
	if r.SecretAt(path) {
		return "[secret]"
	}
	return redacted(r.Raw(path))
}

func outputText(o Output) string {
	switch {
	case o.Secret:
		return "[secret]"
	case !o.Known:
		return "(known after apply)"
	default:
		return compact(o.Value)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var nodeIDRe = regexp.MustCompile(`[^A-Za-z0-9_]`)

func nodeID(r *Resource) string { return "r_" + nodeIDRe.ReplaceAllString(r.Name+"_"+r.Type, "_") }

// edges returns, for each resource, the resources it waits for (known ones only), sorted.
func edges(res *Result) map[*Resource][]*Resource {
	out := map[*Resource][]*Resource{}
	for _, r := range res.Resources {
		for _, u := range r.Edges() {
			if d := res.ByURN(u); d != nil && d != r {
				out[r] = append(out[r], d)
			}
		}
		sort.Slice(out[r], func(i, j int) bool { return out[r][i].URN < out[r][j].URN })
	}
	return out
}

// Mermaid renders the dependency graph: an arrow from what is created first to what waits for it; each
// component is a subgraph.
func Mermaid(res *Result) string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	writeGroup(&b, res, "", "  ", func(r *Resource, indent string) string {
		return fmt.Sprintf("%s%s[\"%s<br/><small>%s</small>\"]\n", indent, nodeID(r), r.Name, r.Type)
	}, func(r *Resource, indent string) (string, string) {
		return fmt.Sprintf("%ssubgraph %s [\"%s\"]\n", indent, nodeID(r), r.label()), indent + "end\n"
	})
	es := edges(res)
	for _, r := range res.Resources {
		for _, d := range es[r] {
			fmt.Fprintf(&b, "  %s --> %s\n", nodeID(d), nodeID(r))
		}
	}
	return b.String()
}

// DOT renders the dependency graph for Graphviz, components as clusters.
func DOT(res *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n", res.Stack)
	writeGroup(&b, res, "", "  ", func(r *Resource, indent string) string {
		return fmt.Sprintf("%s%s [label=%q];\n", indent, nodeID(r), r.Name+"\n"+r.Type)
	}, func(r *Resource, indent string) (string, string) {
		return fmt.Sprintf("%ssubgraph cluster_%s {\n%s  label=%q;\n", indent, nodeID(r), indent, r.label()), indent + "}\n"
	})
	es := edges(res)
	for _, r := range res.Resources {
		for _, d := range es[r] {
			fmt.Fprintf(&b, "  %s -> %s;\n", nodeID(d), nodeID(r))
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func writeGroup(b *strings.Builder, res *Result, parent, indent string, node func(*Resource, string) string, group func(*Resource, string) (string, string)) {
	for _, r := range res.Resources {
		inGroup := r.Parent == parent || (parent == "" && res.ByURN(r.Parent) == nil)
		if !inGroup {
			continue
		}
		if len(res.Children(r)) > 0 {
			open, closing := group(r, indent)
			b.WriteString(open)
			writeGroup(b, res, r.URN, indent+"  ", node, group)
			b.WriteString(closing)
			continue
		}
		b.WriteString(node(r, indent))
	}
}

// snapshotResource is one resource in a plan snapshot.
type snapshotResource struct {
	Type         string   `json:"type"`
	Name         string   `json:"name"`
	Parent       string   `json:"parent,omitempty"`
	Provider     string   `json:"provider,omitempty"`
	DependsOn    []string `json:"dependsOn,omitempty"`
	Options      []string `json:"options,omitempty"`
	SecretOutput []string `json:"additionalSecretOutputs,omitempty"`
	Inputs       any      `json:"inputs"`
}

// Snapshot renders the whole plan deterministically for review: every resource with its type, logical name,
// parent, provider, dependencies, options and inputs, secrets redacted; then the outputs.
func Snapshot(res *Result) string {
	name := func(urn string) string {
		if r := res.ByURN(urn); r != nil {
			return r.label()
		}
		if urn == "" {
			return ""
		}
		return "(outside the plan) " + urn
	}
	doc := struct {
		Stack     string             `json:"stack"`
		Count     int                `json:"resourceCount"`
		Resources []snapshotResource `json:"resources"`
		Outputs   map[string]string  `json:"outputs"`
	}{Stack: res.Stack, Count: len(res.Resources), Outputs: map[string]string{}}
	for _, r := range res.Resources {
		var deps []string
		for _, u := range r.Edges() {
			if u != ProviderURN(r.Provider) {
				deps = append(deps, name(u))
			}
		}
		sort.Strings(deps)
		parent := name(r.Parent)
		if res.ByURN(r.Parent) == nil {
			parent = ""
		}
		doc.Resources = append(doc.Resources, snapshotResource{
			Type: r.Type, Name: r.Name, Parent: parent, Provider: name(ProviderURN(r.Provider)),
			DependsOn: deps, Options: r.flags(), SecretOutput: r.SecretOutputs,
			Inputs: redacted(resourceObject(r)),
		})
	}
	for k, o := range res.Outputs {
		doc.Outputs[k] = outputText(o)
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b) + "\n"
}
