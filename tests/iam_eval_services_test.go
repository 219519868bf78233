package tests

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
)

// TestIAMEvaluation_servicesStayInsideTheirTenancy: on a two-service plan of dev and prod, through the IAM
// evaluation engine, the deploy role keeps its whole table (with every service's repository its stack's own), each
// push role pushes to its own repository and not the other tenant's, each Pod Identity role admits its own
// ServiceAccount and not the other tenant's, and a service role holds its statements under its own boundary.
func TestIAMEvaluation_servicesStayInsideTheirTenancy(t *testing.T) {
	t.Parallel()
	var sims []iamSimulation
	var rows []iamRequest
	var documents []json.RawMessage
	add := func(row iamRequest, sim iamSimulation) {
		rows = append(rows, row)
		sim.ID, sim.Action, sim.Resource, sim.Account = row.why, row.action, row.resource, plan.Account
		if sim.Context == nil {
			sim.Context = row.context
		}
		sims = append(sims, sim)
	}
	for _, stack := range stackNames {
		cfg := withServices(deployConfig(t, stack), tenants...)
		r := runStack(t, stack, cfg).ok()
		documents = append(documents, iamDocuments(r)...)
		w := stackWorld(stack, tenants[0].name)
		role := w.role
		keyPolicy := json.RawMessage(r.one("aws:kms/key:Key", "cluster-logs-key").Str("policy"))

		// The deploy role: its whole table, plus every service's repository and nothing beside the stack's.
		deploy := []json.RawMessage{graphPolicy(t, r, "aws:iam/rolePolicy:RolePolicy", "deploy-deploy-policy", "policy"),
			json.RawMessage(r.one("aws:iam/policy:Policy", "deploy-deploy-guardrails").Str("policy"))}
		table := deployRoleTable(w, stack == "prod")
		billingRepo := w.arn("ecr", "repository/"+stack+"/billing")
		table = append(table,
			iamRequest{"the second service's repository", "ecr:CreateRepository", billingRepo, w.create(), true},
			iamRequest{"its lifecycle", "ecr:PutLifecyclePolicy", billingRepo, nil, true},
			iamRequest{"a repository of another stack's prefix", "ecr:PutLifecyclePolicy", w.arn("ecr", "repository/staging/billing"), nil, false},
			iamRequest{"a repository outside any prefix", "ecr:CreateRepository", w.arn("ecr", "repository/billing"), w.create(), false},
		)
		for _, row := range table {
			row.why = stack + "/services/deploy: " + row.why
			sim := iamSimulation{Principal: role("deploy-deploy-role"), Identity: deploy}
			if strings.HasPrefix(row.action, "kms:") && row.resource != "*" {
				sim.ResourcePolicy = keyPolicy
			}
			add(row, sim)
		}

		boundary := graphPolicy(t, r, "aws:iam/policy:Policy", "roles-policy", "policy")
		for i, tn := range tenants {
			other := tenants[1-i]
			own, theirs := w.arn("ecr", "repository/"+stack+"/"+tn.name), w.arn("ecr", "repository/"+stack+"/"+other.name)
			push := []json.RawMessage{graphPolicy(t, r, "aws:iam/rolePolicy:RolePolicy", tn.name+"-push-policy", "policy")}
			arn := role(tn.name + "-push-role")
			for _, row := range []iamRequest{
				{"registry login", "ecr:GetAuthorizationToken", "*", nil, true},
				{"a layer upload to its repository", "ecr:InitiateLayerUpload", own, nil, true},
				{"an image to its repository", "ecr:PutImage", own, nil, true},
				{"an image to the other tenant's repository", "ecr:PutImage", theirs, nil, false},
				{"a layer upload to the other tenant's", "ecr:InitiateLayerUpload", theirs, nil, false},
				{"the other tenant's images", "ecr:BatchGetImage", theirs, nil, false},
				{"the other tenant's role", "sts:AssumeRole", role(other.name + "-push-role"), nil, false},
			} {
				row.why = stack + "/" + tn.name + " push role: " + row.why
				add(row, iamSimulation{Principal: arn, Identity: push, Boundary: []json.RawMessage{boundary},
					Context: map[string]any{"aws:PrincipalArn": arn}})
			}
			if !tn.identity {
				continue
			}
			// Its Pod Identity role: its statements under its own boundary, for its own ServiceAccount.
			identity := role(tn.name + "-identity-role")
			policy := []json.RawMessage{graphPolicy(t, r, "aws:iam/rolePolicy:RolePolicy", tn.name+"-identity-policy", "policy")}
			ownBoundary := graphPolicy(t, r, "aws:iam/policy:Policy", tn.name+"-roles-policy", "policy")
			for _, row := range []iamRequest{
				{"what its statements grant", "s3:GetObject", "arn:aws:s3:::acme-assets/report.csv", nil, true},
				{"another bucket", "s3:GetObject", "arn:aws:s3:::billing-ledgers/2026.csv", nil, false},
				{"the other tenant's repository", "ecr:BatchGetImage", theirs, nil, false},
				{"the stack's deploy role", "sts:AssumeRole", role("deploy-deploy-role"), nil, false},
			} {
				row.why = stack + "/" + tn.name + " role: " + row.why
				add(row, iamSimulation{Principal: identity, Identity: policy, Boundary: []json.RawMessage{ownBoundary},
					Context: map[string]any{"aws:PrincipalArn": identity}})
			}
			trust := graphPolicy(t, r, "aws:iam/role:Role", tn.name+"-identity-role", "assumeRolePolicy")
			clusterARN := w.arn("eks", "cluster/"+w.cluster)

			for _, row := range []iamRequest{
				{"its pods", "sts:AssumeRole", identity, podSession(clusterARN, tn.name, tn.name), true},
				{"their session tags", "sts:TagSession", identity, podSession(clusterARN, tn.name, tn.name), true},
				{"the other tenant's pods", "sts:AssumeRole", identity, podSession(clusterARN, other.name, other.name), false},
				{"its ServiceAccount's name in the other tenant's namespace", "sts:AssumeRole", identity, podSession(clusterARN, other.name, tn.name), false},
				{"the other tenant's ServiceAccount name in its namespace", "sts:AssumeRole", identity, podSession(clusterARN, tn.name, other.name), false},
			} {
				row.why = stack + "/" + tn.name + " role trust: " + row.why
				add(row, iamSimulation{Principal: infra.PodIdentityPrincipal, ResourcePolicy: trust})
			}
		}
	}
	assertDecisions(t, rows, iamEvaluate(t, sims, documents))
}
