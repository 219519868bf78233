package tests

// Tests of how this repository itself is delivered: the GitHub Actions workflows in .github/workflows and the
// Pulumi Deployments settings program in deployments/ (its own tests are in deployments_test.go). Neither path may hold a long-lived AWS key or
// Pulumi token; both must update one stack at a time, dev before prod; both need kubectl and the AWS CLI
// because pulumi-eks calls them.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/example/eks-gitops-platform/infra"
)

const (
	dlvWorkflowDir       = ".github/workflows"
	dlvPullRequestRel    = ".github/workflows/pull-request.yml"
	dlvDeployRel         = ".github/workflows/deploy.yml"
	dlvActionlintInstall = "go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

	dlvPulumiSDKModule = "github.com/pulumi/pulumi/sdk/v3"
	dlvForkGuard       = "github.event.pull_request.head.repo.full_name == github.repository"
)

// dlvStacks are the stacks both delivery paths deploy, in order.
var dlvStacks = []string{"dev", "prod"}

// ---------------------------------------------------------------------------------------------------------
// Every workflow file: these two and any added later

func TestPullRequestWorkflow_andDeployWorkflow_passActionlint(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("actionlint")
	require.NoErrorf(t, err, "actionlint is not on PATH; install it with: %s", dlvActionlintInstall)

	workflows := dlvWorkflows(t)
	args := []string{"-no-color"}
	for _, wf := range workflows {
		args = append(args, wf.path)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dlvRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
}

func TestPullRequestWorkflow_andDeployWorkflow_defaultToReadOnlyContents(t *testing.T) {
	t.Parallel()
	for _, wf := range dlvWorkflows(t) {
		assert.Equalf(t, map[string]string{"contents": "read"}, wf.Permissions,
			"%s: the workflow-level permissions are contents: read and nothing else", wf.rel)
	}
}

func TestPullRequestWorkflow_andDeployWorkflow_requestOIDCTokensOnlyInJobsThatAssumeARole(t *testing.T) {
	t.Parallel()
	var assuming int
	for _, wf := range dlvWorkflows(t) {
		for name, job := range wf.Jobs {
			if dlvAssumesRole(job) {
				assuming++
				assert.Equalf(t, "write", job.Permissions["id-token"], "%s job %s exchanges an OIDC token", wf.rel, name)
				assert.Equalf(t, "read", job.Permissions["contents"],
					"%s job %s: job permissions replace the workflow's, so contents: read is restated", wf.rel, name)
			} else {
				assert.NotContainsf(t, job.Permissions, "id-token", "%s job %s assumes no role", wf.rel, name)
			}
			// The preview comment, or the cost comment (whose job runs none of the pull request's code:
			// TestPullRequestWorkflow_commentsTheCostChangeWithoutAWriteTokenForThePullRequestsCode).
			comments := slices.ContainsFunc(job.Steps, func(s dlvStep) bool {
				return s.With["comment-on-pr"] == "true" || (name == "cost-comment" && strings.Contains(s.Run, `startswith("<!-- cost-estimate -->")`))
			})
			for scope, level := range job.Permissions {
				if level != "write" {
					continue
				}
				switch scope {
				case "id-token":
				case "pull-requests":
					assert.Truef(t, comments, "%s job %s: pull-requests: write only to post a preview or cost comment", wf.rel, name)
				default:
					assert.Failf(t, "write access beyond the OIDC token and the preview comment",
						"%s job %s: %s: write", wf.rel, name, scope)
				}
			}
		}
	}
	assert.Positive(t, assuming, "some job assumes a role")
}

func TestPullRequestWorkflow_andDeployWorkflow_pinEveryActionToACommit(t *testing.T) {
	t.Parallel()
	var uses int
	for _, wf := range dlvWorkflows(t) {
		versions := pinnedVersions(t, wf.path)
		for name, job := range wf.Jobs {
			for _, s := range job.Steps {
				if s.Uses == "" {
					continue
				}
				uses++
				assertPinnedToACommit(t, s.Uses, versions, wf.rel+" job "+name)
			}
		}
	}
	assert.Positive(t, uses)
}

// actionPin is an action pinned to a full commit SHA: a tag can be moved to other code by whoever controls the
// action's repository, a commit cannot.
var actionPin = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@]+)?@[0-9a-f]{40}$`)

// pinnedVersions reads a workflow's raw lines for the release each pinned commit is, written as a comment after
// it (`uses: owner/action@<sha> # v1.2.3`), which YAML parsing drops: the version a reader and an updater go by.
func pinnedVersions(t *testing.T, file string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	out := map[string]string{}
	re := regexp.MustCompile(`(?m)^\s*(?:- )?uses:\s*(\S+)\s*#\s*(v\d+\.\d+\.\d+)\b`)
	for _, m := range re.FindAllStringSubmatch(string(raw), -1) {
		out[m[1]] = m[2]
	}
	return out
}

func assertPinnedToACommit(t *testing.T, uses string, versions map[string]string, where string) {
	t.Helper()
	assert.Regexpf(t, actionPin, uses, "%s: %s is pinned to a full commit SHA, never a tag or a branch", where, uses)
	assert.NotEmptyf(t, versions[uses], "%s: %s names its release in a comment (# vX.Y.Z)", where, uses)
}

