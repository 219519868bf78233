package tests

// A platform of several services: each a tenant of the one cluster, with its own resources, and isolated from the
// others by construction.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/internal/plan"
	"github.com/example/eks-gitops-platform/stacks"
)

// tenant is one service of the two-service fixture.
type tenant struct {
	name, repository, ownerID, repositoryID, apiKey string
	identity                                        bool           // has iamStatements
	quota                                           map[string]any // its quota entry, if any
	ingressFrom                                     []any          // the services that call it
}

var tenants = []tenant{
	{name: "shop", repository: "acme/shop", ownerID: "61000001", repositoryID: "62000002", apiKey: "shop-key-1", identity: true},
	{name: "billing", repository: "acme/billing", ownerID: "61000001", repositoryID: "62000003", apiKey: "billing-key-2",
		quota: map[string]any{"cpu": "1", "memory": "2Gi", "pods": 10}, ingressFrom: []any{"shop"}}, // shop calls billing
}

// serviceEntry is the services entry of a tenant, as a stack file holds it.
func (tn tenant) entry() map[string]any {
	e := map[string]any{
		"name": tn.name, "githubRepository": tn.repository, "githubOwnerId": tn.ownerID, "githubRepositoryId": tn.repositoryID,
		"appRepoUrl": "https://github.com/" + tn.repository + ".git",
	}
	if tn.identity {
		e["iamStatements"] = serviceStatements
	}
	if tn.quota != nil {
		e["quota"] = tn.quota
	}
	if tn.ingressFrom != nil {
		e["ingressFrom"] = tn.ingressFrom
	}
	return e
}

// withServices turns a fixture stack into one that lists the tenants: the single-service keys unset (their
// defaults stay, as the CLI applies Pulumi.yaml's), each tenant's API key its own secret.
func withServices(cfg stackConfig, ts ...tenant) stackConfig {
	for _, k := range []string{"serviceName", "githubRepository", "githubOwnerId", "githubRepositoryId", "appRepoUrl",
		"appTargetRevision", "githubAllowedSubjects", "apiKey"} {
		cfg.Set(k, nil)
	}
	cfg.Unsecret("apiKey")
	var entries []any
	for _, tn := range ts {
		entries = append(entries, tn.entry())
		cfg.SetSecret(tn.name+"ApiKey", tn.apiKey)
	}
	cfg.Set("services", entries)
	return cfg
}

