package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-eks/sdk/v2/go/eks"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
	"github.com/example/eks-gitops-platform/tests/engine/standin"
)

// prodEgress is what the README's prod steps put in endpointPublicAccessCidrs in place of the placeholder.
const prodEgress = "93.184.216.0/24"

// prodStack is the fixture prod stack after the README's prod steps.
func prodStack(b *backend) *engineStack {
	s := b.platform("prod", fixtures)
	s.set("endpointPublicAccessCidrs[0]", prodEgress)
	return s
}

// deployable is a fixture stack ready for `up`: prod with a real egress range in place of its placeholder.
func deployable(b *backend, stack string) *engineStack {
	if stack == "prod" {
		return prodStack(b)
	}
	return b.platform(stack, fixtures)
}

// TestUp_contractOutputsAreReadBackWithTheCLIAndKubeconfigIsSecret: what the service's CI and a user's shell
// read with `pulumi stack output`.
func TestUp_contractOutputsAreReadBackWithTheCLIAndKubeconfigIsSecret(t *testing.T) {
	for _, stack := range []string{"dev", "prod"} {
		t.Run(stack, func(t *testing.T) {
			b := newBackend(t)
			s := deployable(b, stack)
			s.mustUp()
			out, err := s.pulumi("stack", "output", "--json")
			require.NoError(t, err, out)
			var outputs map[string]any
			require.NoError(t, json.Unmarshal([]byte(out), &outputs), out)
			for _, name := range []string{stacks.OutputVPCID, stacks.OutputPrivateSubnetIDs, stacks.OutputPublicSubnetIDs,
				stacks.OutputClusterName, stacks.OutputKubeconfig, stacks.OutputECRRepositoryURL, stacks.OutputGitHubActionsRoleARN,
				stacks.OutputArgoCDNamespace, stacks.OutputServiceNamespace} {
				assert.Containsf(t, outputs, name, "contract output %s", name)
			}
			assert.Equal(t, "[secret]", outputs[stacks.OutputKubeconfig], "the CLI masks the kubeconfig")
			assert.Equal(t, project+"-"+stack, outputs[stacks.OutputClusterName])
			assert.Equal(t, standin.Account+".dkr.ecr.us-east-1.amazonaws.com/"+stack+"/your-service", outputs[stacks.OutputECRRepositoryURL])
			kc, err := s.pulumi("stack", "output", stacks.OutputKubeconfig, "--show-secrets")
			require.NoError(t, err, kc)
			assert.Contains(t, kc, `"get-token"`, "the kubeconfig authenticates with aws eks get-token")
			assert.Contains(t, kc, `"`+project+"-"+stack+`"`)
		})
	}
}

// TestUp_stateHoldsNoSecretInPlaintext reads the checkpoint file the local backend writes: the API key, the
// repository token and the kubeconfig (which pulumi-eks itself returns in plain text, and hands to two
// Kubernetes providers of its own) appear only encrypted.
func TestUp_stateHoldsNoSecretInPlaintext(t *testing.T) {
	s := newBackend(t).platform("dev", fixtures)
	s.setSecret("appRepoToken", testRepoToken)
	s.mustUp()
	state := string(s.state())
	require.Contains(t, state, "ciphertext", "secrets are in the state, encrypted")
	for what, plain := range map[string]string{
		"the API key": testAPIKey, "the repository token": testRepoToken,
		"the kubeconfig's exec command": "get-token", "the kubeconfig's certificate": "certificate-authority-data",
		"the cluster endpoint": ".gr7.us-east-1.eks.amazonaws.com",
	} {
		assert.NotContainsf(t, state, plain, "the state holds %s in plain text", what)
	}
}

// TestUp_everyRoleLivesUnderTheStackPathAndCarriesTheBoundary: every IAM role in the state after `up`,
// pulumi-eks's children included, is under /<project>/<stack>/ and capped by the stack's boundary, but the deploy
// role, which manages them.
func TestUp_everyRoleLivesUnderTheStackPathAndCarriesTheBoundary(t *testing.T) {
	s := newBackend(t).platform("dev", fixtures)
	s.set("pulumiOrganization", "acme")
	// An infrastructure repository on an unprotected stack adds the pull-request preview role.
	s.set("infraRepository", "acme/platform-infra")
	s.set("infraRepositoryOwnerId", "300000003")
	s.set("infraRepositoryId", "400000004")
	s.mustUp()
	var roles int
	for _, r := range s.resources() {
		if r.Type != "aws:iam/role:Role" {
			continue
		}
		roles++
		assert.Equalf(t, "/"+project+"/dev/", r.Outputs["path"], "%s lives under the stack's path", r.URN)
		if strings.Contains(string(r.URN), "deploy-deploy-role") {
			continue
		}
		assert.Containsf(t, r.Outputs["permissionsBoundary"], ":policy/"+project+"/dev/roles-policy-", "%s carries the boundary", r.URN)
	}
	assert.Equal(t, 7, roles, "flow logs, push, cluster service, node, autoscaler, deploy and preview roles; none from pulumi-eks")
}