func TestPullRequestWorkflow_andDeployWorkflow_storeNoLongLivedCredentials(t *testing.T) {
	t.Parallel()
	files := []string{}
	for _, wf := range dlvWorkflows(t) {
		files = append(files, wf.path)
	}
	files = append(files, dlvPath(t, "deployments/settings/settings.go"), dlvPath(t, "deployments/Pulumi.settings.yaml"))
	forbidden := []string{"aws-access-key-id", "aws-secret-access-key", "aws_access_key_id", "aws_secret_access_key",
		"aws-session-token", "secrets.aws", "secrets.pulumi_access_token"}
	for _, f := range files {
		raw := strings.ToLower(string(dlvRead(t, f)))
		for _, word := range forbidden {
			assert.NotContainsf(t, raw, word, "%s: credentials come from OIDC, never from a stored key", f)
		}
	}

	var exchanges int
	for _, wf := range dlvWorkflows(t) {
		for name, job := range wf.Jobs {
			if !dlvRunsPulumi(job) {
				continue
			}
			exchanges++
			aws := dlvStepUsing(t, job, "aws-actions/configure-aws-credentials")
			assert.NotEmptyf(t, aws.With["role-to-assume"], "%s job %s assumes a role through OIDC", wf.rel, name)
			auth := dlvStepUsing(t, job, "pulumi/auth-actions")
			// Never an organization token: with one, code in dev's unreviewed job could start or edit prod's update.
			assert.Equalf(t, "urn:pulumi:token-type:access_token:team", auth.With["requested-token-type"],
				"%s job %s gets a team token, with its team's stack rights only", wf.rel, name)
			if wf.rel == dlvPullRequestRel {
				assert.Equalf(t, "team:${{ vars.PULUMI_PREVIEW_TEAM }}", auth.With["scope"], "%s job %s runs pull request code: the read-only team", wf.rel, name)
			} else {
				assert.Equalf(t, "team:${{ vars.PULUMI_DEPLOY_TEAM }}", auth.With["scope"],
					"%s job %s: the team of its GitHub environment, which may write only that stack", wf.rel, name)
				assert.NotEmptyf(t, job.Environment.Name, "%s job %s reads PULUMI_DEPLOY_TEAM from its environment", wf.rel, name)
			}
			assert.Equalf(t, "${{ vars.PULUMI_ORGANIZATION }}", auth.With["organization"], "%s job %s", wf.rel, name)
			assert.Regexpf(t, `^v2\.([1-9]\d*)\.\d+$`, wf.version(auth.Uses),
				"%s job %s: pulumi/auth-actions v2.0.0 fails to load; v2.1.0 or later", wf.rel, name)
		}
	}
	assert.Positive(t, exchanges)
}

func TestPullRequestWorkflow_andDeployWorkflow_usePulumiActionsV7(t *testing.T) {
	t.Parallel()
	var steps int
	for _, wf := range dlvWorkflows(t) {
		for name, job := range wf.Jobs {
			for _, s := range job.Steps {
				if strings.HasPrefix(s.Uses, "pulumi/actions@") {
					steps++
					assert.Regexpf(t, `^v7(\.\d+){0,2}$`, wf.version(s.Uses), "%s job %s", wf.rel, name)
				}
			}
		}
	}
	assert.Positive(t, steps)
}

func TestPullRequestWorkflow_andDeployWorkflow_pinThePulumiCLIToTheSDKVersion(t *testing.T) {
	t.Parallel()
	sdk := dlvModuleVersion(t, dlvPulumiSDKModule)
	for _, wf := range dlvWorkflows(t) {
		for name, job := range wf.Jobs {
			for _, s := range job.Steps {
				if !strings.HasPrefix(s.Uses, "pulumi/actions@") {
					continue
				}
				assert.Equalf(t, "${{ env.PULUMI_VERSION }}", s.With["pulumi-version"], "%s job %s", wf.rel, name)
				assert.Equalf(t, strings.TrimPrefix(sdk, "v"), wf.Env["PULUMI_VERSION"],
					"%s: the Pulumi CLI matches %s in go.mod", wf.rel, dlvPulumiSDKModule)
			}
		}
	}
}

// pulumi-eks asserts at run time that kubectl and the AWS CLI are on PATH.
func TestPullRequestWorkflow_andDeployWorkflow_installVerifiedKubectlBeforePulumi(t *testing.T) {
	t.Parallel()
	pins := map[string]bool{}
	for _, wf := range dlvWorkflows(t) {
		for name, job := range wf.Jobs {
			if !dlvRunsPulumi(job) {
				continue
			}
			pins[wf.Env["KUBECTL_VERSION"]+" "+wf.Env["KUBECTL_SHA256"]] = true
			assert.Regexpf(t, `^v\d+\.\d+\.\d+$`, wf.Env["KUBECTL_VERSION"], "%s: an exact kubectl version", wf.rel)
			assert.Regexpf(t, `^[0-9a-f]{64}$`, wf.Env["KUBECTL_SHA256"], "%s: the kubectl SHA-256", wf.rel)

			pulumiAt := dlvStepIndex(job, func(s dlvStep) bool { return strings.HasPrefix(s.Uses, "pulumi/actions@") })
			setupAt := dlvStepIndex(job, func(s dlvStep) bool { return strings.HasPrefix(s.Uses, "azure/setup-kubectl@") })
			verifyAt := dlvStepIndex(job, func(s dlvStep) bool {
				return strings.Contains(s.Run, `echo "${KUBECTL_SHA256}  $(command -v kubectl)" | sha256sum --check`)
			})
			awsAt := dlvStepIndex(job, func(s dlvStep) bool { return strings.Contains(s.Run, "aws --version") })
			require.GreaterOrEqualf(t, setupAt, 0, "%s job %s installs kubectl", wf.rel, name)
			assert.Equalf(t, "${{ env.KUBECTL_VERSION }}", job.Steps[setupAt].With["version"], "%s job %s", wf.rel, name)
			assert.Truef(t, setupAt < verifyAt && verifyAt < pulumiAt,
				"%s job %s verifies the installed kubectl against KUBECTL_SHA256 before running Pulumi", wf.rel, name)
			assert.Truef(t, awsAt >= 0 && awsAt < pulumiAt, "%s job %s checks the AWS CLI before running Pulumi",
				wf.rel, name)
		}
	}
	assert.Len(t, pins, 1, "every workflow pins the same kubectl")
}

