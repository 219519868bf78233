package tests

// Tests of the service template in examples/service: the FastAPI app, its image and its CI. They run the app's
// own pytest suite and the app itself with Python (Debian's python3-fastapi, python3-uvicorn, python3-httpx,
// python3-pytest and python3-pyflakes, which `.ci/run` installs; users get the versions pyproject.toml pins),
// and check the Dockerfile's invariants and that the chart agrees with the app.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/example/eks-gitops-platform/infra"
)

const (
	appDir          = "examples/service"
	appPythonModule = "fastapi, uvicorn, httpx, pytest, pyflakes"
	appDebianPkgs   = "python3-fastapi python3-uvicorn python3-httpx python3-pytest python3-pyflakes"
)

// appPython is a Python 3 that imports the app's dependencies: Debian's /usr/bin/python3 first (the packages
// install there), else python3 on PATH.
func appPython(t *testing.T) string {
	t.Helper()
	for _, candidate := range []string{"/usr/bin/python3", "python3"} {
		p, err := exec.LookPath(candidate)
		if err != nil {
			continue
		}
		if exec.Command(p, "-c", "import "+appPythonModule).Run() == nil {
			return p
		}
	}
	require.FailNowf(t, "missing Python packages", "the service template's tests need Python 3 with %s; on Debian: apt-get install %s",
		appPythonModule, appDebianPkgs)
	return ""
}