// TestStandin_pulumiEKSWithoutAnInstanceRoleMakesARoleOutsideTheRules shows how the rule above is known to
// cover pulumi-eks: its stand-in follows v2.8.1's source, which creates its own instance role (path "/", no
// boundary) when the program passes none, and the state then holds that role.
func TestStandin_pulumiEKSWithoutAnInstanceRoleMakesARoleOutsideTheRules(t *testing.T) {
	b := newBackend(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte("name: standin-check\nruntime: go\n"), 0o600))
	s := b.newStack("dev", dir, func(ctx *pulumi.Context) error {
		role, err := iam.NewRole(ctx, "service", &iam.RoleArgs{AssumeRolePolicy: pulumi.String(`{}`)})
		if err != nil {
			return err
		}
		_, err = eks.NewCluster(ctx, "c", &eks.ClusterArgs{
			Name: pulumi.String("c"), ServiceRole: role, SkipDefaultNodeGroup: pulumi.BoolRef(true), VpcId: pulumi.String("vpc-1"),
			PrivateSubnetIds: pulumi.ToStringArray([]string{"subnet-1"}), PublicSubnetIds: pulumi.ToStringArray([]string{"subnet-2"}),
			AuthenticationMode: authAPI(),
		})
		return err
	})
	s.mustUp()
	var found bool
	for _, r := range s.resources() {
		if r.Type == "aws:iam/role:Role" && strings.HasSuffix(string(r.URN), "c-instanceRole-role") {
			found = true
			assert.Nil(t, r.Outputs["path"], "pulumi-eks's own role has no path")
			assert.Nil(t, r.Outputs["permissionsBoundary"], "and no boundary")
		}
		if r.Type == "aws:eks/accessEntry:AccessEntry" {
			assert.Equal(t, "EC2_LINUX", r.Inputs["type"])
		}
	}
	assert.True(t, found, "pulumi-eks v2.8.1 creates its own instance role when none is passed")
}

func authAPI() *eks.AuthenticationMode { m := eks.AuthenticationModeApi; return &m }

// TestStandin_pulumiEKSChildrenAreWhatThePlanCommandCounts: the offline plan names what it cannot see.
func TestStandin_pulumiEKSChildrenAreWhatThePlanCommandCounts(t *testing.T) {
	s := newBackend(t).platform("dev", fixtures)
	s.mustUp()
	var children int
	for _, r := range s.resources() {
		if strings.Contains(string(r.URN), "eks:index:Cluster$") && r.Custom {
			children++
		}
	}
	assert.Equal(t, plan.EKSClusterChildren, children)
}

// TestRefresh_rightAfterUpChangesNothing: a refresh reads every resource back and finds nothing to change, and
// the next preview plans no change either.
func TestRefresh_rightAfterUpChangesNothing(t *testing.T) {
	s := newBackend(t).platform("dev", fixtures)
	s.mustUp()
	s.journal().Reset()
	r := s.refresh()
	require.NoError(t, r.err, r.stdout)
	assert.NotEmpty(t, s.journal().Of(standin.OpRead), "the refresh read the resources back")
	for urn, op := range r.ops() {
		assert.Containsf(t, []apitype.OpType{apitype.OpSame, apitype.OpRefresh}, op, "%s: %s after a refresh", urn, op)
	}
	for _, e := range s.journal().Entries() {
		assert.Equalf(t, standin.OpRead, e.Op, "%s %s during a refresh", e.Op, e.URN)
	}
	p := s.preview()
	require.NoError(t, p.err, p.stdout)
	for urn, op := range p.ops() {
		assert.Equalf(t, apitype.OpSame, op, "%s: %s after a refresh", urn, op)
	}
}

// deleted returns the resources deleted in a journal, in order, by URN.
func deleted(j *standin.Journal) []resource.URN {
	var out []resource.URN
	for _, e := range j.Of(standin.OpDelete) {
		out = append(out, e.URN)
	}
	return out
}

func seqOf(j *standin.Journal, op standin.Op, match func(resource.URN) bool) (first, last int) {
	for _, e := range j.Of(op) {
		if match(e.URN) {
			if first == 0 {
				first = e.Seq
			}
			last = e.Seq
		}
	}
	return first, last
}

func isType(types ...string) func(resource.URN) bool {
	return func(u resource.URN) bool { return slices.Contains(types, string(u.Type())) }
}

func isKubernetes(u resource.URN) bool { return strings.HasPrefix(string(u.Type()), "kubernetes:") }

var networkTypes = []string{
	"aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/natGateway:NatGateway",
	"aws:ec2/eip:Eip", "aws:ec2/routeTable:RouteTable", "aws:ec2/routeTableAssociation:RouteTableAssociation",
}