func TestPullRequestWorkflow_andDeployWorkflow_runTheTestsBeforeAnyPulumiJob(t *testing.T) {
	t.Parallel()
	for _, rel := range []string{dlvPullRequestRel, dlvDeployRel} {
		wf := dlvLoadWorkflow(t, rel)
		test, ok := wf.Jobs["test"]
		require.Truef(t, ok, "%s has a job named test", rel)
		assert.Emptyf(t, test.Needs, "%s: test runs first", rel)
		goSetup := dlvStepUsing(t, test, "actions/setup-go")
		assert.Equal(t, "go.mod", goSetup.With["go-version-file"])
		assert.Equal(t, "go.sum", goSetup.With["cache-dependency-path"])
		assert.Equalf(t, 0, dlvStepIndex(test, func(s dlvStep) bool { return strings.HasPrefix(s.Uses, "actions/checkout@") }),
			"%s: test checks out the repository first", rel)
		assert.GreaterOrEqualf(t, dlvStepIndex(test, func(s dlvStep) bool { return strings.TrimSpace(s.Run) == "bash .ci/run" }),
			0, "%s: test runs the test entry point", rel)

		for name, job := range wf.Jobs {
			if dlvRunsPulumi(job) {
				assert.Truef(t, dlvDependsOn(wf, name, "test"), "%s job %s waits for the tests", rel, name)
			}
		}
	}
}

func TestPullRequestWorkflow_andDeployWorkflow_keepNoGitTokenInTheCheckout(t *testing.T) {
	t.Parallel()
	for _, wf := range dlvWorkflows(t) {
		for name, job := range wf.Jobs {
			for _, s := range job.Steps {
				if strings.HasPrefix(s.Uses, "actions/checkout@") {
					assert.Equalf(t, "false", s.With["persist-credentials"], "%s job %s", wf.rel, name)
				}
			}
		}
	}
}

// ---------------------------------------------------------------------------------------------------------
// Pull requests: read-only previews

func TestPullRequestWorkflow_runsForPullRequestsToMainOnly(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	require.Equal(t, []string{"pull_request"}, dlvSortedKeys(wf.On),
		"pull_request runs the pull request's code without secrets; pull_request_target would hand it the base's")
	assert.Equal(t, []string{"main"}, wf.On["pull_request"].Branches)
}

// TestPullRequestWorkflow_previewsOnlyDevWithADiffCommentedOnThePR: a preview runs the pull request's code with
// the stack's decrypted configuration, so only dev is previewed; prod has no preview role at all.
func TestPullRequestWorkflow_previewsOnlyDevWithADiffCommentedOnThePR(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	job, name := dlvJobRunning(t, wf, "preview")
	assert.Equal(t, "test", strings.Join(job.Needs, ","), "previews wait for the tests")

	var stacks []string
	for _, entry := range job.Strategy.Matrix.Include {
		stacks = append(stacks, entry["stack"])
	}
	assert.Equal(t, []string{"dev"}, stacks, "job %s previews dev only", name)
	assert.NotContains(t, string(wf.raw), "PROD_PREVIEW_ROLE_ARN")

	preview := dlvStepUsing(t, job, "pulumi/actions")
	assert.Equal(t, "${{ vars.PULUMI_ORGANIZATION }}/${{ matrix.stack }}", preview.With["stack-name"])
	assert.Equal(t, "true", preview.With["diff"])
	assert.Equal(t, "true", preview.With["comment-on-pr"])
	assert.NotEmpty(t, preview.With["github-token"], "the comment is posted with the job's token")
	assert.NotEqual(t, "true", preview.With["refresh"], "a preview only reads")
	assert.Equal(t, "write", job.Permissions["pull-requests"], "the comment needs pull-requests: write")
}

func TestPullRequestWorkflow_previewsWithDevsReadOnlyRole(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	job, name := dlvJobRunning(t, wf, "preview")

	// The preview role trusts the subject ...:pull_request; a job in an environment would send
	// ...:environment:NAME instead, which only the deploy roles trust.
	assert.Emptyf(t, job.Environment.Name, "job %s runs outside any GitHub environment", name)

	aws := dlvStepUsing(t, job, "aws-actions/configure-aws-credentials")
	assert.Equal(t, "${{ matrix.preview-role-arn }}", aws.With["role-to-assume"])
	assert.Equal(t, "${{ vars.AWS_REGION }}", aws.With["aws-region"])
	assert.Equal(t, "${{ vars.DEV_PREVIEW_ROLE_ARN }}", job.Strategy.Matrix.Include[0]["preview-role-arn"])
	assert.False(t, strings.Contains(strings.ToLower(string(wf.raw)), "deploy_role_arn"),
		"pull requests never reach a deploy role")
}

