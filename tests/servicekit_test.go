package tests

// Tests of the reference service kit in examples/service: the Helm chart a service repository carries and
// the CI workflow that builds its image and bumps the chart's image tag. They run the real tools (helm,
// actionlint) and the workflow's own shell steps, so the kit is checked the way ArgoCD and GitHub use it.

import (
	"bytes"
	"errors"
	"go/build"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

const (
	kitChartDir    = "examples/service/helm/your-service"
	kitWorkflowRel = "examples/service/.github/workflows/ci.yml"

	// The platform deploys the chart with the release name and namespace set to serviceName
	// (default "your-service") and creates Secret "<serviceName>-secret" with key "api-key".
	kitRelease    = "your-service"
	kitNamespace  = "your-service"
	kitSecretName = "your-service-secret"
	kitSecretKey  = "api-key"

	kitHealthPath = "/api/v1/health"
	kitAppPort    = 8000

	kitHelmInstall       = "GOFLAGS=-trimpath go install -ldflags '-X helm.sh/helm/v4/internal/version.version=v4.3.2' helm.sh/helm/v4/cmd/helm@v4.3.2"
	kitActionlintInstall = "go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"
)

// ---------------------------------------------------------------------------------------------------------
// The chart

func TestServiceChart_passesHelmLint(t *testing.T) {
	t.Parallel()
	out, stderr, err := kitHelm(t, "lint", "--strict", kitPath(t, kitChartDir))
	require.NoError(t, err, out+stderr)
}

func TestServiceChart_isNamedForTheDefaultService(t *testing.T) {
	t.Parallel()
	var chart struct {
		APIVersion string `yaml:"apiVersion"`
		Name       string `yaml:"name"`
	}
	kitReadYAML(t, filepath.Join(kitPath(t, kitChartDir), "Chart.yaml"), &chart)
	// Argo CD v3.2.0 renders charts with helm 3 (3.18.4, its hack/tool-versions.sh): the chart stays apiVersion v2,
	// which helm 3 reads, whatever the helm the tests lint and render it with (v4.3.2, which reads v2 as helm 3 does).
	assert.Equal(t, "v2", chart.APIVersion)
	// ArgoCD reads helm/<serviceName>; the kit ships the chart for the default serviceName, in
	// examples/service/helm/your-service (kitPath fails if that directory has no Chart.yaml).
	assert.Equal(t, kitRelease, chart.Name)
}

func TestServiceChart_rendersWorkloadObjectsOnlyIntoTheServiceNamespace(t *testing.T) {
	t.Parallel()
	objs := kitRender(t, kitPath(t, kitChartDir))

	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.Kind]++
		assert.Equalf(t, kitNamespace, o.Metadata.Namespace, "%s %s namespace", o.Kind, o.Metadata.Name)
		assert.Equalf(t, kitRelease, o.Metadata.Name, "%s name", o.Kind)
	}
	// The platform owns the API key Secret; a Secret rendered here would fight it under ArgoCD.
	assert.Equal(t, map[string]int{
		"ServiceAccount":          1,
		"Service":                 1,
		"Deployment":              1,
		"HorizontalPodAutoscaler": 1,
		"PodDisruptionBudget":     1,
	}, kinds)
}

func TestServiceChart_readsAPIKeyFromPlatformSecret(t *testing.T) {
	t.Parallel()
	c := kitAppContainer(t, kitDeploymentOf(t, kitRender(t, kitPath(t, kitChartDir))))

	env := kitEnv(t, c, "API_KEY")
	require.NotNil(t, env.ValueFrom, "API_KEY must come from a Secret, not a literal value")
	require.NotNil(t, env.ValueFrom.SecretKeyRef, "API_KEY must come from a secretKeyRef")
	assert.Equal(t, kitSecretName, env.ValueFrom.SecretKeyRef.Name)
	assert.Equal(t, kitSecretKey, env.ValueFrom.SecretKeyRef.Key)
	assert.Empty(t, env.Value)
	assert.False(t, env.ValueFrom.SecretKeyRef.Optional, "a missing Secret must stop the pod, not start it without a key")
}

func TestServiceChart_apiKeySecretNameAndKeyAreOverridable(t *testing.T) {
	t.Parallel()
	objs := kitRender(t, kitPath(t, kitChartDir), "--set", "apiKeySecret.name=shared-keys,apiKeySecret.key=svc-api-key")
	ref := kitEnv(t, kitAppContainer(t, kitDeploymentOf(t, objs)), "API_KEY").ValueFrom.SecretKeyRef
	require.NotNil(t, ref)
	assert.Equal(t, "shared-keys", ref.Name)
	assert.Equal(t, "svc-api-key", ref.Key)
}

