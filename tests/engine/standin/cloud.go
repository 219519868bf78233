package standin

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Cloud is what the stand-in providers have created, by type and ID, as AWS and the cluster would answer a read of
// it. It outlives a stack's state: what the engine retains on delete (RetainOnDelete) stays here after a destroy,
// as it stays in AWS. Reads (refresh, import) and the functions that read live resources answer from it; a test
// changes it to play what happens outside Pulumi (an autoscaler resizing the nodegroup, a console edit) and makes
// the next create of a resource fail, as a cloud API does.
type Cloud struct {
	mu        sync.Mutex
	resources map[string]map[string]live // type -> ID -> the live resource
	failures  map[string]error           // logical name -> the error its next create fails with
	created   map[resource.URN]int       // how many times each resource was created
}

// generation is how many times the resource was created before; the next create counts.
func (c *Cloud) generation(urn resource.URN) int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.created == nil {
		c.created = map[resource.URN]int{}
	}
	n := c.created[urn]
	c.created[urn] = n + 1
	return n
}

// live is one resource as the cloud holds it: what was asked for and what it is.
type live struct {
	inputs, outputs resource.PropertyMap
}

func (c *Cloud) put(typ, id string, inputs, outputs resource.PropertyMap) {
	if c == nil || id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resources == nil {
		c.resources = map[string]map[string]live{}
	}
	if c.resources[typ] == nil {
		c.resources[typ] = map[string]live{}
	}
	c.resources[typ][id] = live{inputs: inputs.Copy(), outputs: outputs.Copy()}
}

func (c *Cloud) get(typ, id string) (live, bool) {
	if c == nil {
		return live{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.resources[typ][id]
	if !ok {
		return live{}, false
	}
	return live{inputs: r.inputs.Copy(), outputs: r.outputs.Copy()}, true
}

func (c *Cloud) remove(typ, id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.resources[typ], id)
}

// Of returns the live resources of a type, by ID.
func (c *Cloud) Of(typ string) map[string]resource.PropertyMap {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]resource.PropertyMap{}
	for id, r := range c.resources[typ] {
		out[id] = r.outputs.Copy()
	}
	return out
}

// Has reports whether the cloud holds a live resource of that type and ID.
func (c *Cloud) Has(typ, id string) bool {
	_, ok := c.get(typ, id)
	return ok
}

// Count is how many live resources of each type the cloud holds.
func (c *Cloud) Count() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for typ, rs := range c.resources {
		if len(rs) > 0 {
			out[typ] = len(rs)
		}
	}
	return out
}

// Change changes a live resource outside Pulumi: its outputs, and the inputs a read reports with them.
func (c *Cloud) Change(typ, id string, change func(outputs resource.PropertyMap)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.resources[typ][id]
	if !ok {
		panic(fmt.Sprintf("no live %s %s", typ, id))
	}
	change(r.outputs)
	for k := range r.inputs {
		if v, ok := r.outputs[k]; ok {
			r.inputs[k] = v
		}
	}
}

// FailNextCreate makes the next create of the resource with that logical name fail with err, before anything
// exists, as a cloud API that refuses a request does (a quota, a throttle, a capacity error).
func (c *Cloud) FailNextCreate(name string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failures == nil {
		c.failures = map[string]error{}
	}
	c.failures[name] = err
}

func (c *Cloud) takeFailure(name string) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.failures[name]
	delete(c.failures, name)
	return err
}

// Clone is an independent copy of the cloud: a test that changes a copy of a deployed stack gets its own world.
func (c *Cloud) Clone() *Cloud {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := &Cloud{resources: map[string]map[string]live{}, created: map[resource.URN]int{}}
	for urn, n := range c.created {
		out.created[urn] = n
	}
	for typ, rs := range c.resources {
		out.resources[typ] = map[string]live{}
		for id, r := range rs {
			out.resources[typ][id] = live{inputs: r.inputs.Copy(), outputs: r.outputs.Copy()}
		}
	}
	return out
}

// Providers are the stand-in providers of one test backend, serving on loopback ports.
type Providers struct {
	Journal *Journal
	Cloud   *Cloud
	// Env is PULUMI_DEBUG_PROVIDERS for them.
	Env string
}

// Start serves the stand-ins of every package the program uses, at the versions its SDKs ask for, until ctx is
// done, over a new, empty cloud.
func Start(ctx context.Context) (*Providers, error) { return StartWith(ctx, &Cloud{}) }

// StartWith serves the stand-ins over an existing cloud (a Clone of another backend's).
func StartWith(ctx context.Context, cloud *Cloud) (*Providers, error) {
	p := &Providers{Journal: &Journal{}, Cloud: cloud}
	all := []*Provider{
		{Package: "aws", Version: "6.83.4", Types: AWSRules, Invokes: AWSInvokes(Zones, p.Cloud), Journal: p.Journal, Cloud: p.Cloud,
			AlreadyExists: AWSAlreadyExists},
		{Package: "eks", Version: "2.8.1", Journal: p.Journal, Components: map[string]Component{"eks:index:Cluster": EKSCluster}},
		{Package: "kubernetes", Version: "4.32.0", Types: KubernetesRules, Default: &KubernetesDefault,
			ConfigDiff: KubernetesConfigDiff, Journal: p.Journal, Cloud: p.Cloud, AlreadyExists: KubernetesAlreadyExists,
			Scope: KubernetesCluster},
		{Package: "pulumiservice", Version: "1.3.0", Types: PulumiServiceRules, Journal: p.Journal, Cloud: p.Cloud},
	}
	var ports []string
	for _, prov := range all {
		port, err := prov.Serve(ctx)
		if err != nil {
			return nil, err
		}
		ports = append(ports, fmt.Sprintf("%s:%d", prov.Package, port))
	}
	p.Env = strings.Join(ports, ",")
	return p, nil
}
