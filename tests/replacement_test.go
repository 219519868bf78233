package tests

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// replacementInputs are, per resource type, the inputs whose change makes the provider replace the resource
// (ForceNew in the AWS provider's schema). For the pulumi-eks component every input counts: any change
// reaches the EKS cluster it wraps.
var replacementInputs = map[string][]string{
	"aws:ec2/vpc:Vpc":       {"cidrBlock"},
	"aws:ec2/subnet:Subnet": {"availabilityZone", "cidrBlock", "vpcId"},
	eksClusterTy:            nil,
	nodeGroupTy: {"amiType", "capacityType", "clusterName", "diskSize", "instanceTypes", "nodeGroupName",
		"nodeGroupNamePrefix", "nodeRoleArn", "remoteAccess", "subnetIds", "launchTemplate.id"},
}

// replacementView is the replacement-forcing inputs of every guarded resource, by type and name.
func replacementView(r *run) map[string]string {
	out := map[string]string{}
	for typ, keys := range replacementInputs {
		for _, rec := range r.all(typ) {
			view := map[string]any{}
			if keys == nil {
				view["*"] = plain(resourcePropertyObject(rec.Inputs))
			}
			for _, k := range keys {
				view[k] = rec.In(k)
			}
			b, _ := json.Marshal(view)
			out[typ+" "+rec.Name] = string(b)
		}
	}
	return out
}

// TestReplacementGuard_routineChangesReplaceNothing: the changes operators make every week (scaling nodes,
// tags, admins, an ArgoCD chart bump, image retention, adding the deploy roles) must not replace the VPC,
// subnets, cluster or nodegroup, in either stack; changing instance types or capacity replaces the nodegroup
// (EKS cannot change them in place) but nothing else, the cluster least of all.
func TestReplacementGuard_routineChangesReplaceNothing(t *testing.T) {
	nodegroupChanges := map[string]func(c stackConfig){
		"instance types and order": func(c stackConfig) { c.Set("nodeInstanceTypes", []string{"m6a.large", "m6i.large", "m5.large"}) },
		"capacity type":            func(c stackConfig) { c.Set("nodeCapacityType", "SPOT") },
	}
	changes := map[string]func(c stackConfig){
		"node sizes": func(c stackConfig) {
			c.Set("nodeMinSize", 3)
			c.Set("nodeDesiredSize", 4)
			c.Set("nodeMaxSize", 8)
		},
		"disk size (rolled through the launch template)": func(c stackConfig) { c.Set("nodeDiskSizeGiB", 120) },
		"tags": func(c stackConfig) {
			c.Values["aws:defaultTags"] = `{"tags":{"environment":"x","project":"y","managed-by":"pulumi","owner":"team-a"}}`
		},
		"admin added":        func(c stackConfig) { c.Set("clusterAdminArns", []string{"arn:aws:iam::111122223333:role/oncall"}) },
		"chart version bump": func(c stackConfig) { c.Set("argocdChartVersion", "9.1.3") },
		"image retention":    func(c stackConfig) { c.Set("imageRetainCount", 5) },
		"deploy roles added": func(c stackConfig) { c.Set("pulumiOrganization", "acme") },
		"log retention":      func(c stackConfig) { c.Set("logRetentionDays", 365) },
	}
	for _, stack := range stackNames {
		base := replacementView(runStack(t, stack, fixtureConfig(t, stack)).ok())
		for name, change := range changes {
			t.Run(stack+"/"+name, func(t *testing.T) {
				cfg := fixtureConfig(t, stack)
				change(cfg)
				got := replacementView(runStack(t, stack, cfg).ok())
				assert.Equal(t, len(base), len(got), "same guarded resources")
				for res, view := range base {
					assert.JSONEq(t, view, got[res], "%s would be replaced", res)
				}
			})
		}
		for name, change := range nodegroupChanges {
			t.Run(stack+"/"+name, func(t *testing.T) {
				cfg := fixtureConfig(t, stack)
				change(cfg)
				got := replacementView(runStack(t, stack, cfg).ok())
				for res, view := range base {
					if res != nodeGroupTy+" nodes" {
						assert.JSONEq(t, view, got[res], "%s would be replaced", res)
					}
				}
			})
		}
	}
}

// TestReplacementGuard_detectsAReplacingChange proves the guard can fail: changing the VPC range replaces
// the VPC and subnets, and changing instance types replaces the nodegroup.
func TestReplacementGuard_detectsAReplacingChange(t *testing.T) {
	base := replacementView(runStack(t, "dev", fixtureConfig(t, "dev")).ok())
	cfg := fixtureConfig(t, "dev")
	cfg.Set("vpcCidr", "10.99.0.0/16")
	cfg.Set("nodeInstanceTypes", []string{"m6i.xlarge"})
	got := replacementView(runStack(t, "dev", cfg).ok())
	assert.NotEqual(t, base["aws:ec2/vpc:Vpc network-vpc"], got["aws:ec2/vpc:Vpc network-vpc"])
	assert.NotEqual(t, base[nodeGroupTy+" nodes"], got[nodeGroupTy+" nodes"])
}