func TestPullRequestWorkflow_skipsPreviewsForPullRequestsFromForks(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	for name, job := range wf.Jobs {
		if dlvAssumesRole(job) {
			assert.Containsf(t, job.If, dlvForkGuard, "job %s: forks get no OIDC token and must not try", name)
		}
	}
}

func TestPullRequestWorkflow_cancelsSupersededRunsOfTheSamePullRequest(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	require.NotNil(t, wf.Concurrency)
	assert.Contains(t, wf.Concurrency.Group, "${{ github.event.pull_request.number }}")
	assert.Equal(t, "true", wf.Concurrency.CancelInProgress)
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "pulumi/actions@") {
				assert.Equalf(t, "preview", s.With["command"], "job %s: a cancellable workflow only previews", name)
			}
		}
	}
}

// ---------------------------------------------------------------------------------------------------------
// Merges: dev, then prod behind its reviewers

func TestDeployWorkflow_runsOnPushToMainAndByHand(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	assert.Equal(t, []string{"push", "workflow_dispatch"}, dlvSortedKeys(wf.On))
	assert.Equal(t, []string{"main"}, wf.On["push"].Branches)
}

func TestDeployWorkflow_deploysOnlyMainAndOnlyWhenChosenOverPulumiDeployments(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	var ups int
	for name, job := range wf.Jobs {
		if len(dlvUpStacks(t, job)) == 0 {
			continue
		}
		ups++
		// workflow_dispatch may be started on any branch.
		assert.Containsf(t, job.If, "github.ref == 'refs/heads/main'", "job %s", name)
		// Pulumi Deployments deploys the same merges when DEPLOY_WITH is not github-actions.
		assert.Containsf(t, job.If, "vars.DEPLOY_WITH == 'github-actions'", "job %s", name)
	}
	assert.Equal(t, len(dlvStacks), ups)
}

// Every job that runs `pulumi up`, in any workflow, queues behind the previous up of its stack.
func TestDeployWorkflow_serializesUpsPerStack(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, wf := range dlvWorkflows(t) {
		for name, job := range wf.Jobs {
			for _, stack := range dlvUpStacks(t, job) {
				seen[stack] = true
				if wf.Concurrency != nil {
					assert.Equalf(t, "false", wf.Concurrency.CancelInProgress,
						"%s: a workflow that updates stacks is never cancelled by a newer run", wf.rel)
				}
				require.NotNilf(t, job.Concurrency, "%s job %s updates %s", wf.rel, name, stack)
				assert.Equalf(t, "pulumi-up-"+stack, job.Concurrency.Group, "%s job %s: one group per stack", wf.rel, name)
				assert.Equalf(t, "false", job.Concurrency.CancelInProgress,
					"%s job %s: a cancelled up leaves pending operations; queue instead", wf.rel, name)
			}
		}
	}
	assert.Equal(t, map[string]bool{"dev": true, "prod": true}, seen)
}

func TestDeployWorkflow_upsDevThenProdBehindTheProdEnvironment(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	upJob := map[string]string{}
	for name, job := range wf.Jobs {
		for _, stack := range dlvUpStacks(t, job) {
			require.NotContainsf(t, upJob, stack, "one job updates %s", stack)
			upJob[stack] = name
			assert.Equalf(t, stack, job.Environment.Name,
				"job %s runs in GitHub environment %s, whose subject the %s deploy role trusts", name, stack, stack)
		}
	}
	require.Contains(t, upJob, "dev")
	require.Contains(t, upJob, "prod")
	assert.Equal(t, []string{"test"}, []string(wf.Jobs[upJob["dev"]].Needs), "dev is updated once the tests pass")
	assert.Contains(t, wf.Jobs[upJob["prod"]].Needs, upJob["dev"], "prod is updated only after dev succeeded")
}

// TestDeployWorkflow_prodRunsOnItsOwnRunnerOrStopsBeforeTouchingProd: prod's API admits only listed ranges and
// GitHub-hosted runners change addresses, so prod's up runs on the runner PROD_RUNNER names, and a run without
// that variable fails in a job that holds no credentials, before anything reaches prod.
func TestDeployWorkflow_prodRunsOnItsOwnRunnerOrStopsBeforeTouchingProd(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	var prod string
	for name, job := range wf.Jobs {
		if slices.Contains(dlvUpStacks(t, job), "prod") {
			prod = name
		}
	}
	require.NotEmpty(t, prod)
	assert.Equal(t, "${{ vars.PROD_RUNNER }}", wf.Jobs[prod].RunsOn)
	guard, ok := wf.Jobs["prod-runner"]
	require.True(t, ok, "a job checks PROD_RUNNER")
	assert.Contains(t, wf.Jobs[prod].Needs, "prod-runner")
	assert.False(t, dlvAssumesRole(guard), "the check holds no credentials")
	require.Len(t, guard.Steps, 1)
	assert.Equal(t, "${{ vars.PROD_RUNNER }}", guard.Steps[0].Env["PROD_RUNNER"])
	assert.Contains(t, guard.Steps[0].Run, `if [ -z "${PROD_RUNNER}" ]`)
	assert.Contains(t, guard.Steps[0].Run, "exit 1")
	assert.Contains(t, guard.Steps[0].Run, "::error")
	assert.Equal(t, wf.Jobs[prod].If, guard.If, "the check runs whenever prod would")
}