// appCommand runs Python in a copy of the template, so nothing is written into the repository.
func appCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(kitPath(t, appDir))))
	cmd := exec.Command(appPython(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONPATH="+dir)
	return cmd
}

// TestServiceApp_ownTestsPass runs the template's pytest suite.
func TestServiceApp_ownTestsPass(t *testing.T) {
	t.Parallel()
	out, err := appCommand(t, "-m", "pytest", "-q").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Regexp(t, `\b[1-9][0-9]* passed\b`, string(out))
	assert.NotContains(t, string(out), "skipped")
}

// TestServiceApp_passesPyflakes: ruff cannot be installed here (no PyPI), so its F rules, which are pyflakes',
// run through pyflakes; the service's CI runs ruff itself (lint and format).
func TestServiceApp_passesPyflakes(t *testing.T) {
	t.Parallel()
	out, err := appCommand(t, "-m", "pyflakes", "main.py", "app", "tests").CombinedOutput()
	require.NoError(t, err, "%s", out)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestServiceApp_servesAsTheChartProbesIt starts the app as the image does (`python main.py`, uvicorn) and talks
// to it over HTTP: the health path answers without a key, the protected endpoint refuses without the key and
// answers with it, and every log line is a JSON object that never holds the key.
func TestServiceApp_servesAsTheChartProbesIt(t *testing.T) {
	t.Parallel()
	const key = "serve-test-key-4f1c"
	port := freePort(t)
	cmd := appCommand(t, "main.py")
	cmd.Env = append(cmd.Env, "API_KEY="+key, fmt.Sprintf("PORT=%d", port))
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	lines := make(chan []string, 1)
	go func() {
		var all []string
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			all = append(all, s.Text())
		}
		lines <- all
	}()
	defer func() { _ = cmd.Process.Kill() }()

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	get := func(path, apiKey string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		require.NoError(t, err)
		if apiKey != "" {
			req.Header.Set("X-API-Key", apiKey)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	require.Eventually(t, func() bool { code, _ := get(kitHealthPath, ""); return code == http.StatusOK }, 20*time.Second, 100*time.Millisecond,
		"the app answers %s on port %d", kitHealthPath, port)
	code, body := get(kitHealthPath, "")
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ok"}`, body)
	code, _ = get("/api/v1/info", "")
	assert.Equal(t, http.StatusUnauthorized, code, "refused without the key")
	code, _ = get("/api/v1/info", "wrong")
	assert.Equal(t, http.StatusUnauthorized, code, "refused with another key")
	code, body = get("/api/v1/info", key)
	assert.Equal(t, http.StatusOK, code, body)

	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	_ = cmd.Wait()
	logged := <-lines
	require.NotEmpty(t, logged)
	var requests []map[string]any
	for _, line := range logged {
		var entry map[string]any
		require.NoErrorf(t, json.Unmarshal([]byte(line), &entry), "every log line is JSON: %q", line)
		assert.NotEmpty(t, entry["level"])
		assert.NotEmpty(t, entry["time"])
		assert.NotContains(t, line, key, "the key is never logged")
		if entry["message"] == "request" {
			requests = append(requests, entry)
		}
	}
	var statuses []float64
	for _, r := range requests {
		statuses = append(statuses, r["status"].(float64))
		assert.Equal(t, "/api/v1/info", r["path"], "healthy probes are not logged")
	}
	assert.Equal(t, []float64{401, 401, 200}, statuses)
}

// appFacts are what the app itself says it serves.
type appFacts struct {
	HealthPath string   `json:"health"`
	Port       int      `json:"port"`
	APIKeyEnv  string   `json:"apiKeyEnv"`
	Routes     []string `json:"routes"`
}

func readAppFacts(t *testing.T) appFacts {
	t.Helper()
	out, err := appCommand(t, "-c", `import json
from app import create_app
from app.config import API_KEY_ENV, HEALTH_PATH, PORT, Settings
app = create_app(Settings(api_key="x", log_level="INFO"))
print(json.dumps({"health": HEALTH_PATH, "port": PORT, "apiKeyEnv": API_KEY_ENV, "routes": [r.path for r in app.routes]}))`).Output()
	require.NoError(t, err)
	var f appFacts
	require.NoError(t, json.Unmarshal(out, &f))
	return f
}

// TestServiceChart_agreesWithTheApp: the chart probes the path the app serves, on the port it listens on and the
// image exposes, and hands it the platform's API key in the variable it reads.
func TestServiceChart_agreesWithTheApp(t *testing.T) {
	t.Parallel()
	facts := readAppFacts(t)
	assert.Contains(t, facts.Routes, facts.HealthPath, "the app serves its health path")
	assert.Equal(t, kitHealthPath, facts.HealthPath)
	assert.Equal(t, kitAppPort, facts.Port)

	c := kitAppContainer(t, kitDeploymentOf(t, kitRender(t, kitPath(t, kitChartDir))))
	require.Len(t, c.Ports, 1)
	assert.Equal(t, facts.Port, c.Ports[0].ContainerPort)
	assert.Equal(t, facts.HealthPath, c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, facts.HealthPath, c.ReadinessProbe.HTTPGet.Path)
	env := kitEnv(t, c, facts.APIKeyEnv)
	require.NotNil(t, env.ValueFrom, "%s comes from the platform's Secret", facts.APIKeyEnv)
	assert.Equal(t, infra.APIKeySecretKey, env.ValueFrom.SecretKeyRef.Key)
	assert.Equal(t, kitRelease+"-secret", env.ValueFrom.SecretKeyRef.Name)

	df := parseDockerfile(t)
	assert.Equal(t, []string{fmt.Sprint(facts.Port)}, df.final().args("EXPOSE"), "the image exposes the app's port")
}

// dockerStage is one FROM ... stage of a Dockerfile: its instructions, continuation lines joined.
type dockerStage struct {
	from, name   string
	instructions [][2]string // keyword (upper case), arguments
}

type dockerfile []dockerStage

func (d dockerfile) final() dockerStage { return d[len(d)-1] }

func (s dockerStage) args(keyword string) []string {
	var out []string
	for _, in := range s.instructions {
		if in[0] == keyword {
			out = append(out, in[1])
		}
	}
	return out
}

// index is the position of the first instruction whose keyword is keyword and whose arguments match re; -1 if none.
func (s dockerStage) index(keyword string, re *regexp.Regexp) int {
	return slices.IndexFunc(s.instructions, func(in [2]string) bool { return in[0] == keyword && re.MatchString(in[1]) })
}

func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	raw := string(kitRead(t, kitPath(t, appDir+"/Dockerfile")))
	var logical []string
	var cur strings.Builder
	for _, line := range strings.Split(raw, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		if s := strings.TrimSpace(cur.String()); s != "" {
			logical = append(logical, s)
		}
		cur.Reset()
	}
	var d dockerfile
	for _, l := range logical {
		keyword, rest, _ := strings.Cut(l, " ")
		keyword = strings.ToUpper(keyword)
		if keyword == "FROM" {
			f := strings.Fields(rest)
			st := dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			d = append(d, st)
			continue
		}
		require.NotEmpty(t, d, "the Dockerfile starts with FROM")
		d[len(d)-1].instructions = append(d[len(d)-1].instructions, [2]string{keyword, strings.TrimSpace(rest)})
	}
	return d
}

var buildTools = regexp.MustCompile(`\b(build-essential|gcc|g\+\+|clang|make|cmake|libc6-dev|python3-dev|rustc|cargo)\b`)

// TestServiceImage_dockerfileKeepsItsInvariants: a builder stage holds the compilers and installs the locked
// dependencies before any code (so a code change reuses the dependency layer); the runtime stage starts from a
// slim image, installs no build tool, copies the dependencies from the builder, runs as uid 1000 and exposes 8000.
func TestServiceImage_dockerfileKeepsItsInvariants(t *testing.T) {
	t.Parallel()
	d := parseDockerfile(t)
	require.GreaterOrEqual(t, len(d), 2, "multi-stage")
	builder, runtime := d[0], d.final()
	for _, st := range d {
		assert.Regexp(t, `^[^:@\s]+(:[^\s]+)$`, st.from, "every base image names a tag")
		assert.NotRegexp(t, `:latest$`, st.from)
	}
	assert.Contains(t, runtime.from, "-slim", "a slim runtime")
	assert.Equal(t, builder.from, runtime.from, "the venv's interpreter path exists in the runtime image")

	// Builder: compilers, then the dependency layer from the lock file, before any code.
	assert.GreaterOrEqual(t, builder.index("RUN", buildTools), 0, "the builder installs the compilers")
	lock := builder.index("COPY", regexp.MustCompile(`^pyproject\.toml uv\.lock \./$`))
	install := builder.index("RUN", regexp.MustCompile(`uv sync --locked --no-dev --no-install-project`))
	require.GreaterOrEqual(t, lock, 0, "the builder copies pyproject.toml and uv.lock alone")
	require.Greater(t, install, lock, "then installs the locked dependencies")
	code := builder.index("COPY", regexp.MustCompile(`(main\.py|\bapp\b|^\. )`))
	assert.True(t, code < 0 || code > install, "no code reaches the builder before the dependency layer")

	// Runtime: no compilers, dependencies from the builder, then the code; non-root; port 8000.
	for _, in := range runtime.instructions {
		if in[0] == "RUN" {
			assert.NotRegexp(t, buildTools, in[1], "no build tool in the runtime stage")
			assert.NotContains(t, in[1], "apt-get install", "nothing installed in the runtime stage")
		}
		if in[0] == "COPY" && strings.Contains(in[1], "--from=") {
			assert.Contains(t, in[1], "--from="+builder.name, "the runtime copies only the builder's output")
		}
	}
	venv := runtime.index("COPY", regexp.MustCompile(`^--from=`+builder.name+` /app/\.venv /app/\.venv$`))
	firstCode := runtime.index("COPY", regexp.MustCompile(`^(main\.py|app) `))
	require.GreaterOrEqual(t, venv, 0, "the runtime gets the builder's virtual environment")
	assert.Greater(t, firstCode, venv, "code after the dependencies")
	assert.Equal(t, []string{"1000:1000"}, runtime.args("USER"), "runs as uid/gid 1000, the chart's runAsUser")
	user := runtime.index("USER", regexp.MustCompile(`.`))
	for i, in := range runtime.instructions {
		if i > user {
			assert.NotEqual(t, "RUN", in[0], "nothing runs as root after USER")
		}
	}
	assert.Equal(t, []string{"8000"}, runtime.args("EXPOSE"))
	cmd := runtime.args("CMD")
	require.Len(t, cmd, 1)
	assert.JSONEq(t, `["python", "main.py"]`, cmd[0], "exec form: the app gets SIGTERM from Kubernetes")
	env := strings.Join(runtime.args("ENV"), " ")
	assert.Contains(t, env, "PYTHONDONTWRITEBYTECODE=1", "the chart's root filesystem is read-only")
}

// TestServiceImage_buildContextHoldsOnlyWhatTheImageNeeds: .dockerignore keeps everything out but the project
// file, the lock and the code, so tests, the chart and .git never reach the image or bust its cache.
func TestServiceImage_buildContextHoldsOnlyWhatTheImageNeeds(t *testing.T) {
	t.Parallel()
	var patterns []string
	for _, l := range strings.Split(string(kitRead(t, kitPath(t, appDir+"/.dockerignore"))), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	require.NotEmpty(t, patterns)
	assert.Equal(t, "*", patterns[0], "everything is excluded first")
	assert.ElementsMatch(t, []string{"!pyproject.toml", "!uv.lock", "!main.py", "!app"}, slices.DeleteFunc(slices.Clone(patterns[1:]),
		func(p string) bool { return !strings.HasPrefix(p, "!") }), "then exactly what the Dockerfile copies")
	df := parseDockerfile(t)
	for _, st := range df {
		for _, src := range st.args("COPY") {
			if strings.HasPrefix(src, "--from=") {
				continue
			}
			fields := strings.Fields(src)
			for _, f := range fields[:len(fields)-1] {
				assert.Containsf(t, patterns, "!"+strings.TrimSuffix(f, "/"), "the build context holds %s, which the Dockerfile copies", f)
			}
		}
	}
}

// TestServiceTemplate_isACompleteServiceRepository: the template holds what a service repository needs, pins its
// dependencies exactly, and its CI lints, tests, builds and pushes from the lock file.
func TestServiceTemplate_isACompleteServiceRepository(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"main.py", "app/__init__.py", "app/api.py", "app/config.py", "app/logs.py", "pyproject.toml",
		".python-version", ".gitignore", "Dockerfile", ".dockerignore", "tests/conftest.py", "README.md", "helm/your-service/Chart.yaml",
		".github/workflows/ci.yml"} {
		_, err := os.Stat(kitPath(t, filepath.Join(appDir, f)))
		assert.NoErrorf(t, err, "the template has %s", f)
	}
	pyproject := string(kitRead(t, kitPath(t, appDir+"/pyproject.toml")))
	deps := regexp.MustCompile(`(?m)^\s+"([a-z0-9_.\-\[\]]+)(==|>=|~=|<|>)?([^"]*)",?`).FindAllStringSubmatch(pyproject, -1)
	require.NotEmpty(t, deps)
	for _, d := range deps {
		assert.Equalf(t, "==", d[2], "%s is pinned exactly", d[1])
	}
	python := strings.TrimSpace(string(kitRead(t, kitPath(t, appDir+"/.python-version"))))
	df := parseDockerfile(t)
	assert.True(t, strings.HasPrefix(df.final().from, "python:"+python+"-"), "the image runs the Python of .python-version (%s)", python)

	wf := string(kitRead(t, kitPath(t, kitWorkflowRel)))
	for _, want := range []string{"uv sync --locked", "uv run --locked ruff check .", "uv run --locked ruff format --check .",
		"uv run --locked pytest", "docker build", `PYTHON_VERSION: "` + python + `"`} {
		assert.Contains(t, wf, want)
	}
	uv := regexp.MustCompile(`ghcr\.io/astral-sh/uv:([0-9.]+)`).FindStringSubmatch(strings.Join(df[0].args("COPY"), " "))
	require.NotNil(t, uv, "the builder copies a pinned uv")
	assert.Contains(t, wf, "UV_VERSION: "+uv[1], "CI locks and installs with the uv the image builds with")
	assert.NotContains(t, wf, "requirements", "dependencies come from uv.lock alone")
}
