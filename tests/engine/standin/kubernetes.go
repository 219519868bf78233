package standin

import (
	"encoding/json"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// KubernetesDefault applies to every Kubernetes kind: an object is replaced when its name or namespace
// changes (pulumi-kubernetes: provider.go, Diff, "metadata.name" and "metadata.namespace").
var KubernetesDefault = Rules{Replace: []string{"metadata.name", "metadata.namespace", "apiVersion", "kind"}}

// KubernetesRules are the kinds whose real provider differs from the default.
var KubernetesRules = map[string]Rules{
	// A Secret's type cannot change in place.
	"kubernetes:core/v1:Secret": {Replace: []string{"metadata.name", "metadata.namespace", "type"}},
	// helm.v3.Release: a new release name or namespace is a new release. Its status is computed.
	"kubernetes:helm.sh/v3:Release": {
		Replace: []string{"name", "namespace"},
		Outputs: func(c Call) resource.PropertyMap {
			revision := 1.0
			if st, ok := c.Olds["status"]; ok && st.IsObject() {
				if r, ok := st.ObjectValue()["revision"]; ok && r.IsNumber() {
					revision = r.NumberValue() + 1
				}
			}
			return props("status", map[string]any{
				"name": c.Str("name"), "namespace": c.Str("namespace"), "chart": c.Str("chart"),
				"version": c.Str("version"), "revision": revision, "status": "deployed",
			})
		},
	},
}

// PulumiServiceRules: pulumiservice:index:DeploymentSettings belongs to one stack of one project.
var PulumiServiceRules = map[string]Rules{
	"pulumiservice:index:DeploymentSettings": {
		Replace: []string{"organization", "project", "stack"},
		ID:      func(c Call) string { return c.Str("organization") + "/" + c.Str("project") + "/" + c.Str("stack") },
	},
}

// KubernetesConfigDiff is pulumi-kubernetes v4.32's DiffConfig (provider/pkg/provider/provider.go:480-560): a
// clusterIdentifier that changes from one value to another replaces the provider, and one that stays the same
// suppresses every other replacement; without it, an unknown kubeconfig, or a kubeconfig whose cluster entry
// (server, certificate authority) changes, replaces the provider.
func KubernetesConfigDiff(olds, news resource.PropertyMap) []string {
	oldID, newID := unsecretDeep(olds["clusterIdentifier"]), unsecretDeep(news["clusterIdentifier"])
	if newID.ContainsUnknowns() {
		return []string{"clusterIdentifier"}
	}
	if oldID.IsString() && newID.IsString() {
		if oldID.StringValue() != newID.StringValue() {
			return []string{"clusterIdentifier"}
		}
		return nil
	}
	newKC := unsecretDeep(news["kubeconfig"])
	if newKC.ContainsUnknowns() {
		return []string{"kubeconfig"}
	}
	if kubeconfigCluster(unsecretDeep(olds["kubeconfig"])) != kubeconfigCluster(newKC) {
		return []string{"kubeconfig"}
	}
	return nil
}

// kubeconfigCluster is the cluster entry of a kubeconfig (JSON, as pulumi-eks writes it).
func kubeconfigCluster(v resource.PropertyValue) string {
	if !v.IsString() {
		return ""
	}
	var kc struct {
		Clusters []struct {
			Cluster json.RawMessage `json:"cluster"`
		} `json:"clusters"`
	}
	if err := json.Unmarshal([]byte(v.StringValue()), &kc); err != nil || len(kc.Clusters) == 0 {
		return v.StringValue()
	}
	return string(kc.Clusters[0].Cluster)
}
