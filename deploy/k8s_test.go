// Package deploy_test keeps the deployment files true without a cluster or
// a Docker engine: every Kubernetes manifest parses and the kustomization
// assembles (with kustomize's own Go library), the compose file loads
// with the Compose Specification's loader, the Dockerfile's base images
// are supported releases, and the alert rules link the runbook.
package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/testenv"
)

// yamlDocs splits a file into its YAML documents (comments-only
// documents dropped).
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []map[string]any
	for _, part := range strings.Split("\n"+string(raw), "\n---") {
		var doc map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(part), &doc), "%s", path)
		if doc != nil {
			out = append(out, doc)
		}
	}
	return out
}

func TestEveryManifestParses(t *testing.T) {
	n := 0
	err := filepath.WalkDir("k8s", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		for _, doc := range yamlDocs(t, path) {
			n++
			require.NotEmpty(t, doc["apiVersion"], "%s: apiVersion", path)
			require.NotEmpty(t, doc["kind"], "%s: kind", path)
			if doc["kind"] != "Kustomization" && doc["kind"] != "Component" {
				meta, _ := doc["metadata"].(map[string]any)
				require.NotEmpty(t, meta["name"], "%s: metadata.name", path)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, n, 15)
}

// build runs kustomize on dir of fsys, as `kubectl apply -k` would.
func build(t *testing.T, fsys filesys.FileSystem, dir string) resmap.ResMap {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	require.NoError(t, err)
	return m
}

// object is the part of a built resource the checks read.
type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Template struct {
			Metadata struct {
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Spec podSpec `json:"spec"`
		} `json:"template"`
		Replicas *int `json:"replicas"`
	} `json:"spec"`
	raw map[string]any
}

type podSpec struct {
	TerminationGracePeriodSeconds *int `json:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot   *bool `json:"runAsNonRoot"`
		SeccompProfile struct {
			Type string `json:"type"`
		} `json:"seccompProfile"`
	} `json:"securityContext"`
	TopologySpreadConstraints []struct {
		TopologyKey string `json:"topologyKey"`
	} `json:"topologySpreadConstraints"`
	InitContainers []container `json:"initContainers"`
	Containers     []container `json:"containers"`
}

type container struct {
	Name    string   `json:"name"`
	Command []string `json:"command"`
	Args    []string `json:"args"`
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `json:"configMapRef"`
	} `json:"envFrom"`
	Env   []struct{ Name, Value string } `json:"env"`
	Ports []struct {
		Name          string `json:"name"`
		ContainerPort int    `json:"containerPort"`
	} `json:"ports"`
	ReadinessProbe  *probe `json:"readinessProbe"`
	LivenessProbe   *probe `json:"livenessProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `json:"drop"`
		} `json:"capabilities"`
	} `json:"securityContext"`
	Resources struct {
		Requests map[string]string `json:"requests"`
		Limits   map[string]string `json:"limits"`
	} `json:"resources"`
}

type probe struct {
	HTTPGet struct {
		Path string `json:"path"`
		Port any    `json:"port"`
	} `json:"httpGet"`
}

func objects(t *testing.T, m resmap.ResMap) []object {
	t.Helper()
	var out []object
	for _, r := range m.Resources() {
		raw, err := r.Map()
		require.NoError(t, err)
		b, err := json.Marshal(raw)
		require.NoError(t, err)
		var o object
		require.NoError(t, json.Unmarshal(b, &o))
		o.raw = raw
		out = append(out, o)
	}
	return out
}

func find(objs []object, kind, name string) *object {
	for i := range objs {
		if objs[i].Kind == kind && objs[i].Metadata.Name == name {
			return &objs[i]
		}
	}
	return nil
}

