package engine_test

// The engine test layer: the program driven through the real Pulumi CLI and engine (an Automation API inline
// program, so no Go language host is needed), with stand-in providers for aws, eks and kubernetes attached
// through PULUMI_DEBUG_PROVIDERS. Everything the CLI and engine decide is real here: config validation and
// defaults, secrets and their encryption in the state, the order of creates and deletes, protect,
// retainOnDelete, replace decisions from the providers' diffs, preview text.
//
// The CLI is the one `make tools` builds into .tools/bin from tools/pulumi (the same pulumi version as the SDK in
// go.mod). Set PULUMI_CLI to use another binary.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/example/eks-gitops-platform/deployments/settings"
	"github.com/example/eks-gitops-platform/infra"
	"github.com/example/eks-gitops-platform/stacks"
	"github.com/example/eks-gitops-platform/tests/engine/standin"
)

const (
	project    = "eks-gitops-platform"
	passphrase = "engine-test-passphrase"
	// Secrets a user sets with `pulumi config set --secret`; the state must never hold them in plain text.
	testAPIKey    = "api-key-7f3c9e1d-never-in-plaintext"
	testRepoToken = "ghp_repo-token-4b8a2f60-never-in-plaintext"
)

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(dir, "Pulumi.yaml"), "tests run from tests/engine")
	return dir
}

// cliPath is the pinned Pulumi CLI that `make tools` builds, or PULUMI_CLI.
func cliPath(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("PULUMI_CLI")
	if bin == "" {
		bin = filepath.Join(repoRoot(t), ".tools", "bin", "pulumi")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the Pulumi CLI is not built: run `make tools` (it builds .tools/bin/pulumi from tools/pulumi), or set PULUMI_CLI")
	}
	return bin
}

// cli is the pinned Pulumi CLI for the Automation API, found once per test binary: making one runs
// `pulumi version`, and every CLI start costs a quarter of a second of CPU.
func cli(t testing.TB) auto.PulumiCommand {
	t.Helper()
	cmd, err := pulumiCommand(cliPath(t))
	require.NoError(t, err)
	return cmd
}

var pulumiCommand = func() func(string) (auto.PulumiCommand, error) {
	var mu sync.Mutex
	made := map[string]auto.PulumiCommand{}
	return func(bin string) (auto.PulumiCommand, error) {
		mu.Lock()
		defer mu.Unlock()
		if cmd, ok := made[bin]; ok {
			return cmd, nil
		}
		cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Dir(filepath.Dir(bin)), SkipVersionCheck: true})
		if err == nil {
			made[bin] = cmd
		}
		return cmd, err
	}
}()

func startProviders(t testing.TB, cloud *standin.Cloud) *standin.Providers {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	prov, err := standin.StartWith(ctx, cloud)
	require.NoError(t, err)
	return prov
}

// backend is a local (file) backend with its own stand-in providers and cloud; its stacks can reference each
// other.
type backend struct {
	t    testing.TB
	dir  string
	prov *standin.Providers
	// root is the repository whose Pulumi.yaml and stack files the stacks use; default this one.
	root string
}

func newBackend(t testing.TB) *backend {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "state"), 0o700))
	return &backend{t: t, dir: dir, prov: startProviders(t, &standin.Cloud{})}
}

// fork is a copy of a backend that a test may change: the same state and stack files, and a copy of its cloud,
// with stand-in providers of its own. It costs no `up`.
func (b *backend) fork(t testing.TB) *backend {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(b.dir)))
	return &backend{t: t, dir: dir, prov: startProviders(t, b.prov.Cloud.Clone())}
}

// stack opens a stack of the backend whose files were copied with it (fork).
func (b *backend) stack(name string, program pulumi.RunFunc) *engineStack {
	b.t.Helper()
	return b.openStack(name, filepath.Join(b.dir, "stacks", name), program)
}

// sharedStacks are dev and prod brought up once per test binary, with every optional part configured (deploy
// roles, pull-request previews, a repository token, an admin), in one backend. Tests read them as they are, or
// change a fork of them.
var sharedStacks struct {
	once    sync.Once
	backend *backend
	err     error
	// created is the journal of the two `up`s.
	created []standin.Entry
}

// sharedCleanup ends what the shared stacks started; TestMain runs it.
var sharedCleanup = func() {}

func TestMain(m *testing.M) {
	pinClock()
	code := m.Run()
	sharedCleanup()
	os.Exit(code)
}