// TestDeployWorkflow_sessionsOutliveTheLongestUpdate: each up job's AWS session lasts as long as the slowest
// routine update can take, within the deploy role's maximum, and the job times out inside its session.
func TestDeployWorkflow_sessionsOutliveTheLongestUpdate(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	var ups int
	for name, job := range wf.Jobs {
		if len(dlvUpStacks(t, job)) == 0 {
			continue
		}
		ups++
		aws := dlvStepUsing(t, job, "aws-actions/configure-aws-credentials")
		assert.Equalf(t, fmt.Sprint(int(infra.DeploySession.Seconds())), aws.With["role-duration-seconds"], "job %s", name)
		timeout := time.Duration(job.TimeoutMinutes) * time.Minute
		assert.Greaterf(t, timeout, infra.LongestUpdate, "job %s outlasts the longest update", name)
		assert.LessOrEqualf(t, timeout, infra.DeploySession, "job %s ends inside its session", name)
	}
	assert.Equal(t, 2, ups)
}

func TestDeployWorkflow_assumesTheDeployRoleOfTheJobsEnvironment(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	for name, job := range wf.Jobs {
		if len(dlvUpStacks(t, job)) == 0 {
			continue
		}
		aws := dlvStepUsing(t, job, "aws-actions/configure-aws-credentials")
		assert.Equalf(t, "${{ vars.DEPLOY_ROLE_ARN }}", aws.With["role-to-assume"],
			"job %s reads the role from its environment's variables, so dev can never get prod's role", name)
		assert.Equalf(t, "${{ vars.AWS_REGION }}", aws.With["aws-region"], "job %s", name)
	}
}

func TestDeployWorkflow_appliesWhatThePreviewShowedWithoutRefreshing(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "pulumi/actions@") && s.With["command"] != "" {
				assert.Equalf(t, "false", s.With["refresh"], "job %s", name)
				assert.Equalf(t, "${{ vars.PULUMI_ORGANIZATION }}/"+job.Environment.Name, s.With["stack-name"],
					"job %s updates the stack of its environment", name)
			}
		}
	}
}

// TestDeployWorkflow_stopsBeforeAnIAMChangeTheDeployRoleMayNotMake runs each up job's guard step with a `pulumi`
// that prints `pulumi preview --json` (the PreviewDigest of pulumi/pulumi pkg/display/json.go): the job stops,
// naming the resources, before an update that creates or changes a role or policy, and goes on for changes the
// deploy role may make (tags, OIDC providers, everything else).
func TestDeployWorkflow_stopsBeforeAnIAMChangeTheDeployRoleMayNotMake(t *testing.T) {
	t.Parallel()
	jq, err := exec.LookPath("jq")
	require.NoError(t, err, "jq is not on PATH (Debian: apt-get install jq)")
	const role = "urn:pulumi:dev::eks-gitops-platform::platform:infra:GitHubOIDC$aws:iam/role:Role::github-push-role"
	cases := []struct {
		name  string
		steps string
		stops bool
	}{
		{"nothing to do", `[]`, false},
		{"routine change", `[{"op":"update","urn":"urn:pulumi:dev::eks-gitops-platform::platform:infra:NodeGroup$aws:eks/nodeGroup:NodeGroup::nodes","diffReasons":["scalingConfig"]}]`, false},
		{"tags on a role", `[{"op":"update","urn":"` + role + `","diffReasons":["tags","tagsAll"]}]`, false},
		{"an OIDC provider", `[{"op":"update","urn":"urn:pulumi:dev::eks-gitops-platform::x$aws:iam/openIdConnectProvider:OpenIdConnectProvider::p","diffReasons":["thumbprintLists"]}]`, false},
		{"a trust change", `[{"op":"update","urn":"` + role + `","diffReasons":["assumeRolePolicy"]},{"op":"same","urn":"x"}]`, true},
		{"a new role policy", `[{"op":"create","urn":"urn:pulumi:dev::eks-gitops-platform::x$aws:iam/rolePolicy:RolePolicy::p"}]`, true},
		{"a replaced role", `[{"op":"create-replacement","urn":"` + role + `","replaceReasons":["path"]}]`, true},
	}
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	var guarded int
	for name, job := range wf.Jobs {
		up := dlvStepIndex(job, func(s dlvStep) bool { return s.With["command"] == "up" })
		if up < 0 {
			continue
		}
		guard := dlvStepIndex(job, func(s dlvStep) bool { return strings.Contains(s.Run, "pulumi preview") })
		require.GreaterOrEqualf(t, guard, 0, "job %s checks for IAM changes", name)
		require.Less(t, guard, up, "job %s checks before its update", name)
		assert.Equal(t, "${{ vars.PULUMI_ORGANIZATION }}/"+job.Environment.Name, job.Steps[guard].Env["STACK"])
		guarded++
		for _, tc := range cases {
			bin := t.TempDir()
			digest := filepath.Join(bin, "preview.json")
			require.NoError(t, os.WriteFile(digest, []byte(`{"steps":`+tc.steps+`,"changeSummary":{}}`), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(bin, "pulumi"),
				[]byte("#!/bin/sh\ncat '"+digest+"'\n"), 0o755))
			require.NoError(t, os.Symlink(jq, filepath.Join(bin, "jq")))
			cmd := exec.Command("bash", "-eo", "pipefail", "-c", job.Steps[guard].Run)
			cmd.Dir = t.TempDir()
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "STACK=acme/" + job.Environment.Name}
			out, err := cmd.CombinedOutput()
			if tc.stops {
				require.Errorf(t, err, "job %s, %s: the guard lets it through", name, tc.name)
				assert.Contains(t, string(out), "IAM changes are applied from a laptop")
				assert.Contains(t, string(out), "aws:iam/", "it names the resources")
			} else {
				assert.NoErrorf(t, err, "job %s, %s: %s", name, tc.name, out)
			}
		}
	}
	assert.Equal(t, 2, guarded)
}

