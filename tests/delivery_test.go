package tests

// Tests of how this repository itself is delivered: the GitHub Actions workflows in .github/workflows and the
// Pulumi Deployments settings in Pulumi.<stack>.deploy.yaml. Neither path may hold a long-lived AWS key or
// Pulumi token; both must update one stack at a time, dev before prod; both need kubectl and the AWS CLI
// because pulumi-eks calls them.

import (
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
	for _, wf := range dlvWorkflows(t) {
		assert.Equalf(t, map[string]string{"contents": "read"}, wf.Permissions,
			"%s: the workflow-level permissions are contents: read and nothing else", wf.rel)
	}
}

func TestPullRequestWorkflow_andDeployWorkflow_requestOIDCTokensOnlyInJobsThatAssumeARole(t *testing.T) {
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
			comments := slices.ContainsFunc(job.Steps, func(s dlvStep) bool { return s.With["comment-on-pr"] == "true" })
			for scope, level := range job.Permissions {
				if level != "write" {
					continue
				}
				switch scope {
				case "id-token":
				case "pull-requests":
					assert.Truef(t, comments, "%s job %s: pull-requests: write only to post a preview comment", wf.rel, name)
				default:
					assert.Failf(t, "write access beyond the OIDC token and the preview comment",
						"%s job %s: %s: write", wf.rel, name, scope)
				}
			}
		}
	}
	assert.Positive(t, assuming, "some job assumes a role")
}