// TestKustomizationAssembles builds deploy/k8s and checks what an operator
// relies on: the restricted Pod Security Standard, resources, probes,
// scraping, disruption budgets, spread, the schema wait, autoscaling.
func TestKustomizationAssembles(t *testing.T) {
	objs := objects(t, build(t, filesys.MakeFsOnDisk(), "k8s"))
	var kinds []string
	var configMap string
	for _, o := range objs {
		kinds = append(kinds, o.Kind+"/"+o.Metadata.Name)
		if o.Kind == "ConfigMap" {
			configMap = o.Metadata.Name
		}
	}
	for _, want := range []string{
		"Namespace/reactivation", "Job/reactivation-migrate",
		"Deployment/reactivation-api", "Deployment/reactivation-worker", "Deployment/reactivation-scheduler",
		"Service/reactivation-api", "HorizontalPodAutoscaler/reactivation-api",
		"PodDisruptionBudget/reactivation-api", "PodDisruptionBudget/reactivation-worker", "PodDisruptionBudget/reactivation-scheduler",
		"ScaledObject/reactivation-worker", "TriggerAuthentication/reactivation-redis",
		"ServiceMonitor/reactivation-api", "PodMonitor/reactivation-worker", "PodMonitor/reactivation-scheduler",
	} {
		require.Contains(t, kinds, want)
	}
	require.Regexp(t, `^reactivation-config-[a-z0-9]{10}$`, configMap, "the ConfigMap is generated with a content hash")

	for _, o := range objs {
		if o.Kind != "Deployment" && o.Kind != "Job" {
			continue
		}
		pod := o.Spec.Template.Spec
		name := o.Metadata.Name
		require.True(t, pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot, "%s runAsNonRoot", name)
		require.Equal(t, "RuntimeDefault", pod.SecurityContext.SeccompProfile.Type, "%s seccompProfile", name)
		for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
			where := name + "/" + c.Name
			sc := c.SecurityContext
			require.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "%s allowPrivilegeEscalation", where)
			require.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s readOnlyRootFilesystem", where)
			require.Equal(t, []string{"ALL"}, sc.Capabilities.Drop, "%s capabilities", where)
			require.NotEmpty(t, c.Resources.Requests["cpu"], "%s cpu request", where)
			require.NotEmpty(t, c.Resources.Requests["memory"], "%s memory request", where)
			require.NotEmpty(t, c.Resources.Limits["memory"], "%s memory limit", where)
			require.NotEmpty(t, c.EnvFrom, "%s envFrom", where)
			require.Equal(t, configMap, c.EnvFrom[0].ConfigMapRef.Name, "%s reads the generated ConfigMap", where)
		}
		if o.Kind != "Deployment" {
			continue
		}
		var keys []string
		for _, c := range pod.TopologySpreadConstraints {
			keys = append(keys, c.TopologyKey)
		}
		require.ElementsMatch(t, []string{"topology.kubernetes.io/zone", "kubernetes.io/hostname"}, keys, "%s spread", name)
		require.Len(t, pod.InitContainers, 1, "%s waits for the schema", name)
		require.Equal(t, []string{"migrate", "--wait"}, pod.InitContainers[0].Args[:2], "%s init container", name)
		pdb := find(objs, "PodDisruptionBudget", name)
		require.NotNil(t, pdb, "%s PDB", name)
		require.Equal(t, o.Spec.Selector.MatchLabels, pdb.Spec.Selector.MatchLabels, "%s PDB selects its pods", name)
		// Scraped by annotation, on a declared container port.
		ann := o.Spec.Template.Metadata.Annotations
		require.Equal(t, "true", ann["prometheus.io/scrape"], "%s scraped", name)
		require.Contains(t, portsOf(pod.Containers[0]), ann["prometheus.io/port"], "%s scrape port is a container port", name)
	}

	worker := find(objs, "Deployment", "reactivation-worker").Spec.Template.Spec
	w := worker.Containers[0]
	require.Equal(t, "/healthz", w.LivenessProbe.HTTPGet.Path)
	require.Equal(t, "/readyz", w.ReadinessProbe.HTTPGet.Path)
	require.Equal(t, "metrics", w.LivenessProbe.HTTPGet.Port)
	require.Contains(t, portsOf(w), "9091")
	shutdown := envValue(t, w, "SHUTDOWN_TIMEOUT")
	require.GreaterOrEqual(t, time.Duration(*worker.TerminationGracePeriodSeconds)*time.Second, shutdown+15*time.Second,
		"the kubelet must not SIGKILL a worker still finishing its tasks")
	require.Nil(t, find(objs, "Deployment", "reactivation-worker").Spec.Replicas, "KEDA owns the worker count")
	require.Nil(t, find(objs, "Deployment", "reactivation-api").Spec.Replicas, "the HPA owns the API count")

	hpa := find(objs, "HorizontalPodAutoscaler", "reactivation-api").raw["spec"].(map[string]any)
	require.Equal(t, "reactivation-api", hpa["scaleTargetRef"].(map[string]any)["name"])
	metric := hpa["metrics"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	require.Equal(t, "cpu", metric["name"])

	// PodMonitors give the job labels the alert rules match on.
	for _, name := range []string{"reactivation-worker", "reactivation-scheduler"} {
		pm, err := json.Marshal(find(objs, "PodMonitor", name).raw["spec"])
		require.NoError(t, err)
		require.Contains(t, string(pm), `"replacement":"`+name+`"`)
		require.Contains(t, string(pm), `"port":"metrics"`)
	}
}

