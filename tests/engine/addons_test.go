package engine_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/tests/engine/standin"
)

// TestUpgrade_oneMinorVersionAtATimeInTheOrderEKSNeeds: EKS upgrades a control plane one minor version at a time,
// so a jump of two is refused before anything changes, naming the version to go through. Each step, applied by
// the real engine, updates the control plane first, then the add-ons nodes need, then the nodes, then the add-ons
// that run on nodes and the autoscaler built for the new version; it creates and deletes nothing. The asserted
// step is the newest pair of the calendar. A downgrade, which EKS cannot do, is refused like a jump.
func TestUpgrade_oneMinorVersionAtATimeInTheOrderEKSNeeds(t *testing.T) {
	t.Parallel()
	versions := infra.KubernetesVersionNames()
	require.GreaterOrEqual(t, len(versions), 3)
	oldest, from, to := versions[len(versions)-3], versions[len(versions)-2], versions[len(versions)-1]

	s := newBackend(t).platform("dev", fixtures)
	s.set("kubernetesVersion", oldest)
	s.mustUp()

	s.journal().Reset()
	s.set("kubernetesVersion", to)
	r := s.up()
	require.Error(t, r.err, "two minor versions at once")
	assert.Contains(t, r.stdout, "kubernetesVersion: the cluster runs Kubernetes "+oldest+", and EKS upgrades one minor version at a time: set "+from+" first")
	assert.Empty(t, s.journal().Entries(), "nothing changed")

	s.set("kubernetesVersion", from)
	s.mustUp()
	s.journal().Reset()
	s.set("kubernetesVersion", to)
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
	for _, name := range []string{"addons-coredns", "addons-metrics-server"} {
		a := entryNamed(t, j, standin.OpUpdate, addonType, name)
		assert.Greater(t, a.Seq, nodes.Seq, "%s after the nodes", name)
	}
	calendar, _ := infra.LookupKubernetesVersion(to)
	for _, r := range s.resources() {
		switch {
		case string(r.Type) == addonType:
			name, _ := r.Inputs["addonName"].(string)
			assert.Equal(t, standin.AddonVersion(name, to), r.Inputs["addonVersion"], "%s follows Kubernetes %s", name, to)
		case string(r.Type) == releaseType && r.URN.Name() == "addons-autoscaler":
			assert.Equal(t, calendar.AutoscalerChart, r.Inputs["version"], "the autoscaler built for %s", to)
			if calendar.AutoscalerImageTag != "" {
				assert.Equal(t, calendar.AutoscalerImageTag, r.Inputs["values"].(map[string]any)["image"].(map[string]any)["tag"])
			}
		case string(r.Type) == "aws:eks/nodeGroup:NodeGroup":
			assert.Equal(t, to, r.Inputs["version"])
		}
	}
	if calendar.AutoscalerChart != "" {
		// The chart may stay; the autoscaler image changes with the minor version.
		autoscaler := entryNamed(t, j, standin.OpUpdate, releaseType, "addons-autoscaler")
		assert.Greater(t, autoscaler.Seq, nodes.Seq, "the autoscaler for %s once the nodes run %s", to, to)
	}

	s.journal().Reset()
	s.set("kubernetesVersion", from)
	r = s.up()
	require.Error(t, r.err, "EKS cannot downgrade")
	assert.Contains(t, r.stdout, "kubernetesVersion: the cluster runs Kubernetes "+to+", and EKS cannot downgrade a cluster to "+from)
	assert.Empty(t, s.journal().Entries(), "nothing changed")
}
