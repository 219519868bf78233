package standin

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Cloud is what the stand-in providers have created, by type and ID, as AWS would answer a read of it. The
// functions that read live resources (the nodegroup's current scaling) answer from it, and a test changes it
// to play something outside Pulumi (an autoscaler resizing the nodegroup).
type Cloud struct {
	mu        sync.Mutex
	resources map[string]map[string]resource.PropertyMap // type -> ID -> outputs
}

func (c *Cloud) put(typ, id string, outputs resource.PropertyMap) {
	if c == nil || id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resources == nil {
		c.resources = map[string]map[string]resource.PropertyMap{}
	}
	if c.resources[typ] == nil {
		c.resources[typ] = map[string]resource.PropertyMap{}
	}
	c.resources[typ][id] = outputs.Copy()
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
	for id, props := range c.resources[typ] {
		out[id] = props.Copy()
	}
	return out
}

// Change changes a live resource outside Pulumi.
func (c *Cloud) Change(typ, id string, change func(outputs resource.PropertyMap)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	props, ok := c.resources[typ][id]
	if !ok {
		panic(fmt.Sprintf("no live %s %s", typ, id))
	}
	change(props)
}

// Providers are the stand-in providers of one test backend, serving on loopback ports.
type Providers struct {
	Journal *Journal
	Cloud   *Cloud
	// Env is PULUMI_DEBUG_PROVIDERS for them.
	Env string
}

// Start serves the stand-ins of every package the program uses, at the versions its SDKs ask for, until ctx is
// done.
func Start(ctx context.Context) (*Providers, error) {
	p := &Providers{Journal: &Journal{}, Cloud: &Cloud{}}
	all := []*Provider{
		{Package: "aws", Version: "6.83.4", Types: AWSRules, Invokes: AWSInvokes(Zones, p.Cloud), Journal: p.Journal, Cloud: p.Cloud},
		{Package: "eks", Version: "2.8.1", Journal: p.Journal, Components: map[string]Component{"eks:index:Cluster": EKSCluster}},
		{Package: "kubernetes", Version: "4.32.0", Types: KubernetesRules, Default: &KubernetesDefault,
			ConfigDiff: KubernetesConfigDiff, Journal: p.Journal},
		{Package: "pulumiservice", Version: "1.3.0", Types: PulumiServiceRules, Journal: p.Journal},
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
