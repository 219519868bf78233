package engine_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// guarded are the resources a routine change must never replace or delete: losing one of them takes the
// service down for minutes (nodes) or for good (network, cluster).
var guarded = []string{"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup"}

func isGuarded(urn string) bool {
	for _, typ := range guarded {
		if strings.HasSuffix(strings.SplitN(urn, "::", 4)[2], typ) {
			return true
		}
	}
	return false
}

var destructive = []apitype.OpType{apitype.OpReplace, apitype.OpCreateReplacement, apitype.OpDeleteReplaced, apitype.OpDelete,
	apitype.OpDiscardReplaced}

// routineChanges are the changes operators make every week, as the commands they type.
var routineChanges = map[string][][]string{
	"node sizes":                 {{"nodeMinSize", "3"}, {"nodeDesiredSize", "4"}, {"nodeMaxSize", "8"}},
	"disk size":                  {{"nodeDiskSizeGiB", "120"}},
	"tag added":                  {{"aws:defaultTags.tags.owner", "team-a"}},
	"admin added":                {{"clusterAdminArns[0]", "arn:aws:iam::111122223333:role/oncall"}},
	"argo cd chart bump":         {{"argocdChartVersion", "9.1.3"}},
	"image retention":            {{"imageRetainCount", "5"}},
	"deploy roles added":         {{"pulumiOrganization", "acme"}},
	"log retention":              {{"logRetentionDays", "731"}},
	"kubernetes version upgrade": {{"kubernetesVersion", "1.34"}},
}

// TestReplacementGuard_routineChangesReplaceNothingThatServes: after `up`, each routine change previews with
// no replacement and no delete of the VPC, subnets, cluster and nodegroup, as the real engine computes them
// from the providers' diffs (the stand-ins replace exactly on terraform-provider-aws's ForceNew inputs).
func TestReplacementGuard_routineChangesReplaceNothingThatServes(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		t.Run(stack, func(t *testing.T) {
			b := newBackend(t)
			s := deployable(b, stack)
			s.mustUp()
			file := filepath.Join(s.dir, "Pulumi."+stack+".yaml")
			original, err := os.ReadFile(file)
			require.NoError(t, err)
			for name, sets := range routineChanges {
				require.NoError(t, os.WriteFile(file, original, 0o600))
				for _, kv := range sets {
					s.set(kv[0], kv[1])
				}
				r := s.preview()
				require.NoErrorf(t, r.err, "%s: %s", name, r.stdout)
				var changed int
				for urn, op := range r.ops() {
					if op != apitype.OpSame {
						changed++
					}
					if isGuarded(urn) {
						assert.NotContainsf(t, destructive, op, "%s: %s would %s", name, urn, op)
					}
				}
				assert.Positivef(t, changed, "%s changes something", name)
			}
		})
	}
}

// TestReplacementGuard_replacingChangesAreSeenAndProdRefusesThem: the guard can fail. A new VPC range replaces
// the VPC and its subnets; new instance types replace the nodegroup in dev (EKS cannot change them in place), and
// in prod, where the nodegroup is protected, the engine refuses the replacement.
func TestReplacementGuard_replacingChangesAreSeenAndProdRefusesThem(t *testing.T) {
	b := newBackend(t)
	dev := b.platform("dev", fixtures)
	dev.mustUp()
	file := filepath.Join(dev.dir, "Pulumi.dev.yaml")
	original, err := os.ReadFile(file)
	require.NoError(t, err)

	dev.set("vpcCidr", "10.99.0.0/16")
	ops := dev.preview().ops()
	assert.Equal(t, apitype.OpReplace, ops[urn("dev", "platform:infra:Network$aws:ec2/vpc:Vpc", "network-vpc")])
	assert.Equal(t, apitype.OpReplace, ops[urn("dev", "platform:infra:Network$aws:ec2/subnet:Subnet", "network-private-us-east-1a")])

	require.NoError(t, os.WriteFile(file, original, 0o600))
	dev.set("nodeInstanceTypes[0]", "m6i.xlarge")
	ops = dev.preview().ops()
	nodegroup := urn("dev", "platform:infra:NodeGroup$aws:eks/nodeGroup:NodeGroup", "nodes")
	assert.Equal(t, apitype.OpReplace, ops[nodegroup])
	for u, op := range ops {
		if isGuarded(u) && u != nodegroup {
			assert.NotContainsf(t, destructive, op, "%s would %s", u, op)
		}
	}

	prod := prodStack(b)
	prod.mustUp()
	prod.set("nodeInstanceTypes[0]", "m6i.xlarge")
	r := prod.preview(optpreview.Diff())
	require.Error(t, r.err, "prod refuses to replace its protected nodegroup")
	assert.Regexp(t, regexp.MustCompile(`(?s)unable to replace resource .*nodes.*protect`), r.stdout+r.err.Error())
}
