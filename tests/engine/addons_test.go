package engine_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/tests/engine/standin"
)

const (
	addonType   = "aws:eks/addon:Addon"
	releaseType = "kubernetes:helm.sh/v3:Release"
)

// entryNamed is the one journal entry of an operation on a resource of that type and name.
func entryNamed(t *testing.T, j *standin.Journal, op standin.Op, typ, name string) standin.Entry {
	t.Helper()
	var found []standin.Entry
	for _, e := range j.Of(op) {
		if e.Type == typ && e.Name == name {
			found = append(found, e)
		}
	}
	require.Lenf(t, found, 1, "one %s of %s %s", op, typ, name)
	return found[0]
}

func named(name string) func(resource.URN) bool {
	return func(u resource.URN) bool { return u.Name() == name }
}

// TestUp_addOnsComeInTheOrderEKSNeeds: on a new cluster, as the real engine schedules it, the add-ons nodes need
// are created before the nodegroup, the add-ons that need nodes after it, the autoscaler after its association
// and CoreDNS, and Argo CD after DNS and the metrics API.
func TestUp_addOnsComeInTheOrderEKSNeeds(t *testing.T) {
	s := newBackend(t).platform("dev", fixtures)
	s.mustUp()
	j := s.journal()
	nodes := entryNamed(t, j, standin.OpCreate, "aws:eks/nodeGroup:NodeGroup", "nodes")
	for _, name := range []string{"cluster-vpc-cni", "cluster-kube-proxy", "cluster-eks-pod-identity-agent"} {
		assert.Less(t, entryNamed(t, j, standin.OpCreate, addonType, name).Seq, nodes.Seq, "%s before the nodes", name)
	}
	argocd := entryNamed(t, j, standin.OpCreate, releaseType, "gitops-argocd")
	autoscaler := entryNamed(t, j, standin.OpCreate, releaseType, "addons-autoscaler")
	for _, name := range []string{"addons-coredns", "addons-metrics-server"} {
		a := entryNamed(t, j, standin.OpCreate, addonType, name)
		assert.Greater(t, a.Seq, nodes.Seq, "%s after the nodes", name)
		assert.Less(t, a.Seq, argocd.Seq, "Argo CD after %s", name)
	}
	assert.Greater(t, autoscaler.Seq, entryNamed(t, j, standin.OpCreate, "aws:eks/podIdentityAssociation:PodIdentityAssociation",
		"addons-autoscaler-association").Seq, "the autoscaler after its association")
}

// TestUpgrade_kubernetesVersionBumpGoesInTheOrderEKSNeeds: a kubernetesVersion bump, applied by the real engine,
// updates the control plane first, then the add-ons nodes need, then the nodes, then the add-ons that run on
// nodes and the autoscaler built for the new version, each add-on at the version resolved for the new version.
func TestUpgrade_kubernetesVersionBumpGoesInTheOrderEKSNeeds(t *testing.T) {
	s := newBackend(t).platform("dev", fixtures)
	s.set("kubernetesVersion", "1.33")
	s.mustUp()
	s.journal().Reset()
	s.set("kubernetesVersion", "1.34")
	s.mustUp()
	j := s.journal()
	assert.Empty(t, j.Of(standin.OpCreate), "an upgrade creates nothing")
	assert.Empty(t, j.Of(standin.OpDelete), "and deletes nothing")

	cluster := entryNamed(t, j, standin.OpUpdate, "aws:eks/cluster:Cluster", "cluster-eks-eksCluster")
	nodes := entryNamed(t, j, standin.OpUpdate, "aws:eks/nodeGroup:NodeGroup", "nodes")
	for _, name := range []string{"cluster-vpc-cni", "cluster-kube-proxy", "cluster-eks-pod-identity-agent"} {
		a := entryNamed(t, j, standin.OpUpdate, addonType, name)
		assert.Greater(t, a.Seq, cluster.Seq, "%s after the control plane", name)
		assert.Less(t, a.Seq, nodes.Seq, "%s before the nodes", name)
	}
	autoscaler := entryNamed(t, j, standin.OpUpdate, releaseType, "addons-autoscaler")
	for _, name := range []string{"addons-coredns", "addons-metrics-server"} {
		a := entryNamed(t, j, standin.OpUpdate, addonType, name)
		assert.Greater(t, a.Seq, nodes.Seq, "%s after the nodes", name)
	}
	assert.Greater(t, autoscaler.Seq, nodes.Seq, "the autoscaler for 1.34 once the nodes run 1.34")

	for _, r := range s.resources() {
		switch {
		case string(r.Type) == addonType:
			name, _ := r.Inputs["addonName"].(string)
			assert.Equal(t, standin.AddonVersion(name, "1.34"), r.Inputs["addonVersion"], "%s follows Kubernetes 1.34", name)
		case string(r.Type) == releaseType && r.URN.Name() == "addons-autoscaler":
			assert.Equal(t, "9.53.0", r.Inputs["version"], "the autoscaler built for 1.34")
		case string(r.Type) == "aws:eks/nodeGroup:NodeGroup":
			assert.Equal(t, "1.34", r.Inputs["version"])
		}
	}
}