// pinClock runs the program (which the test process hosts) on the day the EKS calendar was checked, so that
// support windows and the calendar's age do not change what the tests see as the date moves on.
func pinClock() {
	day, err := time.Parse(time.DateOnly, infra.CalendarChecked)
	if err != nil {
		panic(err)
	}
	stacks.Now = func() time.Time { return day.Add(12 * time.Hour) }
}

// shared returns the backend of the shared stacks, bringing them up the first time.
func shared(t testing.TB) *backend {
	t.Helper()
	sharedStacks.once.Do(func() {
		rec := &recorder{TB: t}
		defer func() {
			if x := recover(); x != nil {
				if x != any(rec) {
					panic(x)
				}
				sharedStacks.err = errors.New("building the shared stacks: " + rec.failures())
			}
		}()
		dir, err := os.MkdirTemp("", "engine-shared-")
		if err != nil {
			sharedStacks.err = err
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		sharedCleanup = func() { cancel(); _ = os.RemoveAll(dir) }
		prov, err := standin.Start(ctx)
		if err != nil {
			sharedStacks.err = err
			return
		}
		if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
			sharedStacks.err = err
			return
		}
		b := &backend{t: rec, dir: dir, prov: prov}
		// dev and prod come up at the same time, as two stacks in one account do.
		var wg sync.WaitGroup
		for _, name := range []string{"dev", "prod"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if x := recover(); x != nil && x != any(rec) {
						rec.Errorf("%s: %v", name, x)
					}
				}()
				s := b.platformWith(name, fixtures, filepath.Join(dir, "stacks", name), sharedConfig[name],
					map[string]string{"apiKey": testAPIKey, "appRepoToken": testRepoToken})
				if r := s.up(); r.err != nil {
					rec.Errorf("up of the shared %s stack: %v\n%s", name, r.err, r.stdout)
				}
			}()
		}
		wg.Wait()
		if failed := rec.failures(); failed != "" {
			sharedStacks.err = errors.New(failed)
			return
		}
		sharedStacks.backend, sharedStacks.created = b, prov.Journal.Entries()
	})
	require.NoError(t, sharedStacks.err)
	return &backend{t: t, dir: sharedStacks.backend.dir, prov: sharedStacks.backend.prov}
}

// sharedConfig is what the shared stacks set beyond the fixtures' files and apiKey (and appRepoToken).
var sharedConfig = map[string][][2]string{
	"dev": {
		{"pulumiOrganization", "acme"},
		// An infrastructure repository on an unprotected stack adds the pull-request preview role.
		{"infraRepository", "acme/platform-infra"}, {"infraRepositoryOwnerId", "300000003"}, {"infraRepositoryId", "400000004"},
	},
	"prod": {
		{"endpointPublicAccessCidrs[0]", prodEgress},
		{"pulumiOrganization", "acme"},
		{"clusterAdminArns[0]", "arn:aws:iam::111122223333:role/oncall"},
		// The stand-in cloud is one account: prod reuses dev's issuers, as the README says for a shared account.
		{"githubOidcProviderArn", "arn:aws:iam::" + standin.Account + ":oidc-provider/token.actions.githubusercontent.com"},
		{"pulumiOidcProviderArn", "arn:aws:iam::" + standin.Account + ":oidc-provider/api.pulumi.com/oidc"},
	},
}

// sharedConfigValues are the values the shared stack sets for a key.
func sharedConfigValues(stack, key string) []string {
	var out []string
	for _, kv := range sharedConfig[stack] {
		if kv[0] == key {
			out = append(out, kv[1])
		}
	}
	return out
}

// recorder is a testing.TB for building the shared stacks inside whichever test asks first: a failure is kept
// for every test that asks, not only the first one.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (r *recorder) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed += fmt.Sprintf(format, args...) + "\n"
}
func (r *recorder) Error(args ...any)                 { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); r.FailNow() }
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); r.FailNow() }
func (r *recorder) Fail()                             { r.Errorf("failed") }
func (r *recorder) FailNow()                          { panic(r) }
func (r *recorder) Helper()                           {}
func (r *recorder) Cleanup(func())                    {}

func (b *backend) env() map[string]string {
	return map[string]string{
		"PULUMI_BACKEND_URL":                          "file://" + filepath.Join(b.dir, "state"),
		"PULUMI_CONFIG_PASSPHRASE":                    passphrase,
		"PULUMI_HOME":                                 filepath.Join(b.dir, "home"),
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_DEBUG_PROVIDERS":                      b.prov.Env,
		"PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK":    "true",
	}
}

