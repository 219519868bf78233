package stacks

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/example/eks-gitops-platform/infra"
)

// keyServiceIAMStatements is the configuration of the service's own AWS permissions.
const keyServiceIAMStatements = "serviceIamStatements"

var (
	iamActionRe = regexp.MustCompile(`^[a-z0-9-]+:[A-Za-z0-9*]+$`)
	sidRe       = regexp.MustCompile(`^[A-Za-z0-9]*$`)
	// statementKeys are the fields a workload statement may have: never a principal, and never NotAction or
	// NotResource, which grant everything they do not name.
	statementKeys = []string{"Action", "Condition", "Effect", "Resource", "Sid"}
)

// maxInlinePolicies is IAM's limit on the size of all a role's inline policies together.
const maxInlinePolicies = 10240

// serviceStatements reads serviceIamStatements: IAM statements for the service's role, each with Effect, Action,
// Resource and optionally Sid and Condition. It refuses what would let the service outgrow its job: IAM writes,
// actions on every resource but those that have no other form, principals, NotAction and NotResource.
func (l *loader) serviceStatements() []infra.Statement {
	raw, ok := l.raw(keyServiceIAMStatements)
	if !ok || strings.TrimSpace(raw) == "" {
		return nil
	}
	var items []map[string]any
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		l.fail(keyServiceIAMStatements, "must be a list of IAM statements (Effect, Action, Resource, optional Sid and Condition), got %q", raw)
		return nil
	}
	var out []infra.Statement
	for i, item := range items {
		key := fmt.Sprintf("%s[%d]", keyServiceIAMStatements, i)
		st, ok := l.serviceStatement(key, item)
		if ok {
			out = append(out, st)
		}
	}
	return out
}

func (l *loader) serviceStatement(key string, item map[string]any) (infra.Statement, bool) {
	problems := len(l.problems)
	for field := range item {
		if !slices.Contains(statementKeys, field) {
			l.fail(key, "has %s; a statement of the service's own role has only %s (no principal, and never NotAction or NotResource)",
				field, strings.Join(statementKeys, ", "))
		}
	}
	st := infra.Statement{}
	st.Sid, _ = item["Sid"].(string)
	if !sidRe.MatchString(st.Sid) {
		l.fail(key+".Sid", "must be letters and digits only, got %q", st.Sid)
	}
	st.Effect, _ = item["Effect"].(string)
	if st.Effect != "Allow" && st.Effect != "Deny" {
		l.fail(key+".Effect", "must be Allow or Deny, got %v", item["Effect"])
	}
	st.Action = l.stringOrList(key+".Action", item["Action"])
	for _, a := range st.Action {
		switch service, verb, _ := strings.Cut(a, ":"); {
		case !iamActionRe.MatchString(a):
			l.fail(key+".Action", "%q is not an IAM action (service:Action, such as s3:GetObject)", a)
		case st.Effect != "Allow":
		case verb == "*":
			l.fail(key+".Action", "%q grants every action of %s: name the actions (wildcards within a verb, such as %s:Get*, are fine)", a, service, service)
		case (service == "iam" || service == "sts" && verb != "GetCallerIdentity") && !readVerb(verb):
			l.fail(key+".Action", "%q changes IAM or assumes roles: the service's role may not (changes to roles come from the stack)", a)
		case service == "eks" && !readVerb(verb) && !strings.HasPrefix(verb, "Describe"):
			l.fail(key+".Action", "%q changes the cluster: the service's role may not (the cluster belongs to the stack)", a)
		}
	}
	st.Resource = l.stringOrList(key+".Resource", item["Resource"])
	for _, r := range st.Resource {
		parts := strings.SplitN(r, ":", 6)
		switch {
		case r == "*":
		case len(parts) < 6 || parts[0] != "arn":
			l.fail(key+".Resource", "%q is not an ARN", r)
		case st.Effect == "Allow" && (parts[4] == "*" || strings.Trim(parts[5], "*/") == ""):
			l.fail(key+".Resource", "%q names every resource of %s (any account, or the whole resource part a wildcard): name "+
				"the resources, such as arn:aws:s3:::my-bucket/*", r, parts[2])
		}
	}
	if st.Effect == "Allow" && slices.Contains(st.Resource, "*") {
		for _, a := range st.Action {
			if !slices.Contains(infra.WildcardOnlyActions, a) {
				l.fail(key+".Resource", "is \"*\", which lets %s reach every resource of the account: name the resources by ARN "+
					"(only %s take \"*\", having no resource-level permissions)", a, strings.Join(infra.WildcardOnlyActions, ", "))
			}
		}
	}
	if c, ok := item["Condition"]; ok {
		st.Condition = l.condition(key+".Condition", c)
	}
	return st, len(l.problems) == problems
}

// stringOrList reads an IAM field that is a string or a list of strings, and requires at least one.
func (l *loader) stringOrList(key string, v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = []string{v}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				l.fail(key, "must be a string or a list of strings, got %v", v)
				return nil
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		l.fail(key, "is required: one or more values")
	}
	return out
}

// condition reads Condition: {operator: {key: value or values}}; scalar values (true, 10) become IAM's strings.
func (l *loader) condition(key string, v any) map[string]map[string][]string {
	ops, ok := v.(map[string]any)
	if !ok || len(ops) == 0 {
		l.fail(key, "must map condition operators to keys and values, such as {StringEquals: {\"aws:SourceVpc\": vpc-1}}")
		return nil
	}
	out := map[string]map[string][]string{}
	for op, keys := range ops {
		m, ok := keys.(map[string]any)
		if !ok || len(m) == 0 {
			l.fail(key+"."+op, "must map condition keys to values")
			continue
		}
		out[op] = map[string][]string{}
		for k, val := range m {
			var vals []any
			if list, isList := val.([]any); isList {
				vals = list
			} else {
				vals = []any{val}
			}
			for _, e := range vals {
				switch e.(type) {
				case string, bool, float64:
					out[op][k] = append(out[op][k], fmt.Sprint(e))
				default:
					l.fail(key+"."+op+"."+k, "must be a string, number, boolean or a list of them, got %v", e)
				}
			}
			sort.Strings(out[op][k])
		}
	}
	return out
}

func readVerb(verb string) bool {
	return slices.ContainsFunc([]string{"Get", "List"}, func(p string) bool { return strings.HasPrefix(verb, p) })
}

// ServicePolicy is the inline policy of the service's role.
func (c *Config) ServicePolicy() infra.PolicyDocument {
	return infra.PolicyDocument{Version: "2012-10-17", Statement: c.ServiceIAMStatements}
}
