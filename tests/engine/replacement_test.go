package engine_test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/stacks"
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

// routineChange is a change operators make every week, as the commands they type, and a resource it must change
// (so that the change is known to have reached the plan).
type routineChange struct {
	sets    [][2]string
	changes string // a logical name the change updates or creates
}

// routineChanges, applied together to the shared stacks (which already carry deploy roles, an admin in prod and a
// repository token). A change that replaces a resource on its own also replaces it among others: replacement is
// decided per resource from its own inputs.
var routineChanges = map[string]routineChange{
	"node sizes":         {[][2]string{{"nodeMinSize", "3"}, {"nodeDesiredSize", "4"}, {"nodeMaxSize", "8"}}, "nodes"},
	"disk size":          {[][2]string{{"nodeDiskSizeGiB", "120"}}, "nodes-lt"},
	"tag added":          {[][2]string{{"aws:defaultTags.tags.owner", "team-a"}}, "default_6_83_4"}, // the AWS provider's default tags
	"admin added":        {[][2]string{{"clusterAdminArns[1]", "arn:aws:iam::111122223333:role/auditor"}}, "cluster-access-admin-111122223333-role-auditor"},
	"argo cd chart bump": {[][2]string{{"argocdChartVersion", "9.1.3"}}, "gitops-argocd"},
	"image retention":    {[][2]string{{"imageRetainCount", "5"}}, "registry-lifecycle"},
	"log retention":      {[][2]string{{"logRetentionDays", "731"}}, "network-flow-logs"},
	"api key rotated":    {[][2]string{{"apiKey", "a-rotated-api-key"}}, "gitops-api-key"},
	"service statements": {[][2]string{{"serviceIamStatements[0].Effect", "Allow"}, {"serviceIamStatements[0].Action[0]", "s3:GetObject"},
		{"serviceIamStatements[0].Resource[0]", "arn:aws:s3:::acme-assets/*"}}, "service-identity-role"},
}

// TestReplacementGuard_routineChangesReplaceNothingThatServes: on a deployed stack, the routine changes preview
// with no replacement and no delete of the VPC, subnets, cluster and nodegroup, as the real engine computes them
// from the providers' diffs (the stand-ins replace exactly on the upstream providers' force-new inputs).
func TestReplacementGuard_routineChangesReplaceNothingThatServes(t *testing.T) {
	t.Parallel()
	b := shared(t).fork(t)
	for _, stack := range []string{"dev", "prod"} {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			s := b.stack(stack, stacks.Run)
			var plain [][2]string
			secrets := map[string]string{}
			for _, change := range routineChanges {
				for _, kv := range change.sets {
					switch {
					case kv[0] == "apiKey":
						secrets[kv[0]] = kv[1]
					case strings.HasPrefix(kv[0], "clusterAdminArns[") && len(sharedConfigValues(stack, "clusterAdminArns[0]")) == 0:
						plain = append(plain, [2]string{"clusterAdminArns[0]", kv[1]}) // the stack's first admin
					default:
						plain = append(plain, kv)
					}
				}
			}
			s.setAll(plain, secrets)
			r := s.preview()
			require.NoError(t, r.err, r.stdout)
			changed := map[string]bool{}
			for urn, op := range r.ops() {
				if op != apitype.OpSame {
					changed[resource.URN(urn).Name()] = true
				}
				if isGuarded(urn) {
					assert.NotContainsf(t, destructive, op, "%s would %s", urn, op)
				}
			}
			for name, change := range routineChanges {
				want := change.changes
				assert.Truef(t, changed[want], "%s changes %s; changed: %v", name, want, slices.Sorted(maps.Keys(changed)))
			}
		})
	}
}

// TestReplacementGuard_replacingChangesAreSeenAndProdRefusesThem: the guard can fail. A new VPC range replaces
// the VPC and its subnets; new instance types or capacity type replace the nodegroup in dev (EKS cannot change them
// in place) and nothing else that serves, and in prod, where the nodegroup is protected, the engine refuses the
// replacement.
func TestReplacementGuard_replacingChangesAreSeenAndProdRefusesThem(t *testing.T) {
	t.Parallel()
	b := shared(t).fork(t)
	dev := b.stack("dev", stacks.Run)
	file := filepath.Join(dev.dir, "Pulumi.dev.yaml")
	original, err := os.ReadFile(file)
	require.NoError(t, err)

	dev.set("vpcCidr", "10.99.0.0/16")
	ops := dev.preview().ops()
	assert.Equal(t, apitype.OpReplace, ops[urn("dev", "platform:infra:Network$aws:ec2/vpc:Vpc", "network-vpc")])
	assert.Equal(t, apitype.OpReplace, ops[urn("dev", "platform:infra:Network$aws:ec2/subnet:Subnet", "network-private-us-east-1a")])

	nodegroup := urn("dev", "platform:infra:NodeGroup$aws:eks/nodeGroup:NodeGroup", "nodes")
	for _, kv := range [][2]string{{"nodeInstanceTypes[0]", "m6i.xlarge"}, {"nodeCapacityType", "SPOT"}} {
		require.NoError(t, os.WriteFile(file, original, 0o600))
		dev.set(kv[0], kv[1])
		ops = dev.preview().ops()
		assert.Equal(t, apitype.OpReplace, ops[nodegroup], kv[0])
		for u, op := range ops {
			if isGuarded(u) && u != nodegroup {
				assert.NotContainsf(t, destructive, op, "%s: %s would %s", kv[0], u, op)
			}
		}
	}

	prod := b.stack("prod", stacks.Run)
	prod.set("nodeInstanceTypes[0]", "m6i.xlarge")
	r := prod.preview(optpreview.Diff())
	require.Error(t, r.err, "prod refuses to replace its protected nodegroup")
	assert.Regexp(t, regexp.MustCompile(`(?s)unable to replace resource .*nodes.*protect`), r.stdout+r.err.Error())
}
