package devstack

import (
	"fmt"
	"strings"
)

// Match reports whether an event matches an EventBridge event pattern. It
// implements the parts of the pattern language the template uses and a
// little more: nested fields, lists of exact values (strings, numbers,
// booleans, null), and the prefix, suffix, anything-but and exists
// operators. An operator it does not know is an error, never a silent match.
func Match(pattern, event any) (bool, error) {
	p, ok := pattern.(map[string]any)
	if !ok {
		return false, fmt.Errorf("event pattern must be an object, got %T", pattern)
	}
	ev, _ := event.(map[string]any)
	for field, want := range p {
		got, present := ev[field]
		switch w := want.(type) {
		case map[string]any:
			if !present {
				return false, nil
			}
			ok, err := Match(w, got)
			if err != nil || !ok {
				return false, err
			}
		case []any:
			ok, err := matchAny(w, got, present)
			if err != nil || !ok {
				return false, err
			}
		default:
			return false, fmt.Errorf("pattern field %q must be an object or a list, got %T", field, want)
		}
	}
	return true, nil
}

// matchAny matches a leaf value (or each element of a list value) against
// the pattern's list of alternatives.
func matchAny(alts []any, got any, present bool) (bool, error) {
	values := []any{got}
	if list, ok := got.([]any); ok {
		values = list
	}
	for _, alt := range alts {
		if op, ok := alt.(map[string]any); ok {
			if ex, ok := op["exists"]; ok && len(op) == 1 {
				if b, _ := ex.(bool); b == present {
					return true, nil
				}
				continue
			}
		}
		if !present {
			continue
		}
		for _, v := range values {
			ok, err := matchOne(alt, v)
			if err != nil {
				return false, err
			}
			if ok {
				return true, nil
			}
		}
	}
	return false, nil
}

func matchOne(alt, v any) (bool, error) {
	op, ok := alt.(map[string]any)
	if !ok {
		return equal(alt, v), nil
	}
	if len(op) != 1 {
		return false, fmt.Errorf("pattern operator object must have one key: %v", op)
	}
	for name, arg := range op {
		s, isStr := v.(string)
		switch name {
		case "prefix":
			a, _ := arg.(string)
			return isStr && strings.HasPrefix(s, a), nil
		case "suffix":
			a, _ := arg.(string)
			return isStr && strings.HasSuffix(s, a), nil
		case "anything-but":
			if list, ok := arg.([]any); ok {
				for _, a := range list {
					if equal(a, v) {
						return false, nil
					}
				}
				return true, nil
			}
			return !equal(arg, v), nil
		}
		return false, fmt.Errorf("pattern operator %q is not supported locally", name)
	}
	return false, nil
}

func equal(a, b any) bool {
	return fmt.Sprint(normalizeNumber(a)) == fmt.Sprint(normalizeNumber(b)) && (a == nil) == (b == nil)
}

func normalizeNumber(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	}
	return v
}