// engineStack is one stack in a temporary project directory.
type engineStack struct {
	t     testing.TB
	name  string
	dir   string
	stack auto.Stack
	b     *backend
}

// stackFiles says where a stack's Pulumi.<stack>.yaml comes from.
type stackFiles string

const (
	// fixtures are the stack files the tests own: the template's values, whatever a user's stack files hold.
	fixtures stackFiles = "tests/testdata/stacks"
	// userFiles are the stack files at the repository root: the user's own configuration.
	userFiles stackFiles = "."
)

// platform creates a stack of the platform the way a user does: `pulumi stack init` (passphrase secrets), then
// `pulumi config set --secret apiKey`. A user's stack file comes with secrets encrypted by their own secrets
// provider, which the test cannot decrypt: its encrypted values are set again with placeholders, as its owner
// would with `pulumi config set --secret`.
func (b *backend) platform(name string, from stackFiles) *engineStack {
	b.t.Helper()
	return b.platformWith(name, from, b.t.TempDir(), nil, map[string]string{"apiKey": testAPIKey})
}

// platformWithoutAPIKey is platform before the quick start's `pulumi config set --secret apiKey`.
func (b *backend) platformWithoutAPIKey(name string, from stackFiles) *engineStack {
	b.t.Helper()
	return b.platformWith(name, from, b.t.TempDir(), nil, nil)
}

// quickStart are the values the README's quick start gives the template's stack files: the service repository,
// which `pulumi up` refuses to leave at the shipped placeholder (your-org/your-service and its example IDs).
var quickStart = [][2]string{
	{"githubRepository", "acme/shop"}, {"githubOwnerId", "61000001"}, {"githubRepositoryId", "62000002"},
	{"appRepoUrl", "https://github.com/acme/shop.git"},
}

// platformAsShipped is platform without the quick start's values: the template's stack file as it is.
func (b *backend) platformAsShipped(name string) *engineStack {
	b.t.Helper()
	return b.stackFrom(name, fixtures, b.t.TempDir(), nil, map[string]string{"apiKey": testAPIKey})
}

// platformWith creates the stack with the project in dir, then sets the plain values and the secrets (beside
// the stack file's own encrypted keys) in one `pulumi config set-all`. The template's stack files (fixtures)
// get the quick start's values first.
func (b *backend) platformWith(name string, from stackFiles, dir string, plain [][2]string, secrets map[string]string) *engineStack {
	b.t.Helper()
	if from == fixtures {
		var all [][2]string
		for _, kv := range quickStart {
			if !slices.ContainsFunc(plain, func(p [2]string) bool { return p[0] == kv[0] }) {
				all = append(all, kv)
			}
		}
		plain = append(all, plain...)
	}
	return b.stackFrom(name, from, dir, plain, secrets)
}

func (b *backend) stackFrom(name string, from stackFiles, dir string, plain [][2]string, secrets map[string]string) *engineStack {
	b.t.Helper()
	root := b.root
	if root == "" {
		root = repoRoot(b.t)
	}
	require.NoError(b.t, os.MkdirAll(dir, 0o700))
	copyFile(b.t, filepath.Join(root, "Pulumi.yaml"), filepath.Join(dir, "Pulumi.yaml"))
	file, secure := withoutEncryption(b.t, filepath.Join(root, string(from), "Pulumi."+name+".yaml"))
	require.NoError(b.t, os.WriteFile(filepath.Join(dir, "Pulumi."+name+".yaml"), file, 0o600))
	s := b.newStack(name, dir, stacks.Run)
	all := map[string]string{}
	for _, key := range secure {
		all[key] = "placeholder-for-" + key
	}
	maps.Copy(all, secrets)
	s.setAll(plain, all)
	return s
}

// settings creates the stack of the Deployments settings program (deployments/) from a stack file.
func (b *backend) settings(name string, stackFile []byte) *engineStack {
	b.t.Helper()
	dir := b.t.TempDir()
	copyFile(b.t, filepath.Join(repoRoot(b.t), "deployments", "Pulumi.yaml"), filepath.Join(dir, "Pulumi.yaml"))
	require.NoError(b.t, os.WriteFile(filepath.Join(dir, "Pulumi."+name+".yaml"), stackFile, 0o600))
	return b.newStack(name, dir, settings.Run)
}