// TestServices_eachTenantHasItsOwnAndReachesNoOther: two services on dev and prod; each has its repository, push
// role, namespace with quota, limits and isolation, project, Application and API key, and none of them reaches the
// other's: the project admits its own repository and namespace and no cluster-scoped kind, the push role its own
// repository, the Pod Identity role its own ServiceAccount, the NetworkPolicy its own pods (and those it names).
func TestServices_eachTenantHasItsOwnAndReachesNoOther(t *testing.T) {
	t.Parallel()
	for _, stack := range stackNames {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			r := runStack(t, stack, withServices(fixtureConfig(t, stack), tenants...)).ok()
			protect := stack == "prod"

			// None of the single service's resources; Argo CD once, isolated; the VPC CNI enforces policies.
			for _, rec := range r.records {
				assert.NotContainsf(t, []string{"registry", "github-push-role", "gitops-service-ns", "gitops-application"}, rec.Name,
					"%s %s belongs to the single-service layout", rec.Type, rec.Name)
			}
			argocd := 0
			for _, rel := range r.all("kubernetes:helm.sh/v3:Release") {
				if rel.Str("chart") == infra.ArgoCDChart {
					argocd++
				}
			}
			assert.Equal(t, 1, argocd, "one Argo CD for every service")
			argoPolicy := r.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", "gitops-argocd-isolation")
			assert.Equal(t, infra.ArgoCDNamespace, argoPolicy.Str("metadata.namespace"))
			assert.Equal(t, []any{map[string]any{"from": []any{map[string]any{"podSelector": map[string]any{}}}}}, argoPolicy.In("spec.ingress"),
				"only Argo CD's own pods reach Argo CD")
			// No Service anywhere may take external IPs (CVE-2020-8554).
			vap := r.one("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", "gitops-deny-external-ips")
			assert.Equal(t, "Fail", vap.Str("spec.failurePolicy"))
			assert.Contains(t, fmt.Sprint(vap.In("spec.validations")), "!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0")
			assert.Contains(t, fmt.Sprint(vap.In("spec.matchConstraints")), "services")
			binding := r.one("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding", "gitops-deny-external-ips")
			assert.Equal(t, []any{"Deny"}, binding.In("spec.validationActions"))
			assert.Equal(t, infra.DenyExternalIPsPolicy, binding.Str("spec.policyName"))
			cni := r.one("aws:eks/addon:Addon", "cluster-vpc-cni")
			assert.JSONEq(t, `{"enableNetworkPolicy":"true"}`, cni.Str("configurationValues"), "NetworkPolicies are enforced")

			for i, tn := range tenants {
				other := tenants[1-i]
				component := r.one(infra.ServiceType, tn.name)
				assert.Equal(t, protect, component.Protect)
				repo := r.one("aws:ecr/repository:Repository", tn.name+"-registry-repo")
				assert.Equal(t, stack+"/"+tn.name, repo.Str("name"))
				assert.Equal(t, "IMMUTABLE", repo.Str("imageTagMutability"))

				// The push role trusts its repository's workflows alone and pushes to its repository alone.
				push := r.one("aws:iam/role:Role", tn.name+"-push-role")
				trust := push.Str("assumeRolePolicy")
				assert.Contains(t, trust, "repo:acme@"+tn.ownerID+"/"+strings.TrimPrefix(tn.repository, "acme/")+"@"+tn.repositoryID+":ref:refs/heads/main")
				assert.NotContains(t, trust, other.repositoryID, "trusts only its own repository")
				assert.Equal(t, "/"+projectName+"/"+stack+"/", push.Str("path"))
				assert.NotEmpty(t, push.Str("permissionsBoundary"), "under the stack's boundary")
				pushPolicy := r.one("aws:iam/rolePolicy:RolePolicy", tn.name+"-push-policy").Str("policy")
				assert.Contains(t, pushPolicy, "repository/"+stack+"/"+tn.name+`"`)
				assert.NotContains(t, pushPolicy, "repository/"+stack+"/"+other.name)

				// The namespace: Pod Security, quota, limits and isolation, before Argo CD deploys anything.
				ns := r.one("kubernetes:core/v1:Namespace", tn.name+"-service-ns")
				assert.Equal(t, tn.name, ns.Str("metadata.name"))
				labels, _ := ns.In("metadata.labels").(map[string]any)
				assert.Equal(t, "baseline", labels["pod-security.kubernetes.io/enforce"])
				quota := r.one("kubernetes:core/v1:ResourceQuota", tn.name+"-quota")
				limits := r.one("kubernetes:core/v1:LimitRange", tn.name+"-limits")
				isolation := r.one("kubernetes:networking.k8s.io/v1:NetworkPolicy", tn.name+"-isolation")
				for _, rec := range []*record{quota, limits, isolation} {
					assert.Equalf(t, tn.name, rec.Str("metadata.namespace"), "%s in the tenant's namespace", rec.Name)
					assert.Truef(t, r.dependsOn(rec, ns), "%s waits for the namespace", rec.Name)
				}
				hard := quota.In("spec.hard").(map[string]any)
				wantCPU, wantMemory, wantPods := "2", "4Gi", "16"
				if tn.name == "billing" {
					wantCPU, wantMemory, wantPods = "1", "2Gi", "10"
				}
				assert.Equal(t, map[string]any{"requests.cpu": wantCPU, "requests.memory": wantMemory, "limits.memory": wantMemory,
					"pods": wantPods, "services.loadbalancers": "0", "services.nodeports": "0"}, hard,
					"quota from the entry, defaults where it is silent; no load balancer, so no node port either")
				assert.Equal(t, []any{map[string]any{"type": "Container",
					"defaultRequest": map[string]any{"cpu": "100m", "memory": "128Mi"}, "default": map[string]any{"memory": "256Mi"}}},
					limits.In("spec.limits"), "every container gets requests and a memory limit, which the quota needs")
				assert.Equal(t, map[string]any{}, isolation.In("spec.podSelector"), "every pod of the namespace")
				assert.Equal(t, []any{"Ingress"}, isolation.In("spec.policyTypes"))
				from := []any{map[string]any{"podSelector": map[string]any{}}}
				if tn.name == "billing" {
					from = append(from, map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{infra.NamespaceNameLabel: "shop"}}})
				}
				assert.Equal(t, []any{map[string]any{"from": from}}, isolation.In("spec.ingress"), "its own pods, and only the callers it names")

				// Argo CD: its own project, its own repository and namespace, no cluster-scoped kind, and the
				// platform's objects out of the chart's reach.
				project := r.one("kubernetes:argoproj.io/v1alpha1:AppProject", tn.name+"-project")
				assert.Equal(t, tn.name, project.Str("metadata.name"))
				assert.Equal(t, []any{"https://github.com/" + tn.repository + ".git"}, project.In("spec.sourceRepos"))
				assert.Equal(t, []any{map[string]any{"server": infra.InClusterServer, "namespace": tn.name}}, project.In("spec.destinations"))
				assert.Equal(t, []any{}, project.In("spec.clusterResourceWhitelist"))
				blacklist := fmt.Sprint(project.In("spec.namespaceResourceBlacklist"))
				for _, kind := range []string{"ResourceQuota", "LimitRange", "networking.k8s.io kind:NetworkPolicy",
					"networking.k8s.aws kind:*", "rbac.authorization.k8s.io kind:Role]", "rbac.authorization.k8s.io kind:RoleBinding"} {
					assert.Containsf(t, blacklist, kind, "the chart may not write a %s", kind)
				}
				app := r.one("kubernetes:argoproj.io/v1alpha1:Application", tn.name+"-application")
				assert.Equal(t, tn.name, app.Str("spec.project"))
				assert.Equal(t, tn.name, app.Str("spec.destination.namespace"))
				assert.Equal(t, "https://github.com/"+tn.repository+".git", app.Str("spec.source.repoURL"))
				assert.Equal(t, "helm/"+tn.name, app.Str("spec.source.path"))
				assert.Equal(t, map[string]any{"prune": true, "selfHeal": true}, app.In("spec.syncPolicy.automated"))
				for _, rec := range []*record{quota, limits, isolation, project} {
					assert.Truef(t, r.dependsOn(app, rec), "the Application waits for %s", rec.Name)
				}

				// Its API key is its own secret, in its own namespace.
				secret := r.one("kubernetes:core/v1:Secret", tn.name+"-api-key")
				assert.Equal(t, tn.name, secret.Str("metadata.namespace"))
				assert.Equal(t, tn.apiKey, secret.Str("stringData."+infra.APIKeySecretKey))
				assert.True(t, secret.SecretAt("stringData."+infra.APIKeySecretKey), "stored encrypted")

				// Its own AWS role, for its own ServiceAccount, under its own boundary; none without statements.
				identity := r.all(infra.WorkloadIdentityType)
				names := []string{}
				for _, rec := range identity {
					names = append(names, rec.Name)
				}
				if tn.identity {
					role := r.one("aws:iam/role:Role", tn.name+"-identity-role")
					assert.Contains(t, role.Str("assumeRolePolicy"), `"aws:RequestTag/kubernetes-namespace":["`+tn.name+`"]`)
					assert.Contains(t, role.Str("assumeRolePolicy"), `"aws:RequestTag/kubernetes-service-account":["`+tn.name+`"]`)
					boundary := r.one("aws:iam/policy:Policy", tn.name+"-roles-policy")
					assert.Equal(t, []string{boundary.URN}, role.PropertyDeps["permissionsBoundary"], "under its own boundary")
					assert.True(t, r.dependsOn(app, r.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", tn.name+"-identity-association")),
						"pods start after their association")
					assert.Contains(t, names, tn.name+"-identity")
				} else {
					assert.NotContains(t, names, tn.name+"-identity", "no statements, no role")
				}

				// Every resource of the tenant is protected in prod, but the repository credentials (none here).
				for _, child := range infra.ServiceProtectedChildren(tn.name, tn.identity) {
					urn := "urn:pulumi:" + stack + "::" + projectName + "::" + infra.ServiceType + "$" + child[0] + "::" + child[1]
					rec := r.byURN(urn)
					if assert.NotNilf(t, rec, "%s is registered where the unprotect commands say", urn) {
						assert.Equalf(t, protect, rec.Protect, "%s protected with the stack", urn)
					}
				}
			}
			services := r.outputs["services"]
			require.NotNil(t, services.Value, "the services output")
			out, _ := json.Marshal(services.Value)
			for _, tn := range tenants {
				assert.Contains(t, string(out), `"`+tn.name+`":`)
			}
			for _, single := range []string{"ecrRepositoryUrl", "githubActionsRoleArn", "serviceNamespace", "serviceRoleArn"} {
				assert.NotContainsf(t, r.outputs, single, "%s is per service: in the services output", single)
			}
		})
	}
}

