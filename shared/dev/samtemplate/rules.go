package samtemplate

import "sort"

// EventRule is an EventBridgeRule event of a function or a state machine:
// EventBridge delivers every event that matches Pattern to Target (a
// state machine starts an execution with the event as input, a function is
// invoked asynchronously with the event).
type EventRule struct {
	Name       string // the event's name in the template
	Target     string // logical ID of the function or state machine
	TargetType string // AWS::Serverless::Function or AWS::Serverless::StateMachine
	Pattern    any    // unresolved
}

// ScheduleRule is a Schedule event of a function: EventBridge invokes it
// with a "Scheduled Event" at the rate or cron expression.
type ScheduleRule struct {
	Name     string
	Target   string // logical ID of the function
	Schedule any    // unresolved expression, such as rate(1 minute)
}

// EventRules returns the EventBridgeRule events of every function and state
// machine, ordered by target and name.
func (t *Template) EventRules() []EventRule {
	var rules []EventRule
	for _, typ := range []string{"AWS::Serverless::Function", "AWS::Serverless::StateMachine"} {
		for _, id := range t.OfType(typ) {
			for _, name := range t.eventNames(id, "EventBridgeRule") {
				props := t.eventProps(id, name)
				rules = append(rules, EventRule{Name: name, Target: id, TargetType: typ, Pattern: props["Pattern"]})
			}
		}
	}
	return rules
}

// ScheduleRules returns the Schedule events of every function.
func (t *Template) ScheduleRules() []ScheduleRule {
	var out []ScheduleRule
	for _, id := range t.OfType("AWS::Serverless::Function") {
		for _, name := range t.eventNames(id, "Schedule") {
			out = append(out, ScheduleRule{Name: name, Target: id, Schedule: t.eventProps(id, name)["Schedule"]})
		}
	}
	return out
}

func (t *Template) eventNames(id, typ string) []string {
	evs, _ := t.Resources[id].Properties["Events"].(map[string]any)
	var names []string
	for name, v := range evs {
		if ev, _ := v.(map[string]any); ev["Type"] == typ {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func (t *Template) eventProps(id, name string) map[string]any {
	evs, _ := t.Resources[id].Properties["Events"].(map[string]any)
	ev, _ := evs[name].(map[string]any)
	props, _ := ev["Properties"].(map[string]any)
	return props
}