// newStack is `pulumi stack init` of a new stack in dir; openStack selects one that exists.
func (b *backend) newStack(name, dir string, program pulumi.RunFunc) *engineStack {
	b.t.Helper()
	return b.workspaceStack(name, dir, program, auto.NewStack)
}

func (b *backend) openStack(name, dir string, program pulumi.RunFunc) *engineStack {
	b.t.Helper()
	return b.workspaceStack(name, dir, program, auto.SelectStack)
}

func (b *backend) workspaceStack(name, dir string, program pulumi.RunFunc,
	open func(context.Context, string, auto.Workspace) (auto.Stack, error)) *engineStack {
	b.t.Helper()
	ctx := context.Background()
	ws, err := auto.NewLocalWorkspace(ctx, auto.WorkDir(dir), auto.Program(program), auto.Pulumi(cli(b.t)),
		auto.PulumiHome(filepath.Join(b.dir, "home")), auto.EnvVars(b.env()))
	require.NoError(b.t, err)
	s, err := open(ctx, name, ws)
	require.NoError(b.t, err)
	return &engineStack{t: b.t, name: name, dir: dir, stack: s, b: b}
}

// withoutEncryption is a stack file without its secrets provider and encrypted values, and the keys whose
// values were encrypted.
func withoutEncryption(t testing.TB, path string) ([]byte, []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var file map[string]any
	require.NoError(t, yaml.Unmarshal(b, &file))
	for _, k := range []string{"secretsprovider", "encryptedkey", "encryptionsalt"} {
		delete(file, k)
	}
	var secure []string
	cfg, _ := file["config"].(map[string]any)
	for k, v := range cfg {
		if m, ok := v.(map[string]any); ok && len(m) == 1 && m["secure"] != nil {
			delete(cfg, k)
			secure = append(secure, strings.TrimPrefix(k, project+":"))
		}
	}
	slices.Sort(secure)
	out, err := yaml.Marshal(file)
	require.NoError(t, err)
	return out, secure
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}

// set is `pulumi config set <key> <value>`; --path for keys such as clusterAdminArns[0].
func (s *engineStack) set(key, value string) {
	s.t.Helper()
	require.NoError(s.t, s.stack.SetConfigWithOptions(context.Background(), key, auto.ConfigValue{Value: value},
		&auto.ConfigOptions{Path: strings.ContainsAny(key, "[.")}))
}

// setAll is one `pulumi config set-all --path` of plain values and secrets. The CLI gets them in no set order,
// so no path may depend on another (no element 1 of a list before its element 0).
func (s *engineStack) setAll(plain [][2]string, secrets map[string]string) {
	s.t.Helper()
	if len(plain)+len(secrets) == 0 {
		return
	}
	cfg := auto.ConfigMap{}
	for _, kv := range plain {
		_, dup := cfg[kv[0]]
		require.Falsef(s.t, dup, "%s is set twice", kv[0])
		cfg[kv[0]] = auto.ConfigValue{Value: kv[1]}
	}
	for k, v := range secrets {
		_, dup := cfg[k]
		require.Falsef(s.t, dup, "%s is set both plain and secret", k)
		cfg[k] = auto.ConfigValue{Value: v, Secret: true}
	}
	require.NoError(s.t, s.stack.SetAllConfigWithOptions(context.Background(), cfg, &auto.ConfigOptions{Path: true}))
}

// setSecret is `pulumi config set --secret <key> <value>`.
func (s *engineStack) setSecret(key, value string) {
	s.t.Helper()
	require.NoError(s.t, s.stack.SetConfig(context.Background(), key, auto.ConfigValue{Value: value, Secret: true}))
}

// run is what one operation produced: its step events and its text.
type run struct {
	steps  []apitype.StepEventMetadata
	stdout string
	err    error
}

// ops returns what happens to each resource, keyed by URN: a replacement's steps (create-replacement, replace,
// delete-replaced) are reported as one replace.
func (r run) ops() map[string]apitype.OpType {
	out := map[string]apitype.OpType{}
	for _, s := range r.steps {
		op := s.Op
		switch {
		case op == apitype.OpCreateReplacement || op == apitype.OpDeleteReplaced || out[s.URN] == apitype.OpReplace:
			op = apitype.OpReplace
		case op == apitype.OpSame && out[s.URN] != "":
			continue
		}
		out[s.URN] = op
	}
	return out
}

