package plan

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// In returns the plain value at a dotted path of the inputs ("spec.source.repoURL"), secrets unwrapped; nil
// when absent.
func (r *Resource) In(path string) any { return Plain(r.Raw(path)) }

// Raw returns the property value at a dotted path; secrets on the way are unwrapped, the last one is not.
func (r *Resource) Raw(path string) resource.PropertyValue {
	v := resource.NewObjectProperty(r.Inputs)
	for _, k := range strings.Split(path, ".") {
		v = unsecret(v)
		if !v.IsObject() {
			return resource.NewNullProperty()
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	return v
}

// SecretAt reports whether the value at a dotted path, or any object on the way to it, is secret: either way
// the engine stores it encrypted.
func (r *Resource) SecretAt(path string) bool {
	v := resource.NewObjectProperty(r.Inputs)
	for _, k := range strings.Split(path, ".") {
		if v.IsSecret() {
			return true
		}
		if !v.IsObject() {
			return false
		}
		v = v.ObjectValue()[resource.PropertyKey(k)]
	}
	return v.IsSecret()
}

// Str is the string at path, "" if absent.
func (r *Resource) Str(path string) string {
	s, _ := r.In(path).(string)
	return s
}

// Strs is the list of strings at path.
func (r *Resource) Strs(path string) []string {
	var out []string
	l, _ := r.In(path).([]any)
	for _, e := range l {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func unsecret(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

// Plain converts a property value to Go values (map[string]any, []any, string, float64, bool), secrets
// unwrapped, resource references as their URN, unknowns as nil.
func Plain(v resource.PropertyValue) any { return plain(v, false) }

// Redacted is a resource's inputs as Plain values, with every secret replaced by "[secret]".
func Redacted(inputs resource.PropertyMap) any { return redacted(resource.NewObjectProperty(inputs)) }

// redacted is Plain with every secret replaced by "[secret]".
func redacted(v resource.PropertyValue) any { return plain(v, true) }

func plain(v resource.PropertyValue, redact bool) any {
	if v.IsSecret() {
		if redact {
			return "[secret]"
		}
		v = unsecret(v)
	}
	switch {
	case v.IsNull():
		return nil
	case v.IsObject():
		m := map[string]any{}
		for k, e := range v.ObjectValue() {
			m[string(k)] = plain(e, redact)
		}
		return m
	case v.IsArray():
		a := []any{}
		for _, e := range v.ArrayValue() {
			a = append(a, plain(e, redact))
		}
		return a
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	case v.IsOutput():
		// An output value (how a monitor that supports them receives a remote component's inputs): its
		// element when known, secret as a secret.
		o := v.OutputValue()
		if !o.Known {
			return nil
		}
		if o.Secret && redact {
			return "[secret]"
		}
		return plain(o.Element, redact)
	case v.IsComputed():
		return nil
	default:
		return v.V
	}
}

// Find returns the resources of a type, in URN order.
func (res *Result) Find(typ string) []*Resource {
	var out []*Resource
	for _, r := range res.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// ByURN returns the resource with a URN, or nil.
func (res *Result) ByURN(urn string) *Resource {
	for _, r := range res.Resources {
		if r.URN == urn {
			return r
		}
	}
	return nil
}

// Children are the resources parented to r.
func (res *Result) Children(r *Resource) []*Resource {
	var out []*Resource
	for _, c := range res.Resources {
		if c.Parent == r.URN {
			out = append(out, c)
		}
	}
	return out
}

// Edges are the URNs r waits for: dependsOn, inputs, and its explicit provider.
func (r *Resource) Edges() []string {
	seen := map[string]bool{}
	var out []string
	add := func(u string) {
		if u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, u := range r.Dependencies {
		add(u)
	}
	for _, deps := range r.PropertyDeps {
		for _, u := range deps {
			add(u)
		}
	}
	add(ProviderURN(r.Provider))
	return out
}

// ProviderURN strips the ID from a provider reference (URN::ID).
func ProviderURN(ref string) string {
	if i := strings.LastIndex(ref, "::"); i > 0 {
		return ref[:i]
	}
	return ref
}

func resourceObject(r *Resource) resource.PropertyValue { return resource.NewObjectProperty(r.Inputs) }