func TestServiceChart_probesHealthEndpointOnPort8000(t *testing.T) {
	t.Parallel()
	c := kitAppContainer(t, kitDeploymentOf(t, kitRender(t, kitPath(t, kitChartDir))))

	require.Len(t, c.Ports, 1)
	assert.Equal(t, kitAppPort, c.Ports[0].ContainerPort)
	assert.Equal(t, "TCP", c.Ports[0].Protocol)

	for name, p := range map[string]*kitProbe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		require.NotNilf(t, p, "%s probe", name)
		require.NotNilf(t, p.HTTPGet, "%s probe must be an HTTP GET", name)
		assert.Equalf(t, kitHealthPath, p.HTTPGet.Path, "%s probe path", name)
		assert.Equalf(t, kitAppPort, kitResolvePort(t, p.HTTPGet.Port, c), "%s probe port", name)
	}
}

func TestServiceChart_exposesPort80ToContainerPort8000(t *testing.T) {
	t.Parallel()
	objs := kitRender(t, kitPath(t, kitChartDir))
	d := kitDeploymentOf(t, objs)
	c := kitAppContainer(t, d)

	var svc struct {
		Spec struct {
			Type     string            `yaml:"type"`
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort any    `yaml:"targetPort"`
				Protocol   string `yaml:"protocol"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	objs.one(t, "Service").decode(t, &svc)

	assert.Equal(t, "ClusterIP", svc.Spec.Type)
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, 80, svc.Spec.Ports[0].Port)
	assert.Equal(t, kitAppPort, kitResolvePort(t, svc.Spec.Ports[0].TargetPort, c))
	require.NotEmpty(t, svc.Spec.Selector)
	kitAssertSelects(t, svc.Spec.Selector, d.Spec.Template.Metadata.Labels, "Service selector")
}

func TestServiceChart_runsAsNonRootWithReadOnlyRootFilesystem(t *testing.T) {
	t.Parallel()
	objs := kitRender(t, kitPath(t, kitChartDir))
	d := kitDeploymentOf(t, objs)
	pod := d.Spec.Template.Spec
	c := kitAppContainer(t, d)

	psc := pod.SecurityContext
	assert.Equal(t, kitPtr(true), psc.RunAsNonRoot, "pod runAsNonRoot")
	assert.Equal(t, kitPtr(int64(1000)), psc.RunAsUser, "pod runAsUser: the seed image's uid")
	assert.Equal(t, kitPtr(int64(1000)), psc.RunAsGroup, "pod runAsGroup")
	assert.Equal(t, "RuntimeDefault", psc.SeccompProfile.Type, "pod seccompProfile")

	csc := c.SecurityContext
	assert.Equal(t, kitPtr(true), csc.RunAsNonRoot, "container runAsNonRoot")
	assert.Equal(t, kitPtr(int64(1000)), csc.RunAsUser, "container runAsUser")
	assert.Equal(t, kitPtr(int64(1000)), csc.RunAsGroup, "container runAsGroup")
	assert.Equal(t, kitPtr(false), csc.AllowPrivilegeEscalation, "allowPrivilegeEscalation")
	assert.Equal(t, kitPtr(true), csc.ReadOnlyRootFilesystem, "readOnlyRootFilesystem")
	assert.Equal(t, []string{"ALL"}, csc.Capabilities.Drop, "capabilities.drop")
	assert.Empty(t, csc.Capabilities.Add, "capabilities.add")
	assert.Nil(t, csc.Privileged, "privileged must stay unset (false)")

	// A read-only root filesystem needs a writable /tmp, backed by an emptyDir.
	var tmpVolume string
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/tmp" {
			tmpVolume = m.Name
		}
	}
	require.NotEmpty(t, tmpVolume, "/tmp must be mounted")
	var emptyDir bool
	for _, v := range pod.Volumes {
		if v.Name == tmpVolume {
			emptyDir = v.EmptyDir != nil
		}
	}
	assert.True(t, emptyDir, "/tmp must be an emptyDir volume")

	// The service does not talk to the Kubernetes API: no token in the pod.
	assert.Equal(t, kitPtr(false), pod.AutomountServiceAccountToken, "pod automountServiceAccountToken")
	var sa struct {
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
		AutomountServiceAccountToken *bool `yaml:"automountServiceAccountToken"`
	}
	objs.one(t, "ServiceAccount").decode(t, &sa)
	assert.Equal(t, kitPtr(false), sa.AutomountServiceAccountToken, "ServiceAccount automountServiceAccountToken")
	assert.Equal(t, sa.Metadata.Name, pod.ServiceAccountName, "pod runs as the chart's ServiceAccount")
}

func TestServiceChart_autoscalesFrom2To10At70PercentCPU(t *testing.T) {
	t.Parallel()
	objs := kitRender(t, kitPath(t, kitChartDir))
	d := kitDeploymentOf(t, objs)

	var hpa struct {
		APIVersion string `yaml:"apiVersion"`
		Spec       struct {
			ScaleTargetRef struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Name       string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicas *int `yaml:"minReplicas"`
			MaxReplicas int  `yaml:"maxReplicas"`
			Metrics     []struct {
				Type     string `yaml:"type"`
				Resource *struct {
					Name   string `yaml:"name"`
					Target struct {
						Type               string `yaml:"type"`
						AverageUtilization *int   `yaml:"averageUtilization"`
					} `yaml:"target"`
				} `yaml:"resource"`
			} `yaml:"metrics"`
		} `yaml:"spec"`
	}
	objs.one(t, "HorizontalPodAutoscaler").decode(t, &hpa)

	assert.Equal(t, "autoscaling/v2", hpa.APIVersion)
	assert.Equal(t, "apps/v1", hpa.Spec.ScaleTargetRef.APIVersion)
	assert.Equal(t, "Deployment", hpa.Spec.ScaleTargetRef.Kind)
	assert.Equal(t, d.Metadata.Name, hpa.Spec.ScaleTargetRef.Name, "HPA must scale the chart's Deployment")
	assert.Equal(t, kitPtr(2), hpa.Spec.MinReplicas)
	assert.Equal(t, 10, hpa.Spec.MaxReplicas)
	require.Len(t, hpa.Spec.Metrics, 1)
	m := hpa.Spec.Metrics[0]
	assert.Equal(t, "Resource", m.Type)
	require.NotNil(t, m.Resource)
	assert.Equal(t, "cpu", m.Resource.Name)
	assert.Equal(t, "Utilization", m.Resource.Target.Type)
	assert.Equal(t, kitPtr(70), m.Resource.Target.AverageUtilization)

	// The HPA owns the replica count: a replicas field would make ArgoCD's self-heal undo every scale-out.
	assert.Nil(t, d.Spec.Replicas, "Deployment must not set replicas while the HPA is enabled")
	// CPU utilization is measured against the request, so the request must exist.
	assert.NotEmpty(t, kitAppContainer(t, d).Resources.Requests["cpu"], "HPA needs a CPU request")
}

func TestServiceChart_setsReplicasOnlyWhenAutoscalingIsOff(t *testing.T) {
	t.Parallel()
	objs := kitRender(t, kitPath(t, kitChartDir), "--set", "autoscaling.enabled=false")
	assert.Equal(t, kitPtr(2), kitDeploymentOf(t, objs).Spec.Replicas, "2 replicas by default without the HPA")
	assert.Empty(t, objs.all("HorizontalPodAutoscaler"))
}

func TestServiceChart_limitsVoluntaryDisruptionToOnePod(t *testing.T) {
	t.Parallel()
	objs := kitRender(t, kitPath(t, kitChartDir))
	d := kitDeploymentOf(t, objs)

	var pdb struct {
		APIVersion string `yaml:"apiVersion"`
		Spec       struct {
			MaxUnavailable any `yaml:"maxUnavailable"`
			MinAvailable   any `yaml:"minAvailable"`
			Selector       struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
		} `yaml:"spec"`
	}
	objs.one(t, "PodDisruptionBudget").decode(t, &pdb)
	assert.Equal(t, "policy/v1", pdb.APIVersion)
	assert.Equal(t, 1, pdb.Spec.MaxUnavailable)
	assert.Nil(t, pdb.Spec.MinAvailable, "minAvailable would block node drains when only one replica runs")
	require.NotEmpty(t, pdb.Spec.Selector.MatchLabels)
	kitAssertSelects(t, pdb.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels, "PodDisruptionBudget selector")
}

func TestServiceChart_setsResourceRequestsAndLimits(t *testing.T) {
	t.Parallel()
	c := kitAppContainer(t, kitDeploymentOf(t, kitRender(t, kitPath(t, kitChartDir))))
	for _, r := range []string{"cpu", "memory"} {
		assert.NotEmptyf(t, c.Resources.Requests[r], "requests.%s", r)
		assert.NotEmptyf(t, c.Resources.Limits[r], "limits.%s", r)
	}
}

func TestServiceChart_spreadsReplicasAcrossZones(t *testing.T) {
	t.Parallel()
	d := kitDeploymentOf(t, kitRender(t, kitPath(t, kitChartDir)))
	var zone bool
	for _, c := range d.Spec.Template.Spec.TopologySpreadConstraints {
		if c.TopologyKey == "topology.kubernetes.io/zone" {
			zone = true
			kitAssertSelects(t, c.LabelSelector.MatchLabels, d.Spec.Template.Metadata.Labels, "zone spread selector")
		}
	}
	assert.True(t, zone, "replicas must be spread over availability zones")
}

func TestServiceChart_runsTheImageNamedInValues(t *testing.T) {
	t.Parallel()
	values := kitReadValues(t, filepath.Join(kitPath(t, kitChartDir), "values.yaml"))
	require.NotEmpty(t, values.Image.Repository)
	require.NotEmpty(t, values.Image.Tag)

	c := kitAppContainer(t, kitDeploymentOf(t, kitRender(t, kitPath(t, kitChartDir))))
	assert.Equal(t, values.Image.Repository+":"+values.Image.Tag, c.Image)

	// What CI's values.yaml rewrite amounts to: the tag alone picks the image.
	c = kitAppContainer(t, kitDeploymentOf(t, kitRender(t, kitPath(t, kitChartDir), "--set", "image.tag=abc1234")))
	assert.Equal(t, values.Image.Repository+":abc1234", c.Image)
}

func TestServiceChart_rejectsLatestAndEmptyImageTags(t *testing.T) {
	t.Parallel()
	for _, tag := range []string{"latest", ""} {
		_, stderr, err := kitHelm(t, "template", kitRelease, kitPath(t, kitChartDir), "--namespace", kitNamespace,
			"--set-string", "image.tag="+tag)
		assert.Errorf(t, err, "image.tag=%q must be rejected by values.schema.json", tag)
		assert.Containsf(t, stderr, "/image/tag", "the schema error names image.tag")
	}
}

// ---------------------------------------------------------------------------------------------------------
// The workflow

func TestServiceCI_passesActionlint(t *testing.T) {
	t.Parallel()
	bin := kitTool(t, "actionlint", kitActionlintInstall)
	cmd := exec.Command(bin, "-no-color", kitPath(t, kitWorkflowRel))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
}

func TestServiceCI_runsLintTestBuildThenUpdatesValues(t *testing.T) {
	t.Parallel()
	wf := kitWorkflow(t)
	require.ElementsMatch(t, []string{"lint", "test", "build-and-push", "update-helm-values"}, kitKeys(wf.Jobs))
	assert.Empty(t, kitNeeds(wf.Jobs["lint"]))
	assert.Equal(t, []string{"lint"}, kitNeeds(wf.Jobs["test"]))
	assert.Equal(t, []string{"test"}, kitNeeds(wf.Jobs["build-and-push"]))
	assert.Equal(t, []string{"build-and-push"}, kitNeeds(wf.Jobs["update-helm-values"]))
}

func TestServiceCI_publishesOnlyOnPushToMain(t *testing.T) {
	t.Parallel()
	wf := kitWorkflow(t)
	require.ElementsMatch(t, []string{"push", "pull_request"}, kitKeys(wf.On))
	assert.Equal(t, []string{"main"}, wf.On["push"].Branches)

	const onMain = "github.event_name == 'push' && github.ref == 'refs/heads/main'"
	for _, name := range []string{"build-and-push", "update-helm-values"} {
		assert.Equalf(t, onMain, strings.TrimSpace(wf.Jobs[name].If), "%s must not run for pull requests", name)
	}
	for _, name := range []string{"lint", "test"} {
		assert.Emptyf(t, wf.Jobs[name].If, "%s runs for every push and pull request", name)
	}
}

func TestServiceCI_grantsLeastPrivilege(t *testing.T) {
	t.Parallel()
	wf := kitWorkflow(t)
	assert.Equal(t, map[string]string{"contents": "read"}, wf.Permissions, "workflow default permissions")

	assert.Nil(t, wf.Jobs["lint"].Permissions, "lint inherits read-only contents")
	assert.Nil(t, wf.Jobs["test"].Permissions, "test inherits read-only contents")
	assert.Equal(t, map[string]string{"contents": "read", "id-token": "write"}, wf.Jobs["build-and-push"].Permissions)
	assert.Equal(t, map[string]string{"contents": "write"}, wf.Jobs["update-helm-values"].Permissions)

	for name, job := range wf.Jobs {
		if name != "build-and-push" {
			assert.NotContainsf(t, job.Permissions, "id-token", "only build-and-push may request an OIDC token (%s)", name)
		}
		if name != "update-helm-values" {
			assert.NotEqualf(t, "write", job.Permissions["contents"], "only update-helm-values may write contents (%s)", name)
		}
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "actions/checkout@") && name != "update-helm-values" {
				assert.Equalf(t, "false", s.With["persist-credentials"], "%s keeps no token in .git/config", name)
			}
		}
	}
}

func TestServiceCI_pinsEveryActionToACommit(t *testing.T) {
	t.Parallel()
	wf := kitWorkflow(t)
	versions := pinnedVersions(t, kitPath(t, kitWorkflowRel))
	var uses int
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if s.Uses == "" {
				continue
			}
			uses++
			assertPinnedToACommit(t, s.Uses, versions, "job "+name)
		}
	}
	assert.Greater(t, uses, 0)
}

func TestServiceCI_assumesThePushRoleThroughOIDC(t *testing.T) {
	t.Parallel()
	raw := strings.ToLower(string(kitRead(t, kitPath(t, kitWorkflowRel))))
	for _, forbidden := range []string{"aws-access-key-id", "aws-secret-access-key", "aws_access_key_id",
		"aws_secret_access_key", "aws-session-token", "secrets.aws"} {
		assert.NotContainsf(t, raw, forbidden, "no stored AWS credentials")
	}

	wf := kitWorkflow(t)
	var configured, ecrLogin bool
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			switch {
			case strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@"):
				assert.Equal(t, "build-and-push", name)
				assert.Equal(t, "${{ vars.AWS_ROLE_ARN }}", s.With["role-to-assume"])
				assert.Equal(t, "${{ vars.AWS_REGION }}", s.With["aws-region"])
				configured = true
			case strings.HasPrefix(s.Uses, "aws-actions/amazon-ecr-login@"):
				assert.Equal(t, "build-and-push", name)
				assert.True(t, configured, "ECR login needs the role's credentials first")
				ecrLogin = true
			}
		}
	}
	assert.True(t, configured, "configure-aws-credentials with role-to-assume")
	assert.True(t, ecrLogin, "amazon-ecr-login")
}

func TestServiceCI_serializesRunsPerRef(t *testing.T) {
	t.Parallel()
	wf := kitWorkflow(t)
	assert.Contains(t, wf.Concurrency.Group, "github.ref", "one concurrency group per branch or pull request")
	// Never cancel a run on main half-way between pushing an image and committing its tag.
	assert.Equal(t, "${{ github.event_name == 'pull_request' }}", wf.Concurrency.CancelInProgress)
}

func TestServiceCI_tagsImagesWithTheShortSHAOnly(t *testing.T) {
	t.Parallel()
	// The ECR repository has immutable tags: a moving tag such as latest cannot be pushed twice.
	assert.NotContains(t, strings.ToLower(string(kitRead(t, kitPath(t, kitWorkflowRel)))), "latest")

	wf := kitWorkflow(t)
	job := wf.Jobs["build-and-push"]
	assert.Equal(t, "${{ steps.image-tag.outputs.tag }}", job.Outputs["image-tag"])

	tagStep := kitStep(t, job, "image-tag")
	outFile := filepath.Join(t.TempDir(), "output")
	out, err := kitRunStep(t, tagStep.Run, t.TempDir(), map[string]string{
		"GITHUB_SHA":    "0123456789abcdef0123456789abcdef01234567",
		"GITHUB_OUTPUT": outFile,
	})
	require.NoError(t, err, out)
	assert.Equal(t, "tag=0123456\n", string(kitRead(t, outFile)))

	var build *kitWorkflowStep
	for i, s := range job.Steps {
		if strings.Contains(s.Run, "docker push") {
			build = &job.Steps[i]
		}
	}
	require.NotNil(t, build, "a step pushes the image")
	assert.Equal(t, "${{ steps.image-tag.outputs.tag }}", build.Env["IMAGE_TAG"])
	assert.Equal(t, "${{ vars.ECR_REPOSITORY_URL }}", build.Env["ECR_REPOSITORY_URL"])
	assert.Equal(t, 1, strings.Count(build.Run, "--tag "), "exactly one tag per image")
	assert.Contains(t, build.Run, `--tag "$image"`)
	assert.Contains(t, build.Run, `image="${ECR_REPOSITORY_URL}:${IMAGE_TAG}"`)
}

func TestServiceCI_rewritesOnlyTheImageTagOfTheServiceChart(t *testing.T) {
	t.Parallel()
	wf := kitWorkflow(t)
	// The rewritten file is the chart ArgoCD reads: helm/<SERVICE_NAME>/values.yaml.
	assert.Equal(t, kitRelease, wf.Env["SERVICE_NAME"])
	step := kitStep(t, wf.Jobs["update-helm-values"], "rewrite-tag")
	assert.Equal(t, "helm/${{ env.SERVICE_NAME }}/values.yaml", step.Env["VALUES_FILE"])
	assert.Equal(t, "${{ needs.build-and-push.outputs.image-tag }}", step.Env["IMAGE_TAG"])

	chart := kitCopyDir(t, kitPath(t, kitChartDir))
	valuesFile := filepath.Join(chart, "values.yaml")
	before := kitRead(t, valuesFile)

	for run := 1; run <= 2; run++ { // the second run proves the rewrite is idempotent
		out, err := kitRunStep(t, step.Run, chart, map[string]string{"IMAGE_TAG": "abc1234", "VALUES_FILE": valuesFile})
		require.NoErrorf(t, err, "run %d: %s", run, out)
	}
	after := kitRead(t, valuesFile)

	beforeLines := strings.Split(string(before), "\n")
	afterLines := strings.Split(string(after), "\n")
	require.Len(t, afterLines, len(beforeLines), "the rewrite must not add or remove lines")
	var changed []string
	for i := range beforeLines {
		if beforeLines[i] != afterLines[i] {
			changed = append(changed, afterLines[i])
		}
	}
	assert.Equal(t, []string{`  tag: "abc1234"`}, changed, "exactly the image.tag line changes")

	var old, updated map[string]any
	require.NoError(t, yaml.Unmarshal(before, &old))
	require.NoError(t, yaml.Unmarshal(after, &updated))
	old["image"].(map[string]any)["tag"] = "abc1234"
	assert.Equal(t, old, updated, "nothing but image.tag differs")

	// And ArgoCD, rendering the rewritten chart, runs the new image.
	c := kitAppContainer(t, kitDeploymentOf(t, kitRender(t, chart)))
	assert.Equal(t, kitReadValues(t, valuesFile).Image.Repository+":abc1234", c.Image)
}

func TestServiceCI_tagRewriteFailsInsteadOfCommittingNothing(t *testing.T) {
	t.Parallel()
	step := kitStep(t, kitWorkflow(t).Jobs["update-helm-values"], "rewrite-tag")

	dir := t.TempDir()
	noTag := filepath.Join(dir, "values.yaml")
	require.NoError(t, os.WriteFile(noTag, []byte("image:\n  repository: example\nservice:\n  tag: x\n"), 0o644))
	out, err := kitRunStep(t, step.Run, dir, map[string]string{"IMAGE_TAG": "abc1234", "VALUES_FILE": noTag})
	assert.Error(t, err, "values without image.tag must fail the job: %s", out)
	assert.Contains(t, string(kitRead(t, noTag)), "service:\n  tag: x\n", "a tag outside image: is left alone")

	values := filepath.Join(kitCopyDir(t, kitPath(t, kitChartDir)), "values.yaml")
	for _, bad := range []string{"latest", "", "abc1234; rm -rf /", "ABC1234"} {
		out, err := kitRunStep(t, step.Run, dir, map[string]string{"IMAGE_TAG": bad, "VALUES_FILE": values})
		assert.Errorf(t, err, "tag %q is not a commit SHA and must be refused: %s", bad, out)
	}
}

func TestServiceCI_valuesCommitDoesNotRetriggerCI(t *testing.T) {
	t.Parallel()
	job := kitWorkflow(t).Jobs["update-helm-values"]
	var commit string
	for _, s := range job.Steps {
		for _, line := range strings.Split(s.Run, "\n") {
			if strings.Contains(line, "git commit") {
				commit = line
			}
		}
	}
	require.NotEmpty(t, commit, "update-helm-values commits the tag")
	assert.Contains(t, commit, "[skip ci]")
	assert.Contains(t, commit, `-- "$VALUES_FILE"`, "only values.yaml is committed")
}

func TestServiceCI_checksTheChartPullsFromThePlatformRepository(t *testing.T) {
	t.Parallel()
	var step *kitWorkflowStep
	job := kitWorkflow(t).Jobs["lint"]
	for i, s := range job.Steps {
		if s.Env["ECR_REPOSITORY_URL"] != "" && strings.Contains(s.Run, "VALUES_FILE") {
			step = &job.Steps[i]
		}
	}
	require.NotNil(t, step, "lint compares image.repository with the ECR_REPOSITORY_URL variable")
	assert.Equal(t, "${{ vars.ECR_REPOSITORY_URL }}", step.Env["ECR_REPOSITORY_URL"])

	values := filepath.Join(kitPath(t, kitChartDir), "values.yaml")
	repo := kitReadValues(t, values).Image.Repository
	out, err := kitRunStep(t, step.Run, t.TempDir(), map[string]string{"ECR_REPOSITORY_URL": repo, "VALUES_FILE": values})
	assert.NoError(t, err, out)
	out, err = kitRunStep(t, step.Run, t.TempDir(), map[string]string{
		"ECR_REPOSITORY_URL": "210987654321.dkr.ecr.eu-west-1.amazonaws.com/other", "VALUES_FILE": values})
	assert.Error(t, err, "a chart pointing at another repository must fail lint: %s", out)
}

func TestServiceCI_runScriptsTakeInputsOnlyFromEnvironment(t *testing.T) {
	t.Parallel()
	// ${{ }} inside run: is pasted into the script before bash sees it (script injection); inputs go
	// through env: instead, which is also what lets these tests run the scripts unchanged.
	wf := kitWorkflow(t)
	assert.Equal(t, "bash", wf.Defaults.Run.Shell, "the tests run scripts the way shell: bash does")
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			assert.NotContainsf(t, s.Run, "${{", "job %s step %q", name, s.Name+s.ID)
		}
	}
}

// ---------------------------------------------------------------------------------------------------------
// Test plumbing, prefixed kit to stay out of the way of the platform tests in this package

type kitObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	node *yaml.Node
}

func (o kitObject) decode(t *testing.T, into any) {
	t.Helper()
	require.NoError(t, o.node.Decode(into), "decode %s %s", o.Kind, o.Metadata.Name)
}

type kitObjects []kitObject

func (objs kitObjects) all(kind string) []kitObject {
	var out []kitObject
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (objs kitObjects) one(t *testing.T, kind string) kitObject {
	t.Helper()
	found := objs.all(kind)
	require.Lenf(t, found, 1, "rendered %s objects", kind)
	return found[0]
}

type kitDeployment struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec kitPodSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type kitPodSpec struct {
	ServiceAccountName           string `yaml:"serviceAccountName"`
	AutomountServiceAccountToken *bool  `yaml:"automountServiceAccountToken"`
	SecurityContext              struct {
		RunAsNonRoot   *bool  `yaml:"runAsNonRoot"`
		RunAsUser      *int64 `yaml:"runAsUser"`
		RunAsGroup     *int64 `yaml:"runAsGroup"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	Containers []kitContainer `yaml:"containers"`
	Volumes    []struct {
		Name     string    `yaml:"name"`
		EmptyDir *struct{} `yaml:"emptyDir"`
	} `yaml:"volumes"`
	TopologySpreadConstraints []struct {
		TopologyKey   string `yaml:"topologyKey"`
		LabelSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"labelSelector"`
	} `yaml:"topologySpreadConstraints"`
}

type kitContainer struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
		Protocol      string `yaml:"protocol"`
	} `yaml:"ports"`
	Env            []kitEnvVar `yaml:"env"`
	LivenessProbe  *kitProbe   `yaml:"livenessProbe"`
	ReadinessProbe *kitProbe   `yaml:"readinessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
		RunAsUser                *int64 `yaml:"runAsUser"`
		RunAsGroup               *int64 `yaml:"runAsGroup"`
		AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
		Privileged               *bool  `yaml:"privileged"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type kitEnvVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name     string `yaml:"name"`
			Key      string `yaml:"key"`
			Optional bool   `yaml:"optional"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type kitProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type kitValues struct {
	Image struct {
		Repository string `yaml:"repository"`
		Tag        string `yaml:"tag"`
	} `yaml:"image"`
}

type kitWorkflowFile struct {
	On map[string]struct {
		Branches []string `yaml:"branches"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress string `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Env      map[string]string `yaml:"env"`
	Defaults struct {
		Run struct {
			Shell string `yaml:"shell"`
		} `yaml:"run"`
	} `yaml:"defaults"`
	Jobs map[string]kitWorkflowJob `yaml:"jobs"`
}

type kitWorkflowJob struct {
	Needs       any               `yaml:"needs"`
	If          string            `yaml:"if"`
	Permissions map[string]string `yaml:"permissions"`
	Outputs     map[string]string `yaml:"outputs"`
	Steps       []kitWorkflowStep `yaml:"steps"`
}

type kitWorkflowStep struct {
	ID   string            `yaml:"id"`
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

func kitPtr[T any](v T) *T { return &v }

// kitPath returns rel (slash-separated, relative to the repository root) as an absolute path. The tests run
// in tests/, so the root is the parent directory.
func kitPath(t *testing.T, rel string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, kitChartDir, "Chart.yaml"))
	require.NoError(t, err, "the repository root (parent of the test directory) must hold %s", kitChartDir)
	return filepath.Join(root, filepath.FromSlash(rel))
}

func kitRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func kitReadYAML(t *testing.T, path string, into any) {
	t.Helper()
	require.NoError(t, yaml.Unmarshal(kitRead(t, path), into), path)
}

func kitReadValues(t *testing.T, path string) kitValues {
	t.Helper()
	var v kitValues
	kitReadYAML(t, path, &v)
	return v
}

func kitWorkflow(t *testing.T) kitWorkflowFile {
	t.Helper()
	var wf kitWorkflowFile
	kitReadYAML(t, kitPath(t, kitWorkflowRel), &wf)
	require.NotEmpty(t, wf.Jobs)
	return wf
}

func kitStep(t *testing.T, job kitWorkflowJob, id string) kitWorkflowStep {
	t.Helper()
	for _, s := range job.Steps {
		if s.ID == id {
			return s
		}
	}
	require.FailNowf(t, "missing workflow step", "no step with id %q", id)
	return kitWorkflowStep{}
}

func kitNeeds(job kitWorkflowJob) []string {
	switch n := job.Needs.(type) {
	case string:
		return []string{n}
	case []any:
		var out []string
		for _, v := range n {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func kitKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// kitTool finds a command on PATH or in GOPATH/bin, where `go install` puts it, and fails the test with the
// install command when it is missing: these checks must not pass by silently not running.
func kitTool(t *testing.T, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range filepath.SplitList(build.Default.GOPATH) {
		if p, err := exec.LookPath(filepath.Join(dir, "bin", name)); err == nil {
			return p
		}
	}
	require.FailNowf(t, "missing tool", "%s is required by the service kit tests and was found neither on PATH nor in $(go env GOPATH)/bin; install it with:\n  %s", name, install)
	return ""
}

// kitHelm runs helm with its config, cache and data directories in a temporary directory, so the tests
// neither read nor write the user's helm setup. It returns stdout and stderr separately.
func kitHelm(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	bin := kitTool(t, "helm", kitHelmInstall)
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// kitRender renders the chart as the platform deploys it (release and namespace = the service name).
func kitRender(t *testing.T, chartDir string, extra ...string) kitObjects {
	t.Helper()
	args := append([]string{"template", kitRelease, chartDir, "--namespace", kitNamespace}, extra...)
	out, stderr, err := kitHelm(t, args...)
	require.NoError(t, err, "helm %s\n%s", strings.Join(args, " "), stderr)

	var objs kitObjects
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "parse helm template output")
		if len(node.Content) == 0 || node.Content[0].Kind != yaml.MappingNode {
			continue // an empty document (a template rendered to nothing)
		}
		var o kitObject
		require.NoError(t, node.Decode(&o))
		o.node = &node
		require.NotEmpty(t, o.Kind, "every rendered document is a Kubernetes object")
		objs = append(objs, o)
	}
	require.NotEmpty(t, objs)
	return objs
}

func kitDeploymentOf(t *testing.T, objs kitObjects) kitDeployment {
	t.Helper()
	var d kitDeployment
	objs.one(t, "Deployment").decode(t, &d)
	kitAssertSelects(t, d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels, "Deployment selector")
	return d
}

func kitAppContainer(t *testing.T, d kitDeployment) kitContainer {
	t.Helper()
	require.Len(t, d.Spec.Template.Spec.Containers, 1, "one application container")
	return d.Spec.Template.Spec.Containers[0]
}

func kitEnv(t *testing.T, c kitContainer, name string) kitEnvVar {
	t.Helper()
	var found []kitEnvVar
	for _, e := range c.Env {
		if e.Name == name {
			found = append(found, e)
		}
	}
	require.Lenf(t, found, 1, "env %s", name)
	return found[0]
}

// kitResolvePort turns a probe or Service port (a number or a container port name) into a number.
func kitResolvePort(t *testing.T, port any, c kitContainer) int {
	t.Helper()
	switch p := port.(type) {
	case int:
		return p
	case string:
		for _, cp := range c.Ports {
			if cp.Name == p {
				return cp.ContainerPort
			}
		}
		require.FailNowf(t, "unknown port name", "%q is not a port of container %s", p, c.Name)
	}
	require.FailNowf(t, "bad port", "port %v (%T) is neither a number nor a name", port, port)
	return 0
}

func kitAssertSelects(t *testing.T, selector, labels map[string]string, what string) {
	t.Helper()
	require.NotEmptyf(t, selector, "%s is empty", what)
	for k, v := range selector {
		assert.Equalf(t, v, labels[k], "%s: pod label %s", what, k)
	}
}

// kitRunStep runs a workflow step's script the way `shell: bash` does on GitHub's runners.
func kitRunStep(t *testing.T, script, dir string, env map[string]string) (string, error) {
	t.Helper()
	bash := kitTool(t, "bash", "your system's package manager")
	file := filepath.Join(t.TempDir(), "step.sh")
	require.NoError(t, os.WriteFile(file, []byte(script), 0o600))
	cmd := exec.Command(bash, "--noprofile", "--norc", "-eo", "pipefail", file)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LC_ALL=C"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kitCopyDir copies a directory tree into a temporary directory and returns the copy.
func kitCopyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	require.NoError(t, os.CopyFS(dst, os.DirFS(src)))
	return dst
}