// ---------------------------------------------------------------------------------------------------------
// Workflow model: the parts of the GitHub Actions syntax these tests read

type dlvWorkflow struct {
	rel         string
	path        string
	raw         []byte
	On          map[string]dlvTrigger `yaml:"on"`
	Permissions map[string]string     `yaml:"permissions"`
	Concurrency *dlvConcurrency       `yaml:"concurrency"`
	Env         map[string]string     `yaml:"env"`
	Jobs        map[string]dlvJob     `yaml:"jobs"`
}

type dlvTrigger struct {
	Branches []string `yaml:"branches"`
}

type dlvJob struct {
	Name           string            `yaml:"name"`
	RunsOn         string            `yaml:"runs-on"`
	TimeoutMinutes int               `yaml:"timeout-minutes"`
	Needs          dlvStrings        `yaml:"needs"`
	If             string            `yaml:"if"`
	Environment    dlvEnvironment    `yaml:"environment"`
	Permissions    map[string]string `yaml:"permissions"`
	Concurrency    *dlvConcurrency   `yaml:"concurrency"`
	Strategy       struct {
		Matrix struct {
			Include []map[string]string `yaml:"include"`
		} `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []dlvStep `yaml:"steps"`
}

type dlvStep struct {
	Name  string            `yaml:"name"`
	Shell string            `yaml:"shell"`
	Uses  string            `yaml:"uses"`
	Run   string            `yaml:"run"`
	With  map[string]string `yaml:"with"`
	Env   map[string]string `yaml:"env"`
}

// dlvConcurrency is `concurrency: GROUP` or `concurrency: {group, cancel-in-progress}`.
type dlvConcurrency struct {
	Group            string
	CancelInProgress string
}

func (c *dlvConcurrency) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.Group = n.Value
		return nil
	}
	var m struct {
		Group            string `yaml:"group"`
		CancelInProgress string `yaml:"cancel-in-progress"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	c.Group, c.CancelInProgress = m.Group, m.CancelInProgress
	return nil
}

// dlvEnvironment is `environment: NAME` or `environment: {name, url}`.
type dlvEnvironment struct{ Name string }

func (e *dlvEnvironment) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		e.Name = n.Value
		return nil
	}
	var m struct {
		Name string `yaml:"name"`
	}
	err := n.Decode(&m)
	e.Name = m.Name
	return err
}

// dlvStrings is a YAML string or list of strings (`needs`).
type dlvStrings []string

func (s *dlvStrings) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = []string{n.Value}
		return nil
	}
	var l []string
	err := n.Decode(&l)
	*s = l
	return err
}

// ---------------------------------------------------------------------------------------------------------
// Reading the files

func dlvRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"), "tests run from the tests directory of the module")
	return root
}

func dlvPath(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(dlvRoot(t), filepath.FromSlash(rel))
}

func dlvRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func dlvLoadWorkflow(t *testing.T, rel string) dlvWorkflow {
	t.Helper()
	wf := dlvWorkflow{rel: rel, path: dlvPath(t, rel)}
	wf.raw = dlvRead(t, wf.path)
	require.NoErrorf(t, yaml.Unmarshal(wf.raw, &wf), "%s", rel)
	require.NotEmptyf(t, wf.Jobs, "%s has jobs", rel)
	return wf
}

// dlvWorkflows loads every workflow file, requiring the two this repository relies on.
func dlvWorkflows(t *testing.T) []dlvWorkflow {
	t.Helper()
	var rels []string
	for _, pattern := range []string{"*.yml", "*.yaml"} {
		matches, err := filepath.Glob(dlvPath(t, path.Join(dlvWorkflowDir, pattern)))
		require.NoError(t, err)
		for _, m := range matches {
			rels = append(rels, path.Join(dlvWorkflowDir, filepath.Base(m)))
		}
	}
	require.Subset(t, rels, []string{dlvPullRequestRel, dlvDeployRel})
	var wfs []dlvWorkflow
	for _, rel := range rels {
		wfs = append(wfs, dlvLoadWorkflow(t, rel))
	}
	return wfs
}