// collect drains an event channel into step metadata.
func collect(ch <-chan events.EngineEvent, into *[]apitype.StepEventMetadata, wg *sync.WaitGroup) {
	defer wg.Done()
	for ev := range ch {
		if ev.ResourcePreEvent != nil {
			*into = append(*into, ev.ResourcePreEvent.Metadata)
		}
	}
}

// waitEvents waits for the event collector. The Automation API closes the event channel when an operation
// ran; when the CLI refused it before the engine started, it never does, and the collector is abandoned.
func waitEvents(wg *sync.WaitGroup, err error) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	if err == nil {
		<-done
		return
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
}

// operation runs one engine operation with an event stream and a progress buffer, and collects both: op gets
// the channel and the buffer to pass as its options, and returns its standard output when it has one.
func operation(op func(ch chan<- events.EngineEvent, out *bytes.Buffer) (string, error)) run {
	ch := make(chan events.EngineEvent)
	var r run
	var wg sync.WaitGroup
	wg.Add(1)
	go collect(ch, &r.steps, &wg)
	var out bytes.Buffer
	stdout, err := op(ch, &out)
	waitEvents(&wg, err)
	r.stdout, r.err = out.String(), err
	if err == nil && stdout != "" {
		r.stdout = stdout
	}
	return r
}

func (s *engineStack) preview(opts ...optpreview.Option) run {
	s.t.Helper()
	return operation(func(ch chan<- events.EngineEvent, out *bytes.Buffer) (string, error) {
		res, err := s.stack.Preview(context.Background(), append(opts, optpreview.EventStreams(ch),
			optpreview.ProgressStreams(out), optpreview.Color("never"))...)
		return res.StdOut, err
	})
}

func (s *engineStack) up(opts ...optup.Option) run {
	s.t.Helper()
	return operation(func(ch chan<- events.EngineEvent, out *bytes.Buffer) (string, error) {
		_, err := s.stack.Up(context.Background(), append(opts, optup.EventStreams(ch),
			optup.ProgressStreams(out), optup.Color("never"))...)
		return "", err
	})
}

func (s *engineStack) mustUp(opts ...optup.Option) run {
	s.t.Helper()
	r := s.up(opts...)
	require.NoError(s.t, r.err, r.stdout)
	return r
}

func (s *engineStack) refresh() run {
	s.t.Helper()
	return operation(func(ch chan<- events.EngineEvent, out *bytes.Buffer) (string, error) {
		_, err := s.stack.Refresh(context.Background(), optrefresh.EventStreams(ch), optrefresh.ProgressStreams(out),
			optrefresh.Color("never"))
		return "", err
	})
}

func (s *engineStack) destroy() run {
	s.t.Helper()
	return operation(func(ch chan<- events.EngineEvent, out *bytes.Buffer) (string, error) {
		_, err := s.stack.Destroy(context.Background(), optdestroy.EventStreams(ch), optdestroy.ProgressStreams(out),
			optdestroy.Color("never"))
		return "", err
	})
}

// pulumi runs the CLI in the stack's directory with the backend's environment, as a user would.
func (s *engineStack) pulumi(args ...string) (string, error) {
	s.t.Helper()
	if args[0] != "version" {
		args = append(args, "--stack", s.name)
	}
	cmd := exec.Command(cliPath(s.t), args...)
	cmd.Dir = s.dir
	cmd.Env = os.Environ()
	for k, v := range s.b.env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// state is the stack's checkpoint file as the local backend stores it.
func (s *engineStack) state() []byte {
	s.t.Helper()
	var found []byte
	require.NoError(s.t, filepath.Walk(filepath.Join(s.b.dir, "state"), func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(path) == s.name+".json" {
			found, err = os.ReadFile(path)
		}
		return err
	}))
	require.NotEmpty(s.t, found, "no checkpoint for stack %s", s.name)
	return found
}

// resources are the stack's resources as the state holds them.
func (s *engineStack) resources() []apitype.ResourceV3 {
	s.t.Helper()
	dep, err := s.stack.Export(context.Background())
	require.NoError(s.t, err)
	var d apitype.DeploymentV3
	require.NoError(s.t, json.Unmarshal(dep.Deployment, &d))
	return d.Resources
}

func (s *engineStack) journal() *standin.Journal { return s.b.prov.Journal }

func (s *engineStack) cloud() *standin.Cloud { return s.b.prov.Cloud }