func portsOf(c container) []string {
	var out []string
	for _, p := range c.Ports {
		out = append(out, strings.TrimSpace(strings.TrimPrefix(jsonInt(p.ContainerPort), "+")))
	}
	return out
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func envValue(t *testing.T, c container, name string) time.Duration {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name {
			d, err := time.ParseDuration(e.Value)
			require.NoError(t, err)
			return d
		}
	}
	t.Fatalf("container %s has no %s", c.Name, name)
	return 0
}

// TestConfigChangeRollsPods edits config.env in a copy of deploy/k8s: the
// generated ConfigMap's name changes and every Deployment refers to the
// new one, so applying it rolls their pods.
func TestConfigChangeRollsPods(t *testing.T) {
	names := func(fsys filesys.FileSystem) map[string]string {
		out := map[string]string{}
		for _, o := range objects(t, build(t, fsys, "k8s")) {
			if o.Kind == "Deployment" {
				out[o.Metadata.Name] = o.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name
			}
		}
		return out
	}
	mem := filesys.MakeFsInMemory()
	require.NoError(t, filepath.WalkDir("k8s", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil {
			err = mem.WriteFile(path, b)
		}
		return err
	}))
	before := names(mem)
	env, err := mem.ReadFile("k8s/config.env")
	require.NoError(t, err)
	require.NoError(t, mem.WriteFile("k8s/config.env", bytes.Replace(env, []byte("LOG_LEVEL=info"), []byte("LOG_LEVEL=debug"), 1)))
	after := names(mem)
	require.Len(t, after, 3)
	for d, cm := range after {
		require.NotEqual(t, before[d], cm, "%s must refer to the new ConfigMap", d)
	}
}

// TestScaledObjectWatchesAsynqLists checks the KEDA triggers name the
// pending and active lists of every queue WORKER_QUEUES configures, and
// that those keys are the ones asynq (the version in go.mod) really
// writes: a task enqueued in a real Redis lands in the pending list.
func TestScaledObjectWatchesAsynqLists(t *testing.T) {
	var so map[string]any
	for _, doc := range yamlDocs(t, "k8s/components/keda/scaledobject.yaml") {
		if doc["kind"] == "ScaledObject" {
			so = doc
		}
	}
	require.NotNil(t, so)
	spec := so["spec"].(map[string]any)
	require.Greater(t, spec["maxReplicaCount"], spec["minReplicaCount"])
	require.GreaterOrEqual(t, spec["minReplicaCount"], uint64(1), "a minimum of one worker keeps scheduled work moving")
	behavior, err := json.Marshal(spec["advanced"])
	require.NoError(t, err)
	require.Contains(t, string(behavior), `"scaleDown":{"policies":[{"periodSeconds":300,"type":"Pods","value":1}],"stabilizationWindowSeconds":600}`)

	lists := map[string]bool{}
	for _, tr := range spec["triggers"].([]any) {
		trig := tr.(map[string]any)
		require.Equal(t, "redis", trig["type"])
		lists[trig["metadata"].(map[string]any)["listName"].(string)] = true
	}
	env := readEnvFile(t, "k8s/config.env")
	cfg := config.Defaults()
	cfg.WorkerQueues = env["WORKER_QUEUES"]
	queues, err := cfg.Queues()
	require.NoError(t, err)
	want := map[string]bool{}
	for q := range queues {
		want["asynq:{"+q+"}:pending"] = true
		want["asynq:{"+q+"}:active"] = true
	}
	require.Equal(t, want, lists)

	opt := testenv.RedisOptions(t)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: opt.Addr, Password: opt.Password, DB: opt.DB})
	defer client.Close()
	ctx := context.Background()
	for q := range queues {
		_, err := client.EnqueueContext(ctx, asynq.NewTask("deploy:probe", nil), asynq.Queue(q))
		require.NoError(t, err)
		typ, err := rdb.Type(ctx, "asynq:{"+q+"}:pending").Result()
		require.NoError(t, err)
		require.Equal(t, "list", typ, "queue %s", q)
		n, err := rdb.LLen(ctx, "asynq:{"+q+"}:pending").Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "queue %s", q)
	}
}

func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	out := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}