// version is the release a step's action is pinned to, from the comment after its commit SHA.
func (wf dlvWorkflow) version(uses string) string {
	re := regexp.MustCompile(`(?m)^\s*(?:- )?uses:\s*` + regexp.QuoteMeta(uses) + `\s*#\s*(v\d+\.\d+\.\d+)\b`)
	if m := re.FindSubmatch(wf.raw); m != nil {
		return string(m[1])
	}
	return ""
}

func dlvAssumesRole(job dlvJob) bool {
	return slices.ContainsFunc(job.Steps, func(s dlvStep) bool {
		return strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") ||
			strings.HasPrefix(s.Uses, "pulumi/auth-actions@")
	})
}

func dlvRunsPulumi(job dlvJob) bool {
	return slices.ContainsFunc(job.Steps, func(s dlvStep) bool {
		return strings.HasPrefix(s.Uses, "pulumi/actions@") || strings.Contains(s.Run, "pulumi ")
	})
}

func dlvStepIndex(job dlvJob, match func(dlvStep) bool) int {
	return slices.IndexFunc(job.Steps, match)
}

func dlvStepUsing(t *testing.T, job dlvJob, action string) dlvStep {
	t.Helper()
	at := dlvStepIndex(job, func(s dlvStep) bool { return strings.HasPrefix(s.Uses, action+"@") })
	require.GreaterOrEqualf(t, at, 0, "job %q uses %s", job.Name, action)
	return job.Steps[at]
}

// dlvJobRunning returns the one job that runs the given pulumi command.
func dlvJobRunning(t *testing.T, wf dlvWorkflow, command string) (dlvJob, string) {
	t.Helper()
	var names []string
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "pulumi/actions@") && s.With["command"] == command {
				names = append(names, name)
			}
		}
	}
	require.Lenf(t, names, 1, "%s: one job runs pulumi %s", wf.rel, command)
	return wf.Jobs[names[0]], names[0]
}

// dlvUpStacks returns the stacks a job updates, from `pulumi/actions` steps with command up or from
// `pulumi up` in run steps. A stack name must end in a literal stack so that its concurrency can be checked.
func dlvUpStacks(t *testing.T, job dlvJob) []string {
	t.Helper()
	upRun := regexp.MustCompile(`pulumi\s+(up|update)\b`)
	stackFlag := regexp.MustCompile(`(?:--stack|-s)[ =](\S+)`)
	var stacks []string
	for _, s := range job.Steps {
		var name string
		switch {
		case strings.HasPrefix(s.Uses, "pulumi/actions@") && (s.With["command"] == "up" || s.With["command"] == "update"):
			name = s.With["stack-name"]
		case upRun.MatchString(s.Run):
			m := stackFlag.FindStringSubmatch(s.Run)
			require.NotNilf(t, m, "job %q: `pulumi up` names its stack", job.Name)
			name = m[1]
		default:
			continue
		}
		stack := name[strings.LastIndex(name, "/")+1:]
		require.NotContainsf(t, stack, "${{", "job %q: the stack of %q must be literal", job.Name, name)
		stacks = append(stacks, stack)
	}
	return stacks
}

func dlvDependsOn(wf dlvWorkflow, job, on string) bool {
	for _, need := range wf.Jobs[job].Needs {
		if need == on || dlvDependsOn(wf, need, on) {
			return true
		}
	}
	return false
}

func dlvSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func dlvModuleVersion(t *testing.T, module string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + `\s+(v\S+)`).
		FindStringSubmatch(string(dlvRead(t, dlvPath(t, "go.mod"))))
	require.NotNilf(t, m, "go.mod requires %s", module)
	return m[1]
}

// dlvTriggers applies Pulumi Deployments path filters to one changed file: it triggers when it matches an
// include filter (or there is none) and no `!` exclude filter. Each filter matches the whole path; `**`
// matches any number of directories.
func dlvTriggers(filters []string, file string) bool {
	var includes, matched bool
	for _, f := range filters {
		if exclude, ok := strings.CutPrefix(f, "!"); ok {
			if dlvGlob(exclude, file) {
				return false
			}
			continue
		}
		includes = true
		matched = matched || dlvGlob(f, file)
	}
	return matched || !includes
}

func dlvGlob(pattern, file string) bool {
	return dlvGlobParts(strings.Split(pattern, "/"), strings.Split(file, "/"))
}

func dlvGlobParts(pattern, file []string) bool {
	if len(pattern) == 0 {
		return len(file) == 0
	}
	if pattern[0] == "**" {
		for i := 0; i <= len(file); i++ {
			if dlvGlobParts(pattern[1:], file[i:]) {
				return true
			}
		}
		return false
	}
	if len(file) == 0 {
		return false
	}
	ok, err := path.Match(pattern[0], file[0])
	return err == nil && ok && dlvGlobParts(pattern[1:], file[1:])
}

