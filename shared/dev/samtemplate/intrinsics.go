package samtemplate

import (
	"fmt"
	"strings"
)

// sequenceFunctions are the short-form intrinsic functions written as a
// YAML sequence (!If [cond, a, b]) and their long forms.
var sequenceFunctions = map[string]string{
	"!If": "Fn::If", "!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!Join": "Fn::Join", "!Select": "Fn::Select",
}

// resolveFunction evaluates Fn::If (against the template's Conditions),
// Fn::Join and the condition functions; ok is false for anything else.
func (t *Template) resolveFunction(x map[string]any, names Names) (any, bool, error) {
	if args, ok := x["Fn::If"].([]any); ok && len(args) == 3 {
		cond, _ := args[0].(string)
		yes, err := t.Condition(cond, names)
		if err != nil {
			return nil, true, err
		}
		if yes {
			v, err := t.Resolve(args[1], names)
			return v, true, err
		}
		v, err := t.Resolve(args[2], names)
		return v, true, err
	}
	if args, ok := x["Fn::Join"].([]any); ok && len(args) == 2 {
		sep, _ := args[0].(string)
		list, err := t.Resolve(args[1], names)
		if err != nil {
			return nil, true, err
		}
		items, _ := list.([]any)
		parts := make([]string, 0, len(items))
		for _, it := range items {
			parts = append(parts, fmt.Sprint(it))
		}
		return strings.Join(parts, sep), true, nil
	}
	for _, fn := range []string{"Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"} {
		if _, ok := x[fn]; ok {
			v, err := t.evalCondition(x, names)
			return v, true, err
		}
	}
	return nil, false, nil
}

// Condition evaluates the template condition name with the parameters
// names resolves.
func (t *Template) Condition(name string, names Names) (bool, error) {
	c, ok := t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %s", name)
	}
	return t.evalCondition(c, names)
}

func (t *Template) evalCondition(c any, names Names) (bool, error) {
	m, _ := c.(map[string]any)
	switch {
	case m["Condition"] != nil:
		name, _ := m["Condition"].(string)
		return t.Condition(name, names)
	case m["Fn::Equals"] != nil:
		args, _ := m["Fn::Equals"].([]any)
		if len(args) != 2 {
			return false, fmt.Errorf("Fn::Equals takes two values")
		}
		a, err := t.Resolve(args[0], names)
		if err != nil {
			return false, err
		}
		b, err := t.Resolve(args[1], names)
		if err != nil {
			return false, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case m["Fn::Not"] != nil:
		args, _ := m["Fn::Not"].([]any)
		if len(args) != 1 {
			return false, fmt.Errorf("Fn::Not takes one condition")
		}
		v, err := t.evalCondition(args[0], names)
		return !v, err
	case m["Fn::And"] != nil, m["Fn::Or"] != nil:
		and := m["Fn::And"] != nil
		args, _ := m["Fn::And"].([]any)
		if !and {
			args, _ = m["Fn::Or"].([]any)
		}
		for _, a := range args {
			v, err := t.evalCondition(a, names)
			if err != nil {
				return false, err
			}
			if v != and {
				return v, nil
			}
		}
		return and, nil
	}
	return false, fmt.Errorf("unsupported condition %v", c)
}