// TestServices_childrenListIsComplete: the unprotect commands name every protected resource of a Service, so a
// prod removal that follows them leaves nothing protected behind.
func TestServices_childrenListIsComplete(t *testing.T) {
	t.Parallel()
	r := runStack(t, "prod", withServices(fixtureConfig(t, "prod"), tenants...)).ok()
	for _, tn := range tenants {
		prefix := "urn:pulumi:prod::" + projectName + "::" + infra.ServiceType + "$"
		var registered []string
		for _, rec := range r.records {
			if strings.HasPrefix(rec.URN, prefix) && rec.Protect && under(r, rec, tn.name) {
				registered = append(registered, rec.URN)
			}
		}
		var listed []string
		for _, child := range infra.ServiceProtectedChildren(tn.name, tn.identity) {
			listed = append(listed, prefix+child[0]+"::"+child[1])
		}
		slices.Sort(registered)
		slices.Sort(listed)
		assert.Equal(t, listed, registered, "%s: the protected children are the ones the unprotect commands name", tn.name)
	}
}

// under reports whether rec descends from the Service component of that name.
func under(r *run, rec *record, service string) bool {
	for p := rec.Parent; p != ""; {
		parent := r.byURN(p)
		if parent == nil {
			return false
		}
		if parent.Type == infra.ServiceType {
			return parent.Name == service
		}
		p = parent.Parent
	}
	return false
}

