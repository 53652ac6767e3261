// Package samtemplate reads template.yaml so the local stack is built from
// the same definitions as the deployed one: DynamoDB tables, the function
// environment, state machine definitions with their substitutions, and the
// EventBridge rules that start them. It understands the CloudFormation short
// forms the template uses (!Ref, !GetAtt, !Sub) and resolves them against
// local names.
package samtemplate

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM template.
type Template struct {
	Parameters map[string]any
	Conditions map[string]any
	Globals    map[string]any
	Resources  map[string]Resource
}

// Resource is one entry of Resources.
type Resource struct {
	Type       string
	Properties map[string]any
	Metadata   map[string]any
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(raw)
}

// Parse parses template text.
func Parse(raw []byte) (*Template, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("template: empty document")
	}
	doc, err := convert(root.Content[0])
	if err != nil {
		return nil, err
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template: top level is not a mapping")
	}
	t := &Template{Resources: map[string]Resource{}}
	t.Parameters, _ = top["Parameters"].(map[string]any)
	t.Globals, _ = top["Globals"].(map[string]any)
	t.Conditions, _ = top["Conditions"].(map[string]any)
	res, _ := top["Resources"].(map[string]any)
	for id, v := range res {
		m, _ := v.(map[string]any)
		r := Resource{}
		r.Type, _ = m["Type"].(string)
		r.Properties, _ = m["Properties"].(map[string]any)
		r.Metadata, _ = m["Metadata"].(map[string]any)
		t.Resources[id] = r
	}
	return t, nil
}

// convert turns a YAML node into plain Go values, rewriting the short-form
// intrinsic functions into their long form ({"Ref": x}, {"Fn::GetAtt":
// [a, b]}, {"Fn::Sub": s}).
func convert(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return convert(n.Alias)
	case yaml.ScalarNode:
		switch n.Tag {
		case "!Ref":
			return map[string]any{"Ref": n.Value}, nil
		case "!GetAtt":
			parts := strings.SplitN(n.Value, ".", 2)
			if len(parts) != 2 {
				return nil, fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, n.Value)
			}
			return map[string]any{"Fn::GetAtt": []any{parts[0], parts[1]}}, nil
		case "!Sub":
			return map[string]any{"Fn::Sub": n.Value}, nil
		case "!Condition":
			return map[string]any{"Condition": n.Value}, nil
		case "!!int":
			v, err := strconv.ParseInt(n.Value, 0, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			return v, nil
		case "!!bool":
			return n.Value == "true", nil
		case "!!null":
			return nil, nil
		}
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			return nil, fmt.Errorf("line %d: unsupported tag %s", n.Line, n.Tag)
		}
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convert(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if n.Tag == "!GetAtt" && len(out) == 2 {
			return map[string]any{"Fn::GetAtt": out}, nil
		}
		if fn, ok := sequenceFunctions[n.Tag]; ok { // intrinsics.go
			return map[string]any{fn: out}, nil
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[n.Content[i].Value] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// Names resolves references to local values: Ref of a resource gives its
// local physical name (or ARN, for functions and state machines, as in
// CloudFormation), Ref of a parameter gives its value, GetAtt gives an
// attribute.
type Names interface {
	Ref(logicalID string) (string, bool)
	GetAtt(logicalID, attr string) (string, bool)
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

// Resolve evaluates the intrinsic functions in v.
func (t *Template) Resolve(v any, names Names) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if ref, ok := x["Ref"].(string); ok {
				if s, ok := names.Ref(ref); ok {
					return s, nil
				}
				return nil, fmt.Errorf("unresolved !Ref %s", ref)
			}
			if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
				id, _ := ga[0].(string)
				attr, _ := ga[1].(string)
				if s, ok := names.GetAtt(id, attr); ok {
					return s, nil
				}
				return nil, fmt.Errorf("unresolved !GetAtt %s.%s", id, attr)
			}
			if v, ok, err := t.resolveFunction(x, names); ok || err != nil { // intrinsics.go
				return v, err
			}
			if sub, ok := x["Fn::Sub"].(string); ok {
				var err error
				out := subVar.ReplaceAllStringFunc(sub, func(m string) string {
					name := m[2 : len(m)-1]
					if id, attr, ok := strings.Cut(name, "."); ok {
						if s, ok := names.GetAtt(id, attr); ok {
							return s
						}
					} else if s, ok := names.Ref(name); ok {
						return s
					}
					err = fmt.Errorf("unresolved ${%s} in !Sub", name)
					return m
				})
				return out, err
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := t.Resolve(e, names)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := t.Resolve(e, names)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// ParameterDefault returns a parameter's default value as text.
func (t *Template) ParameterDefault(name string) (string, bool) {
	p, ok := t.Parameters[name].(map[string]any)
	if !ok {
		return "", false
	}
	d, ok := p["Default"]
	if !ok {
		return "", false
	}
	return fmt.Sprint(d), true
}

// OfType returns the logical IDs of resources of the given type, sorted.
func (t *Template) OfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// FunctionEnv returns the environment variables of a function: the
// Globals' merged with the function's own, unresolved.
func (t *Template) FunctionEnv(logicalID string) map[string]any {
	env := map[string]any{}
	merge := func(fn map[string]any) {
		e, _ := fn["Environment"].(map[string]any)
		vars, _ := e["Variables"].(map[string]any)
		for k, v := range vars {
			env[k] = v
		}
	}
	if g, ok := t.Globals["Function"].(map[string]any); ok {
		merge(g)
	}
	merge(t.Resources[logicalID].Properties)
	return env
}

// Rule is an EventBridge rule that targets a state machine.
type Rule struct {
	Name    string // the event's name in the template
	Target  string // logical ID of the state machine
	Pattern any    // unresolved
}

// StateMachineRules returns the EventBridgeRule events of every state
// machine.
func (t *Template) StateMachineRules() []Rule {
	var rules []Rule
	for _, id := range t.OfType("AWS::Serverless::StateMachine") {
		evs, _ := t.Resources[id].Properties["Events"].(map[string]any)
		names := make([]string, 0, len(evs))
		for name := range evs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			ev, _ := evs[name].(map[string]any)
			if ev["Type"] != "EventBridgeRule" {
				continue
			}
			props, _ := ev["Properties"].(map[string]any)
			rules = append(rules, Rule{Name: name, Target: id, Pattern: props["Pattern"]})
		}
	}
	return rules
}
