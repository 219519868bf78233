package standin

import (
	"encoding/json"
	"os"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The replacement rules of pulumi-kubernetes v4.32.0 (tag v4.32.0, provider/pkg/provider/diff.go and
// provider.go), for the kinds this program creates:
//   - every kind: a change of metadata.name or metadata.namespace replaces the object (diff.go:25 and 207-212,
//     provider.go:1560); apiVersion and kind are part of the type token, so they never diff;
//   - Secret: also .type, .stringData and .data, unless the provider sets enableSecretMutable and the Secret is
//     not immutable, when .type alone (diff.go:28-29, the Secret table entry at :155-157);
//   - ConfigMap: .data and .binaryData, unless enableConfigMapMutable (diff.go:32-33);
//   - Namespace, ServiceAccount, custom resources (Argo CD's Application and AppProject): nothing else;
//   - a replaced object that keeps its name and namespace and is not autonamed is deleted before its replacement
//     is created (provider.go:1647-1658): one name cannot exist twice;
//   - helm.sh/v3 Release: .name and .namespace only, and never delete-before-replace (helm_release.go:907, 932).
//
// The provider reads enableSecretMutable from its config variable kubernetes:config:enableSecretMutable or the
// environment variable PULUMI_K8S_ENABLE_SECRET_MUTABLE (provider.go:712-726).
var KubernetesDefault = Rules{
	Replace:             []string{"metadata.name", "metadata.namespace"},
	DeleteBeforeReplace: sameExplicitName,
	ID:                  kubernetesID,
	Live:                withResourceVersion,
}

func immutable(news resource.PropertyMap) bool {
	v := valueAt(news, "immutable")
	return v.IsBool() && v.BoolValue()
}

func str(v resource.PropertyValue) string {
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// withResourceVersion adds what the API server sets on every object it stores and pulumi-kubernetes returns with
// the live object: metadata.resourceVersion, which every change of the object moves. A preview is a server-side
// dry run, which returns the stored object's version unchanged (none yet for a create).
func withResourceVersion(c Call, outs resource.PropertyMap, preview bool) {
	meta := resource.PropertyMap{}
	if m := unsecret(outs["metadata"]); m.IsObject() {
		meta = m.ObjectValue().Copy()
	}
	next := resource.NewStringProperty("1")
	if old := str(valueAt(c.Olds, "metadata.resourceVersion")); old != "" {
		n, _ := strconv.Atoi(old)
		next = resource.NewStringProperty(strconv.Itoa(n + 1))
	}
	if preview {
		next = resource.MakeComputed(resource.NewStringProperty(""))
		if old := str(valueAt(c.Olds, "metadata.resourceVersion")); old != "" {
			next = resource.NewStringProperty(old)
		}
	}
	meta["resourceVersion"] = next
	outs["metadata"] = resource.NewObjectProperty(meta)
}

// sameExplicitName is provider.go:1647-1658: an explicit name (not autonamed) that the replacement keeps.
func sameExplicitName(olds, news resource.PropertyMap) bool {
	name := func(m resource.PropertyMap, key string) string { return str(valueAt(m, "metadata."+key)) }
	autonamed := valueAt(news, "metadata.annotations").IsObject() &&
		str(valueAt(news, "metadata.annotations").ObjectValue()["pulumi.com/autonamed"]) == "true"
	return name(news, "name") != "" && !autonamed && name(olds, "name") == name(news, "name") &&
		name(olds, "namespace") == name(news, "namespace")
}

// kubernetesID is the ID pulumi-kubernetes gives an object: namespace/name, or the name of a cluster-scoped one.
func kubernetesID(c Call) string {
	name, ns := valueAt(c.Inputs, "metadata.name"), valueAt(c.Inputs, "metadata.namespace")
	if !name.IsString() {
		return c.Name + "-id"
	}
	if ns.IsString() && ns.StringValue() != "" {
		return ns.StringValue() + "/" + name.StringValue()
	}
	return name.StringValue()
}

// KubernetesCluster is the cluster a Kubernetes provider instance talks to: the --cluster-name its kubeconfig's
// exec command (aws eks get-token) names, as pulumi-eks writes it.
func KubernetesCluster(config map[string]string) string {
	var kc struct {
		Users []struct {
			User struct {
				Exec struct {
					Args []string `json:"args"`
				} `json:"exec"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := json.Unmarshal([]byte(config["kubernetes:config:kubeconfig"]), &kc); err == nil {
		for _, u := range kc.Users {
			for i, a := range u.User.Exec.Args {
				if a == "--cluster-name" && i+1 < len(u.User.Exec.Args) {
					return u.User.Exec.Args[i+1]
				}
			}
		}
	}
	return "unknown-cluster"
}

// KubernetesAlreadyExists is the API server's answer to a create of a name that exists (pulumi-kubernetes creates
// client-side since 4.29).
func KubernetesAlreadyExists(string) string { return "AlreadyExists: object already exists" }

// mutable reports whether the provider instance sets a flag such as enableSecretMutable: its config variable,
// else the provider process's environment variable (provider.go:712-726).
func mutable(config map[string]string, flag, env string) bool {
	if v, ok := config["kubernetes:config:"+flag]; ok {
		return v == "true"
	}
	return os.Getenv(env) == "true"
}

// KubernetesRules are the kinds whose real provider differs from the default.
var KubernetesRules = map[string]Rules{
	"kubernetes:core/v1:Secret": {
		Replace: []string{"metadata.name", "metadata.namespace", "type"},
		ReplaceFor: func(config map[string]string, news resource.PropertyMap) []string {
			if mutable(config, "enableSecretMutable", "PULUMI_K8S_ENABLE_SECRET_MUTABLE") && !immutable(news) {
				return nil
			}
			return []string{"stringData", "data"}
		},
		DeleteBeforeReplace: sameExplicitName,
		ID:                  kubernetesID,
		Live:                withResourceVersion,
	},
	"kubernetes:core/v1:ConfigMap": {
		Replace: []string{"metadata.name", "metadata.namespace"},
		ReplaceFor: func(config map[string]string, news resource.PropertyMap) []string {
			if mutable(config, "enableConfigMapMutable", "PULUMI_K8S_ENABLE_CONFIGMAP_MUTABLE") && !immutable(news) {
				return nil
			}
			return []string{"data", "binaryData"}
		},
		DeleteBeforeReplace: sameExplicitName,
		ID:                  kubernetesID,
		Live:                withResourceVersion,
	},
	// helm.v3.Release: a new release name or namespace is a new release. Its status is computed.
	"kubernetes:helm.sh/v3:Release": {
		Replace: []string{"name", "namespace"},
		ID:      func(c Call) string { return c.Str("namespace") + "/" + c.Str("name") },
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

// PulumiServiceRules: pulumiservice:index:DeploymentSettings and DriftSchedule belong to one stack of one project
// (pulumi-pulumiservice v1.3.0: a changed organization, project or stack replaces them).
var PulumiServiceRules = map[string]Rules{
	"pulumiservice:index:DriftSchedule": {
		Replace: []string{"organization", "project", "stack"},
		ID: func(c Call) string {
			return c.Str("organization") + "/" + c.Str("project") + "/" + c.Str("stack") + "/drift"
		},
		Outputs: func(c Call) resource.PropertyMap { return props("scheduleId", "schedule-"+shortHash(string(c.URN))) },
	},
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