// TestServices_entriesAreKeyedByName: reordering services changes nothing, and adding one leaves every resource
// of the others as it was (the real-engine test shows the engine's view of the same).
func TestServices_entriesAreKeyedByName(t *testing.T) {
	t.Parallel()
	inputs := func(r *run) map[string]string {
		out := map[string]string{}
		for _, rec := range r.records {
			b, _ := json.Marshal(plan.Redacted(rec.Inputs))
			out[rec.URN] = string(b)
		}
		return out
	}
	both := inputs(runStack(t, "dev", withServices(fixtureConfig(t, "dev"), tenants...)).ok())
	reordered := inputs(runStack(t, "dev", withServices(fixtureConfig(t, "dev"), tenants[1], tenants[0])).ok())
	assert.Equal(t, both, reordered, "the order of the entries is not part of any resource")

	one := inputs(runStack(t, "dev", withServices(fixtureConfig(t, "dev"), tenants[0])).ok())
	for urn, in := range one {
		assert.Equalf(t, in, both[urn], "%s: unchanged when billing is added", urn)
	}
	added := 0
	for urn := range both {
		if _, ok := one[urn]; !ok {
			added++
			assert.Truef(t, strings.Contains(urn, "::billing"), "%s: only billing's resources are new", urn)
		}
	}
	assert.Positive(t, added)
}

// TestServices_badEntriesAreRefusedTogetherBeforeAnyResource: every problem of the list, each naming its entry and
// key, at once, and nothing registered.
func TestServices_badEntriesAreRefusedTogetherBeforeAnyResource(t *testing.T) {
	t.Parallel()
	cfg := withServices(fixtureConfig(t, "dev"), tenants...)
	cfg.Set("githubRepository", "acme/shop") // a single-service key beside the list
	cfg.Set("services", []any{
		tenants[0].entry(),
		map[string]any{"name": "shop", "githubRepository": "acme/shop", "githubOwnerId": "61000001", "githubRepositoryId": "62000002",
			"appRepoUrl": "https://github.com/acme/shop2.git"},
		map[string]any{"name": "kube-tools", "githubRepository": "acme/tools", "githubOwnerId": "61000001", "githubRepositoryId": "62000009",
			"appRepoUrl": "git@github.com:acme/tools.git", "quota": map[string]any{"cpu": "two", "memory": "64Mi", "pods": 0},
			"ingressFrom": []any{"payments"}, "color": "blue"},
		map[string]any{"name": "github", "githubRepository": "acme/gh", "githubOwnerId": "61000001", "githubRepositoryId": "62000011",
			"appRepoUrl": "https://github.com/acme/gh.git"},
		map[string]any{"name": "argocd", "githubRepository": "acme/argo", "githubOwnerId": "61000001", "githubRepositoryId": "62000010",
			"appRepoUrl": "https://github.com/acme/argo.git", "limits": map[string]any{"memory": "1Gi", "memoryLimit": "512Mi"}},
	})
	r := runStack(t, "dev", cfg)
	require.Error(t, r.err)
	for _, want := range []string{
		"githubRepository: is a single-service key, and this stack lists services",
		`services[1].name: "shop" is also the name of services[0]`,
		"services[1].githubRepository: acme/shop is also the repository of service shop",
		`services[2].name: "kube-tools" names a namespace Kubernetes, EKS or Argo CD already owns`,
		"services[2].appRepoUrl: must be an https:// URL",
		`services[2].quota.cpu: must be a CPU quantity such as 500m or 2, got "two"`,
		"services[2].quota.pods: must be a whole number from 1 to 10000, got 0",
		"services[2].limits.memoryLimit: is 256Mi, more than quota.memory (64Mi)",
		`services[2].ingressFrom: "payments" is not a service of this stack`,
		"services[2]: has color, which a service does not take",
		`services[3].name: "github" is the name of the single-service layout's push role`,
		`services[4].name: "argocd" names a namespace`,
		"services[4].limits.memory: is 1Gi, more than limits.memoryLimit (512Mi)",
		"billingApiKey", // not refused: billing is not listed, so its key is simply unused
	} {
		if want == "billingApiKey" {
			assert.NotContains(t, r.err.Error(), want)
			continue
		}
		assert.Contains(t, r.err.Error(), want)
	}
	assert.Empty(t, r.records, "nothing registered")

	missing := withServices(fixtureConfig(t, "dev"), tenants...)
	missing.Set("billingApiKey", nil)
	r = runStack(t, "dev", missing)
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "billingApiKey: is required and missing; set it with `pulumi config set --secret billingApiKey <value>`")
	plainKey := withServices(fixtureConfig(t, "dev"), tenants...)
	plainKey.Unsecret("shopApiKey")
	r = runStack(t, "dev", plainKey)
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "shopApiKey: is stored in plain text")
}