func TestPullRequestWorkflow_andDeployWorkflow_pinEveryActionToAVersion(t *testing.T) {
	pinned := regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@]+)?@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$`)
	var uses int
	for _, wf := range dlvWorkflows(t) {
		for name, job := range wf.Jobs {
			for _, s := range job.Steps {
				if s.Uses == "" {
					continue
				}
				uses++
				assert.Regexpf(t, pinned, s.Uses, "%s job %s: pinned to a version tag or a commit SHA, never a branch",
					wf.rel, name)
			}
		}
	}
	assert.Positive(t, uses)
}

func TestPullRequestWorkflow_andDeployWorkflow_storeNoLongLivedCredentials(t *testing.T) {
	files := []string{}
	for _, wf := range dlvWorkflows(t) {
		files = append(files, wf.path)
	}
	for _, stack := range dlvStacks {
		files = append(files, dlvPath(t, dlvDeployFileRel(stack)))
	}
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
			if wf.rel == dlvPullRequestRel {
				assert.Equalf(t, "urn:pulumi:token-type:access_token:team", auth.With["requested-token-type"],
					"%s job %s runs pull request code: a team token with the preview team's rights only", wf.rel, name)
				assert.Equalf(t, "team:${{ vars.PULUMI_PREVIEW_TEAM }}", auth.With["scope"], "%s job %s", wf.rel, name)
			} else {
				assert.Equalf(t, "urn:pulumi:token-type:access_token:organization", auth.With["requested-token-type"],
					"%s job %s exchanges its OIDC token for a Pulumi organization token", wf.rel, name)
			}
			assert.Equalf(t, "${{ vars.PULUMI_ORGANIZATION }}", auth.With["organization"], "%s job %s", wf.rel, name)
			assert.Regexpf(t, `^v2\.([1-9]\d*)\.\d+$`, dlvVersion(auth.Uses),
				"%s job %s: pulumi/auth-actions v2.0.0 fails to load; v2.1.0 or later", wf.rel, name)
		}
	}
	assert.Positive(t, exchanges)
}

func TestPullRequestWorkflow_andDeployWorkflow_usePulumiActionsV7(t *testing.T) {
	var steps int
	for _, wf := range dlvWorkflows(t) {
		for name, job := range wf.Jobs {
			for _, s := range job.Steps {
				if strings.HasPrefix(s.Uses, "pulumi/actions@") {
					steps++
					assert.Regexpf(t, `^v7(\.\d+){0,2}$`, dlvVersion(s.Uses), "%s job %s", wf.rel, name)
				}
			}
		}
	}
	assert.Positive(t, steps)
}

func TestPullRequestWorkflow_andDeployWorkflow_pinThePulumiCLIToTheSDKVersion(t *testing.T) {
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
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	require.Equal(t, []string{"pull_request"}, dlvSortedKeys(wf.On),
		"pull_request runs the pull request's code without secrets; pull_request_target would hand it the base's")
	assert.Equal(t, []string{"main"}, wf.On["pull_request"].Branches)
}

func TestPullRequestWorkflow_previewsDevAndProdWithADiffCommentedOnThePR(t *testing.T) {
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	job, name := dlvJobRunning(t, wf, "preview")
	assert.Equal(t, "test", strings.Join(job.Needs, ","), "previews wait for the tests")

	var stacks []string
	for _, entry := range job.Strategy.Matrix.Include {
		stacks = append(stacks, entry["stack"])
	}
	assert.ElementsMatch(t, dlvStacks, stacks, "job %s previews every stack", name)

	preview := dlvStepUsing(t, job, "pulumi/actions")
	assert.Equal(t, "${{ vars.PULUMI_ORGANIZATION }}/${{ matrix.stack }}", preview.With["stack-name"])
	assert.Equal(t, "true", preview.With["diff"])
	assert.Equal(t, "true", preview.With["comment-on-pr"])
	assert.NotEmpty(t, preview.With["github-token"], "the comment is posted with the job's token")
	assert.NotEqual(t, "true", preview.With["refresh"], "a preview only reads")
	assert.Equal(t, "write", job.Permissions["pull-requests"], "the comment needs pull-requests: write")
}

func TestPullRequestWorkflow_previewsWithTheReadOnlyRoleOfEachStack(t *testing.T) {
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	job, name := dlvJobRunning(t, wf, "preview")

	// The preview roles trust the subject repo:OWNER/REPO:pull_request; a job in an environment would send
	// repo:OWNER/REPO:environment:NAME instead, which only the deploy roles trust.
	assert.Emptyf(t, job.Environment.Name, "job %s runs outside any GitHub environment", name)

	aws := dlvStepUsing(t, job, "aws-actions/configure-aws-credentials")
	assert.Equal(t, "${{ matrix.preview-role-arn }}", aws.With["role-to-assume"])
	assert.Equal(t, "${{ vars.AWS_REGION }}", aws.With["aws-region"])
	roles := map[string]string{}
	for _, entry := range job.Strategy.Matrix.Include {
		roles[entry["stack"]] = entry["preview-role-arn"]
	}
	assert.Equal(t, map[string]string{
		"dev":  "${{ vars.DEV_PREVIEW_ROLE_ARN }}",
		"prod": "${{ vars.PROD_PREVIEW_ROLE_ARN }}",
	}, roles, "each stack is previewed with its own read-only role")
	assert.False(t, strings.Contains(strings.ToLower(string(wf.raw)), "deploy_role_arn"),
		"pull requests never reach a deploy role")
}

func TestPullRequestWorkflow_skipsPreviewsForPullRequestsFromForks(t *testing.T) {
	wf := dlvLoadWorkflow(t, dlvPullRequestRel)
	for name, job := range wf.Jobs {
		if dlvAssumesRole(job) {
			assert.Containsf(t, job.If, dlvForkGuard, "job %s: forks get no OIDC token and must not try", name)
		}
	}
}

func TestPullRequestWorkflow_cancelsSupersededRunsOfTheSamePullRequest(t *testing.T) {
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
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	assert.Equal(t, []string{"push", "workflow_dispatch"}, dlvSortedKeys(wf.On))
	assert.Equal(t, []string{"main"}, wf.On["push"].Branches)
}

func TestDeployWorkflow_deploysOnlyMainAndOnlyWhenChosenOverPulumiDeployments(t *testing.T) {
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
	assert.Equal(t, []string{upJob["dev"]}, []string(wf.Jobs[upJob["prod"]].Needs), "prod is updated only after dev succeeded")
}

func TestDeployWorkflow_assumesTheDeployRoleOfTheJobsEnvironment(t *testing.T) {
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
	wf := dlvLoadWorkflow(t, dlvDeployRel)
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "pulumi/actions@") {
				assert.Equalf(t, "false", s.With["refresh"], "job %s", name)
				assert.Equalf(t, "${{ vars.PULUMI_ORGANIZATION }}/"+job.Environment.Name, s.With["stack-name"],
					"job %s updates the stack of its environment", name)
			}
		}
	}
}

// ---------------------------------------------------------------------------------------------------------
// Pulumi Deployments settings (the file format of `pulumi deployment settings init|pull|push`)

func TestDeploymentSettings_parseWithTheSchemaOfThePulumiCLI(t *testing.T) {
	for _, stack := range dlvStacks {
		t.Run(stack, func(t *testing.T) {
			s := dlvLoadSettings(t, stack)
			require.NotNil(t, s.SourceContext)
			require.NotNil(t, s.SourceContext.Git)
			require.NotNil(t, s.GitHub)
			require.NotNil(t, s.OperationContext)
		})
	}
	// The strict decoder is what catches a misspelt key.
	var f dlvDeployFile
	err := dlvDecodeStrict([]byte("settings:\n  gitHub:\n    deployCommit: true\n"), &f)
	assert.ErrorContains(t, err, "deployCommit")
}

// Deployments can hold one AWS role per stack for every operation. A pull request preview would run the
// branch's code with the deploy role, so Deployments never previews: the pull-request workflow previews
// every stack with its read-only preview role instead.
func TestDeploymentSettings_deployMergesToMainButNeverPreviewsWithTheDeployRole(t *testing.T) {
	for _, stack := range dlvStacks {
		t.Run(stack, func(t *testing.T) {
			s := dlvLoadSettings(t, stack)
			assert.Contains(t, []string{"main", "refs/heads/main"}, s.SourceContext.Git.Branch)
			assert.Empty(t, s.SourceContext.Git.Commit, "a fixed commit would never move")
			assert.True(t, s.GitHub.DeployCommits, "deployCommits")
			assert.False(t, s.GitHub.PreviewPullRequests, "previews run in the pull-request workflow with the read-only role")
			assert.False(t, s.GitHub.PullRequestTemplate, "no review stacks of a whole EKS platform")
			assert.Regexp(t, `^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`, s.GitHub.Repository, "OWNER/NAME")
			assert.Empty(t, s.SourceContext.Git.RepoURL, "the GitHub app source names the repository itself")
		})
	}
}

func TestDeploymentSettings_runTheProjectOfThisRepositoryForAnExistingStack(t *testing.T) {
	for _, stack := range dlvStacks {
		t.Run(stack, func(t *testing.T) {
			s := dlvLoadSettings(t, stack)
			dir := s.SourceContext.Git.RepoDir
			assert.Equal(t, ".", dir, "Pulumi.yaml is at the repository root")
			assert.FileExists(t, dlvPath(t, filepath.Join(dir, "Pulumi.yaml")))
			assert.FileExists(t, dlvPath(t, filepath.Join(dir, "Pulumi."+stack+".yaml")),
				"the settings belong to a stack this repository configures")
		})
	}
	matches, err := filepath.Glob(dlvPath(t, "Pulumi.*.deploy.yaml"))
	require.NoError(t, err)
	for _, m := range matches {
		stack := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), "Pulumi."), ".deploy.yaml")
		assert.Containsf(t, dlvStacks, stack, "%s: settings for a stack the workflows also deploy", m)
	}
}

func TestDeploymentSettings_triggerOnlyOnChangesToTheProgramOrTheirOwnStack(t *testing.T) {
	for _, stack := range dlvStacks {
		t.Run(stack, func(t *testing.T) {
			filters := dlvLoadSettings(t, stack).GitHub.Paths
			require.NotEmpty(t, filters, "without filters every push deploys")
			other := "prod"
			if stack == "prod" {
				other = "dev"
			}
			for _, changed := range []string{"main.go", "stacks/config.go", "infra/cluster.go", "go.mod", "go.sum",
				"Pulumi.yaml", "Pulumi." + stack + ".yaml"} {
				assert.Truef(t, dlvTriggers(filters, changed), "a change to %s deploys %s", changed, stack)
			}
			for _, changed := range []string{"README.md", "docs/delivery.md", "infra/README.md", "examples/service/main.go",
				"tests/delivery_test.go", "infra/cluster_test.go", ".github/workflows/deploy.yml", ".ci/run",
				"Pulumi." + other + ".yaml", "Pulumi." + stack + ".deploy.yaml"} {
				assert.Falsef(t, dlvTriggers(filters, changed), "a change to %s alone does not deploy %s", changed, stack)
			}
		})
	}
}

func TestDeploymentSettings_assumeTheStacksAWSRoleThroughOIDC(t *testing.T) {
	arn := regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]+$`)
	// STS RoleSessionName: 2 to 64 of [\w+=,.@-].
	session := regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	for _, stack := range dlvStacks {
		t.Run(stack, func(t *testing.T) {
			op := dlvLoadSettings(t, stack).OperationContext
			require.NotNil(t, op.OIDC, "credentials come from OIDC")
			require.NotNil(t, op.OIDC.AWS, "AWS OIDC")
			assert.Nil(t, op.OIDC.Azure)
			assert.Nil(t, op.OIDC.GCP)
			aws := op.OIDC.AWS
			assert.Regexp(t, arn, aws.RoleARN)
			assert.Contains(t, aws.RoleARN, stack, "the placeholder names the stack whose deployRoleArn goes here")
			assert.Regexp(t, session, aws.SessionName)
			assert.Contains(t, aws.SessionName, stack, "CloudTrail shows which stack's deployment acted")
			d, err := time.ParseDuration(aws.Duration)
			require.NoError(t, err, "duration")
			assert.GreaterOrEqual(t, d, 15*time.Minute, "STS minimum")
			assert.LessOrEqual(t, d, time.Hour, "longer needs a raised MaxSessionDuration on the role")
			for name := range op.EnvironmentVariables {
				assert.NotContains(t, strings.ToUpper(name), "AWS_", "no AWS credentials beside the OIDC exchange")
			}
		})
	}
}