// TestPullRequestWorkflow_commentsTheCostChangeWithoutAWriteTokenForThePullRequestsCode: the job that runs the
// pull request's code (and the base's) to estimate every stack's cost can only read; the job that may comment
// runs none of it (no checkout, no Go) and posts the text it is handed, updating its own comment.
func TestPullRequestWorkflow_commentsTheCostChangeWithoutAWriteTokenForThePullRequestsCode(t *testing.T) {
	t.Parallel()
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	estimate, ok := wf.Jobs["cost"]
	require.True(t, ok, "a cost job")
	assert.Equal(t, map[string]string{"contents": "read"}, estimate.Permissions)
	checkout := dlvStepUsing(t, estimate, "actions/checkout")
	assert.Equal(t, "0", checkout.With["fetch-depth"], "the base commit is in the clone")
	var script strings.Builder
	for _, s := range estimate.Steps {
		script.WriteString(s.Run + "\n")
		for k, v := range s.Env {
			script.WriteString(k + "=" + v + "\n")
		}
	}
	for _, want := range []string{"git worktree add --detach \"$RUNNER_TEMP/base\" HEAD^1", "-format cost-json",
		"-cost-comment \"$RUNNER_TEMP/base-cost\" -alert-share \"$ALERT_SHARE\"", "vars.COST_ALERT_SHARE || '0.1'",
		"<!-- cost-estimate -->"} {
		assert.Contains(t, script.String(), want)
	}

	post, ok := wf.Jobs["cost-comment"]
	require.True(t, ok, "a job that posts the estimate")
	assert.Equal(t, []string{"cost"}, []string(post.Needs))
	assert.Equal(t, map[string]string{"pull-requests": "write"}, post.Permissions)
	assert.Contains(t, post.If, "github.event.pull_request.head.repo.full_name == github.repository")
	for _, s := range post.Steps {
		assert.False(t, strings.HasPrefix(s.Uses, "actions/checkout@") || strings.HasPrefix(s.Uses, "actions/setup-go@"),
			"the commenting job runs none of the pull request's code: %s", s.Uses)
		assert.NotRegexp(t, `(^|\s)(go|make|bash)\s`, s.Run)
	}
	dlvStepUsing(t, post, "actions/download-artifact")
	assert.Equal(t, "bash", post.Steps[len(post.Steps)-1].Shell, "bash runs with pipefail: a failing gh api stops the job")
	last := post.Steps[len(post.Steps)-1].Run
	assert.Contains(t, last, `select(.user.login == "github-actions[bot]" and (.body | startswith("<!-- cost-estimate -->")))`,
		"updates its own comment, not one anybody could plant")
	assert.Contains(t, last, "--method PATCH")
}

// TestPullRequestWorkflow_costCommentUpdatesItsOwnCommentOnly runs the posting step's script as GitHub runs a
// `shell: bash` step (bash -eo pipefail), with a stand-in `gh` that answers the comment list through real jq: the
// bot's own comment is updated (not one anybody planted with the marker), a pull request without one gets a new
// one, and a failing list stops the step before it posts a duplicate.
func TestPullRequestWorkflow_costCommentUpdatesItsOwnCommentOnly(t *testing.T) {
	t.Parallel()
	_, err := exec.LookPath("jq")
	require.NoError(t, err, "jq is required (`make system` installs it)")
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	post := wf.Jobs["cost-comment"]
	step := post.Steps[len(post.Steps)-1]
	require.Equal(t, "bash", step.Shell)

	run := func(comments string, listFails bool) (calls string, err error) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "cost-comment.md"), []byte("<!-- cost-estimate -->\n### Estimated monthly cost\n"), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "comments.json"), []byte(comments), 0o600))
		fail := "0"
		if listFails {
			fail = "1"
		}
		fake := `#!/usr/bin/env bash
echo "gh $*" >> "$RUNNER_TEMP/calls"
jq_filter=""
method=GET
while [ $# -gt 0 ]; do
  case $1 in --jq) jq_filter=$2; shift 2 ;; --method) method=$2; shift 2 ;; *) shift ;; esac
done
if [ "$method" = GET ]; then
  [ "` + fail + `" = 0 ] || { echo "HTTP 502" >&2; exit 1; }
  jq -r "$jq_filter" "$RUNNER_TEMP/comments.json"
fi
`
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "gh"), []byte(fake), 0o755))
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step.Run)
		cmd.Env = append(os.Environ(), "RUNNER_TEMP="+dir, "REPO=acme/platform", "PR=42", "GH_TOKEN=token",
			"PATH="+filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		b, _ := os.ReadFile(filepath.Join(dir, "calls"))
		return string(b), errors.Join(err, errorIf(err != nil, string(out)))
	}

	calls, err := run(`[{"id": 1, "user": {"login": "someone"}, "body": "<!-- cost-estimate --> planted"},
		{"id": 7, "user": {"login": "github-actions[bot]"}, "body": "<!-- cost-estimate -->\nold"}]`, false)
	require.NoError(t, err)
	assert.Contains(t, calls, "gh api --method PATCH repos/acme/platform/issues/comments/7 -F body=@")
	assert.NotContains(t, calls, "comments/1 ")
	assert.NotContains(t, calls, "--method POST")

	calls, err = run(`[{"id": 1, "user": {"login": "someone"}, "body": "<!-- cost-estimate --> planted"}]`, false)
	require.NoError(t, err)
	assert.Contains(t, calls, "gh api --method POST repos/acme/platform/issues/42/comments -F body=@")
	assert.NotContains(t, calls, "PATCH")

	calls, err = run(`[]`, true)
	require.Error(t, err, "a failing list fails the step")
	assert.NotContains(t, calls, "--method POST", "no duplicate comment")
}

// errorIf is an error with the text when the condition holds, else nil.
func errorIf(cond bool, text string) error {
	if cond {
		return errors.New(text)
	}
	return nil
}