// TestServices_prodRemovalSaysHowToUnprotect: removing a service from protected prod is refused before anything
// changes, with the one command that unprotects exactly its resources and the acknowledgement that lets it go
// through (its entry with remove: true); acknowledged, nothing of it is registered (so the update deletes it) and
// the command is said again. In dev the removal just happens.
func TestServices_prodRemovalSaysHowToUnprotect(t *testing.T) {
	t.Parallel()
	roles := func(stack string) []string {
		path := "arn:aws:iam::" + testAccount + ":role/" + projectName + "/" + stack + "/"
		return []string{path + "shop-push-role-1a2b3c4", path + "shop-identity-role-2b3c4d5", path + "billing-push-role-3c4d5e6"}
	}
	withRoles := func(stack string) func(*plan.Engine) { return func(e *plan.Engine) { e.Roles = roles(stack) } }
	billing := tenants[1]
	billing.ingressFrom = nil // shop, which it named, is going
	r := runStackWith(t, "prod", withServices(fixtureConfig(t, "prod"), billing), withRoles("prod"))
	require.Error(t, r.err)
	msg := r.err.Error()
	assert.Contains(t, msg, "services: service shop is no longer listed")
	assert.Contains(t, msg, "list it again with `remove: true`")
	assert.NotContains(t, msg, "service billing")
	assert.Empty(t, r.records, "refused before anything is registered")

	// The command names every protected resource of shop, and nothing else.
	all := runStack(t, "prod", withServices(fixtureConfig(t, "prod"), tenants...)).ok()
	var protected []string
	for _, rec := range all.records {
		if rec.Protect && (rec.URN == "urn:pulumi:prod::"+projectName+"::"+infra.ServiceType+"::shop" || under(all, rec, "shop")) {
			protected = append(protected, rec.URN)
		}
	}
	assert.ElementsMatch(t, protected, unprotectURNs(t, msg), "one command, exactly shop's protected resources")

	// Acknowledged: nothing of shop is registered, and the command is said on the run.
	cfg := withServices(fixtureConfig(t, "prod"), billing)
	cfg.Set("services", []any{map[string]any{"name": "shop", "remove": true}, billing.entry()})
	p, err := buildWithRoles(t, "prod", cfg, roles("prod"))
	require.NoError(t, err)
	require.Len(t, p.Notices, 1)
	assert.Contains(t, p.Notices[0], "services: service shop is being removed")
	assert.ElementsMatch(t, protected, unprotectURNs(t, p.Notices[0]))
	assert.NotContains(t, p.Services, "shop")
	assert.Contains(t, p.Services, "billing")

	// A removed service cannot stay a caller of another.
	cfg.Set("services", []any{map[string]any{"name": "shop", "remove": true}, tenants[1].entry()})
	_, err = buildWithRoles(t, "prod", cfg, roles("prod"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "services[1].ingressFrom: names shop, which is being removed (remove: true)")

	// Its statements emptied: the command for its role and boundary alone, said, not refused.
	shop := tenants[0]
	shop.identity = false
	p, err = buildWithRoles(t, "prod", withServices(fixtureConfig(t, "prod"), shop, tenants[1]), roles("prod"))
	require.NoError(t, err)
	require.Len(t, p.Notices, 1)
	assert.Contains(t, p.Notices[0], "services: service shop has no iamStatements")
	var identity []string
	for _, child := range infra.ServiceIdentityChildren("shop") {
		identity = append(identity, "urn:pulumi:prod::"+projectName+"::"+infra.ServiceType+"$"+child[0]+"::"+child[1])
	}
	assert.ElementsMatch(t, identity, unprotectURNs(t, p.Notices[0]))
	for _, urn := range identity {
		assert.NotNilf(t, all.byURN(urn), "%s is a resource of the program", urn)
	}

	runStackWith(t, "dev", withServices(fixtureConfig(t, "dev"), billing), withRoles("dev")).ok()

	// Back to the single-service layout, which would replace every service: refused in prod, naming them.
	r = runStackWith(t, "prod", withQuickStart(fixtureConfig(t, "prod")), withRoles("prod"))
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "services: is empty, and this protected stack runs the services billing, shop")
	assert.Empty(t, r.records)

	// And from the single-service layout (its push role github-push-role-*) to services: refused in prod too.
	single := "arn:aws:iam::" + testAccount + ":role/" + projectName + "/prod/github-push-role-4d5e6f7"
	r = runStackWith(t, "prod", withServices(fixtureConfig(t, "prod"), tenants...), func(e *plan.Engine) { e.Roles = []string{single} })
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "services: this protected stack runs the single-service layout")
	assert.NotContains(t, r.err.Error(), "service github", "github is not a service")
	assert.Empty(t, r.records)
	runStackWith(t, "dev", withServices(fixtureConfig(t, "dev"), tenants...), func(e *plan.Engine) {
		e.Roles = []string{strings.Replace(single, "/prod/", "/dev/", 1)}
	}).ok() // unprotected: the creates stop at the existing objects, not the program (docs/services.md)

	// A service being removed keeps neither its repository nor its callers.
	cfg.Set("services", []any{map[string]any{"name": "shop", "remove": true, "githubRepository": "acme/shop", "ingressFrom": []any{"nobody"}},
		map[string]any{"name": "shop2", "githubRepository": "acme/shop", "githubOwnerId": "61000001", "githubRepositoryId": "62000002",
			"appRepoUrl": "https://github.com/acme/shop.git"}})
	cfg.SetSecret("shop2ApiKey", "shop2-key")
	_, err = buildWithRoles(t, "prod", cfg, roles("prod")[:2]) // shop's roles alone
	require.NoError(t, err, "a removed service's repository is free, and its keys are not read")
	assert.Equal(t, []string{"shop2ApiKey"}, stacks.RequiredSecrets(cfg.Lookup), "a removed service needs no API key")
	cfg.Set("services", []any{map[string]any{"name": "shop", "remove": "yes"}})
	_, err = buildWithRoles(t, "prod", cfg, roles("prod"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "services[0].remove: must be true or false, got yes")
}

// unprotectURNs are the URNs of the one `pulumi state unprotect` command a message gives.
func unprotectURNs(t *testing.T, msg string) []string {
	t.Helper()
	require.Equal(t, 1, strings.Count(msg, "pulumi state unprotect --yes"), "one command: %s", msg)
	var urns []string
	for _, m := range regexp.MustCompile(`'(urn:pulumi:[^']+)'`).FindAllStringSubmatch(msg, -1) {
		urns = append(urns, m[1])
	}
	return urns
}

// buildWithRoles runs stacks.Build, what the program runs before exporting, in an account that has these roles
// (none: an account of its own), and returns the platform it built.
func buildWithRoles(t *testing.T, stack string, cfg stackConfig, roles []string) (*stacks.Platform, error) {
	t.Helper()
	var p *stacks.Platform
	res := plan.Run(projectName, stack, cfg, func(ctx *pulumi.Context) (map[string]pulumi.Output, error) {
		var err error
		if p, err = stacks.Build(ctx); err != nil {
			return nil, err
		}
		return p.Outputs(), nil
	}, func(e *plan.Engine) { e.Roles = roles })
	return p, res.Err
}