func TestDeploymentSettings_installTheSameVerifiedKubectlAsTheWorkflows(t *testing.T) {
	download := regexp.MustCompile(`https://dl\.k8s\.io/release/(v\d+\.\d+\.\d+)/bin/linux/amd64/kubectl`)
	verify := regexp.MustCompile(`echo "([0-9a-f]{64})  (\S+)" \| sha256sum --check`)
	wf := dlvLoadWorkflow(t, dlvDeployRel)

	for _, stack := range dlvStacks {
		t.Run(stack, func(t *testing.T) {
			cmds := dlvLoadSettings(t, stack).OperationContext.PreRunCommands
			at := slices.IndexFunc(cmds, func(c string) bool { return download.MatchString(c) })
			require.GreaterOrEqual(t, at, 0, "a pre-run command downloads kubectl")
			install := cmds[at]
			assert.Equal(t, wf.Env["KUBECTL_VERSION"], download.FindStringSubmatch(install)[1])

			m := verify.FindStringSubmatch(install)
			require.NotNil(t, m, "the download is checked against a pinned SHA-256")
			assert.Equal(t, wf.Env["KUBECTL_SHA256"], m[1])
			installAt := strings.Index(install, "install -m 0755 "+m[2]+" /usr/local/bin/kubectl")
			assert.Greater(t, installAt, strings.Index(install, "sha256sum --check"), "installed only once verified")
			assert.NotContains(t, install, "||", "every step of the install must succeed")
			assert.NotContains(t, install, ";", "every step of the install must succeed")

			// The runner image has its own kubectl; the pinned one must be the one found.
			assert.Contains(t, cmds[at+1:], `test "$(command -v kubectl)" = /usr/local/bin/kubectl && kubectl version --client`)
		})
	}
}