// TestDestroy_addOnsOutliveWhatNeedsThem: the autoscaler goes before the nodes it scales (it would otherwise fight
// the nodegroup's deletion), Argo CD and both namespaces before DNS and the metrics API (a namespace cannot finish
// deleting while metrics.k8s.io is registered without its server), the nodes before the add-ons they need.
func TestDestroy_addOnsOutliveWhatNeedsThem(t *testing.T) {
	s := newBackend(t).platform("dev", fixtures)
	s.mustUp()
	s.journal().Reset()
	require.NoError(t, s.destroy().err)
	j := s.journal()
	nodes := entryNamed(t, j, standin.OpDelete, "aws:eks/nodeGroup:NodeGroup", "nodes")
	autoscaler := entryNamed(t, j, standin.OpDelete, releaseType, "addons-autoscaler")
	assert.Less(t, autoscaler.Seq, nodes.Seq, "the autoscaler goes before the nodes")
	_, lastNamespace := seqOf(j, standin.OpDelete, isType("kubernetes:core/v1:Namespace"))
	for _, name := range []string{"addons-coredns", "addons-metrics-server"} {
		a := entryNamed(t, j, standin.OpDelete, addonType, name)
		assert.Greater(t, a.Seq, lastNamespace, "%s outlives the namespaces", name)
		assert.Greater(t, a.Seq, entryNamed(t, j, standin.OpDelete, releaseType, "gitops-argocd").Seq, "%s outlives Argo CD", name)
		assert.Less(t, a.Seq, nodes.Seq, "%s goes before the nodes", name)
	}
	for _, name := range []string{"cluster-vpc-cni", "cluster-kube-proxy", "cluster-eks-pod-identity-agent"} {
		first, _ := seqOf(j, standin.OpDelete, named(name))
		assert.Greater(t, first, nodes.Seq, "%s outlives the nodes", name)
	}
}

// TestUp_changingTheNodeBoundsKeepsTheAutoscalersSize: the autoscaler grew dev's nodegroup from 2 to 3 nodes
// outside Pulumi; raising nodeMaxSize then sends EKS the 3 it runs at with the new bounds, read from the running
// nodegroup, not the 2 the state remembers from creation.
func TestUp_changingTheNodeBoundsKeepsTheAutoscalersSize(t *testing.T) {
	s := newBackend(t).platform("dev", fixtures)
	s.mustUp()
	groups := s.cloud().Of("aws:eks/nodeGroup:NodeGroup")
	require.Len(t, groups, 1)
	for id := range groups {
		s.cloud().Change("aws:eks/nodeGroup:NodeGroup", id, func(ng resource.PropertyMap) {
			ng["scalingConfig"].ObjectValue()["desiredSize"] = resource.NewNumberProperty(3)
		})
	}
	s.set("nodeMaxSize", "5")
	s.mustUp()
	for _, r := range s.resources() {
		if string(r.Type) == "aws:eks/nodeGroup:NodeGroup" {
			scaling := r.Inputs["scalingConfig"].(map[string]any)
			assert.Equal(t, 3.0, scaling["desiredSize"], "the autoscaler's size, not the initial 2")
			assert.Equal(t, 5.0, scaling["maxSize"])
		}
	}
	for _, ng := range s.cloud().Of("aws:eks/nodeGroup:NodeGroup") {
		assert.Equal(t, 3.0, ng["scalingConfig"].ObjectValue()["desiredSize"].NumberValue(), "EKS keeps running 3 nodes")
	}
}