// TestDestroy_devRemovesEverythingInAnOrderThatLeavesNothingBehind: dev is destroyed completely. The Kubernetes
// objects go before the nodes (the Application's finalizer needs Argo CD and nodes to delete the workloads and
// their load balancers), the nodes before the cluster, and the network after all of them (a load balancer or
// node left in the VPC blocks its deletion). The account-wide OIDC issuers are retained, not deleted.
func TestDestroy_devRemovesEverythingInAnOrderThatLeavesNothingBehind(t *testing.T) {
	s := newBackend(t).platform("dev", fixtures)
	s.setSecret("appRepoToken", testRepoToken)
	s.set("pulumiOrganization", "acme")
	s.mustUp()
	created := s.journal().Of(standin.OpCreate)
	s.journal().Reset()
	r := s.destroy()
	require.NoError(t, r.err, r.stdout)
	assert.Empty(t, s.resources(), "nothing is left in the state")

	j := s.journal()
	gone := deleted(j)
	for _, c := range created {
		retained := c.Type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider" && !strings.Contains(c.Name, "eks-oidcProvider")
		if retained {
			assert.NotContainsf(t, gone, c.URN, "%s is the account's shared issuer: retained, never deleted", c.Name)
			continue
		}
		assert.Containsf(t, gone, c.URN, "%s was deleted", c.Name)
	}

	_, lastK8s := seqOf(j, standin.OpDelete, isKubernetes)
	nodes, _ := seqOf(j, standin.OpDelete, isType("aws:eks/nodeGroup:NodeGroup"))
	cluster, _ := seqOf(j, standin.OpDelete, isType("aws:eks/cluster:Cluster"))
	firstNetwork, _ := seqOf(j, standin.OpDelete, isType(networkTypes...))
	vpc, _ := seqOf(j, standin.OpDelete, isType("aws:ec2/vpc:Vpc"))
	_, lastAny := seqOf(j, standin.OpDelete, func(resource.URN) bool { return true })
	require.NotZero(t, lastK8s)
	assert.Less(t, lastK8s, nodes, "every Kubernetes object goes before the nodes")
	assert.Less(t, nodes, cluster, "the nodes go before the cluster")
	assert.Less(t, nodes, firstNetwork, "the network outlives the nodes")
	assert.Less(t, cluster, vpc, "the VPC outlives the cluster")
	_, lastNetwork := seqOf(j, standin.OpDelete, isType(networkTypes...))
	for _, e := range j.Of(standin.OpDelete) {
		if !isType(networkTypes...)(e.URN) && !isType("aws:ec2/flowLog:FlowLog", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
			"aws:ec2/securityGroup:SecurityGroup", "aws:ec2/securityGroupRule:SecurityGroupRule")(e.URN) &&
			(strings.HasPrefix(string(e.Type), "aws:eks") || isKubernetes(e.URN)) {
			assert.Lessf(t, e.Seq, lastNetwork, "%s goes before the network", e.Name)
		}
	}
	assert.Equal(t, vpc, lastAny-countAfter(j, vpc), "the VPC is among the last deletes")
}

// countAfter is how many deletes came after seq.
func countAfter(j *standin.Journal, seq int) int {
	n := 0
	for _, e := range j.Of(standin.OpDelete) {
		if e.Seq > seq {
			n++
		}
	}
	return n
}

// TestDestroy_prodStopsAtItsProtectionWithoutTakingTheServiceDown: the engine deletes whatever it can before
// it refuses a protected resource; in prod everything is protected but what follows its configuration, so the
// destroy fails having deleted nothing that serves traffic (nothing at all).
func TestDestroy_prodStopsAtItsProtectionWithoutTakingTheServiceDown(t *testing.T) {
	b := newBackend(t)
	s := prodStack(b)
	s.set("pulumiOrganization", "acme")
	s.set("clusterAdminArns[0]", "arn:aws:iam::111122223333:role/oncall")
	s.setSecret("appRepoToken", testRepoToken)
	s.mustUp()
	before := urns(s.resources())
	s.journal().Reset()
	r := s.destroy()
	require.Error(t, r.err, "a prod destroy fails")
	assert.Contains(t, r.stdout+r.err.Error(), "protected")
	assert.Empty(t, deleted(s.journal()), "nothing was deleted, so nothing that serves traffic")
	after := urns(s.resources())
	for _, u := range before {
		if !strings.Contains(u, "::pulumi:providers:") { // an unused default provider exists in the state only
			assert.Containsf(t, after, u, "%s is still in the state", u)
		}
	}
}

func urns(rs []apitype.ResourceV3) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.URN))
	}
	slices.Sort(out)
	return out
}

// TestUp_prodAsShippedRefusesThePlaceholderBeforeBuildingAnything: previews (and the offline plan) of the shipped
// prod file run, with a warning; `pulumi up` refuses its documentation-range endpoint placeholder before it
// creates anything, instead of failing at the first Kubernetes object after building the AWS half.
func TestUp_prodAsShippedRefusesThePlaceholderBeforeBuildingAnything(t *testing.T) {
	s := newBackend(t).platform("prod", fixtures)
	p := s.preview()
	require.NoError(t, p.err, p.stdout)
	assert.Contains(t, p.stdout, "203.0.113.0/24 is a documentation range (RFC 5737)")
	r := s.up()
	require.Error(t, r.err)
	assert.Contains(t, r.stdout, "endpointPublicAccessCidrs: 203.0.113.0/24 is a documentation range (RFC 5737) that no machine has")
	assert.Empty(t, s.journal().Of(standin.OpCreate), "nothing was created")
}