func TestDeploymentSettings_checkTheAWSCLIAndBuildWithTheGoOfGoMod(t *testing.T) {
	for _, stack := range dlvStacks {
		t.Run(stack, func(t *testing.T) {
			op := dlvLoadSettings(t, stack).OperationContext
			assert.Contains(t, op.PreRunCommands, "aws --version", "pulumi-eks runs the AWS CLI")
			assert.Contains(t, op.PreRunCommands, "go version", "the log shows the toolchain go.mod selected")
			assert.Equal(t, "auto", op.EnvironmentVariables["GOTOOLCHAIN"],
				"the runner switches to the Go version go.mod asks for")
			require.NotNil(t, op.Options)
			assert.False(t, op.Options.SkipInstallDependencies, "Pulumi downloads the Go modules")
			assert.True(t, op.Options.SkipIntermediateDeployments, "a burst of merges deploys the newest only")
			assert.False(t, op.Options.DeleteAfterDestroy, "the stack and its history outlive a destroy")
		})
	}
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
	Name        string            `yaml:"name"`
	Needs       dlvStrings        `yaml:"needs"`
	If          string            `yaml:"if"`
	Environment dlvEnvironment    `yaml:"environment"`
	Permissions map[string]string `yaml:"permissions"`
	Concurrency *dlvConcurrency   `yaml:"concurrency"`
	Strategy    struct {
		Matrix struct {
			Include []map[string]string `yaml:"include"`
		} `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []dlvStep `yaml:"steps"`
}

type dlvStep struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
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
// Deployment settings model: the YAML-tagged fields of apitype.DeploymentSettings in the Pulumi SDK, under the
// top-level `settings` key that the CLI's ProjectStackDeployment writes. Fields carrying credentials (git
// auth, executor image registry passwords) are left out on purpose: credentials do not belong in this
// repository, so a file that sets one fails to decode. Environment variables are plain strings for the same
// reason.

type dlvDeployFile struct {
	Settings dlvSettings `yaml:"settings"`
}

type dlvSettings struct {
	Tag              string               `yaml:"tag"`
	ExecutorContext  *dlvExecutorContext  `yaml:"executorContext"`
	SourceContext    *dlvSourceContext    `yaml:"sourceContext"`
	GitHub           *dlvGitHub           `yaml:"gitHub"`
	OperationContext *dlvOperationContext `yaml:"operationContext"`
	AgentPoolID      *string              `yaml:"agentPoolID"`
}

type dlvExecutorContext struct {
	WorkingDirectory string `yaml:"workingDirectory"`
	ExecutorImage    *struct {
		Reference string `yaml:"reference"`
	} `yaml:"executorImage"`
	ExecutorRootPath *string `yaml:"executorRootPath"`
}

type dlvSourceContext struct {
	Git *struct {
		RepoURL string `yaml:"repoUrl"`
		Branch  string `yaml:"branch"`
		RepoDir string `yaml:"repoDir"`
		Commit  string `yaml:"commit"`
	} `yaml:"git"`
}

type dlvGitHub struct {
	Repository          string   `yaml:"repository"`
	PullRequestTemplate bool     `yaml:"pullRequestTemplate"`
	DeployCommits       bool     `yaml:"deployCommits"`
	PreviewPullRequests bool     `yaml:"previewPullRequests"`
	DeployPullRequest   *int64   `yaml:"deployPullRequest"`
	Paths               []string `yaml:"paths"`
}

type dlvOperationContext struct {
	OIDC                 *dlvOIDC          `yaml:"oidc"`
	PreRunCommands       []string          `yaml:"preRunCommands"`
	EnvironmentVariables map[string]string `yaml:"environmentVariables"`
	Options              *struct {
		SkipInstallDependencies     bool   `yaml:"skipInstallDependencies"`
		SkipIntermediateDeployments bool   `yaml:"skipIntermediateDeployments"`
		Shell                       string `yaml:"shell"`
		DeleteAfterDestroy          bool   `yaml:"deleteAfterDestroy"`
		RemediateIfDriftDetected    bool   `yaml:"remediateIfDriftDetected"`
	} `yaml:"options"`
}

type dlvOIDC struct {
	AWS *struct {
		Duration    string   `yaml:"duration"` // a Go duration, e.g. 1h0m0s
		PolicyARNs  []string `yaml:"policyArns"`
		RoleARN     string   `yaml:"roleArn"`
		SessionName string   `yaml:"sessionName"`
	} `yaml:"aws"`
	Azure *struct {
		ClientID       string `yaml:"clientId"`
		TenantID       string `yaml:"tenantId"`
		SubscriptionID string `yaml:"subscriptionId"`
	} `yaml:"azure"`
	GCP *struct {
		ProjectID      string `yaml:"projectId"`
		Region         string `yaml:"region"`
		WorkloadPoolID string `yaml:"workloadPoolId"`
		ProviderID     string `yaml:"providerId"`
		ServiceAccount string `yaml:"serviceAccount"`
		TokenLifetime  string `yaml:"tokenLifetime"`
	} `yaml:"gcp"`
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

func dlvDeployFileRel(stack string) string { return "Pulumi." + stack + ".deploy.yaml" }

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

func dlvDecodeStrict(b []byte, into any) error {
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	return dec.Decode(into)
}

func dlvLoadSettings(t *testing.T, stack string) dlvSettings {
	t.Helper()
	var f dlvDeployFile
	rel := dlvDeployFileRel(stack)
	require.NoErrorf(t, dlvDecodeStrict(dlvRead(t, dlvPath(t, rel)), &f), "%s", rel)
	return f.Settings
}

func dlvVersion(uses string) string {
	_, v, _ := strings.Cut(uses, "@")
	return v
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
