package samtemplate_test

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

// wildcardResourceActions may have Resource "*": AWS offers no
// resource-level permission for them (Step Functions' log delivery).
var wildcardResourceActions = map[string]bool{
	"logs:CreateLogDelivery": true, "logs:GetLogDelivery": true, "logs:UpdateLogDelivery": true,
	"logs:DeleteLogDelivery": true, "logs:ListLogDeliveries": true, "logs:PutResourcePolicy": true,
	"logs:DescribeResourcePolicies": true, "logs:DescribeLogGroups": true,
}

// samPolicyTemplates the template may still use: they name one resource
// and grant one narrow action set (LambdaInvokePolicy: lambda:InvokeFunction
// on one function).
var samPolicyTemplates = map[string]bool{"LambdaInvokePolicy": true}

// objectPrefixes are the bucket's key prefixes (flow.go, exportflow,
// audio): every object resource names one of them.
var objectPrefix = regexp.MustCompile(`^\$\{DataBucket\.Arn\}/(imports|results|exports|audio)/\*$`)

// distributedMapObjects are the only narrower object resources: the
// import state machine's Distributed Map reads its item source (Prepare's
// chunks.json) and writes its ResultWriter files (map/...), per job.
var distributedMapObjects = map[string]string{
	"${DataBucket.Arn}/results/*/chunks.json": "s3:GetObject",
	"${DataBucket.Arn}/results/*/map/*":       "s3:AbortMultipartUpload s3:ListMultipartUploadParts s3:PutObject",
}

// neverGranted are actions no function may have: bucket configuration,
// lifecycle, ACLs, policies.
var neverGranted = regexp.MustCompile(`(?i)^s3:(Put|Delete)(Bucket|Lifecycle|.*Acl|.*Policy|.*Configuration)|^s3:.*Acl`)

type statement struct {
	where     string
	actions   []string
	resources []any
	condition map[string]any
}

// identityStatements returns every Allow statement of the functions' and
// state machines' inline policies, and the SAM policy templates used.
func identityStatements(t *testing.T, tpl *samtemplate.Template) ([]statement, []string) {
	t.Helper()
	var out []statement
	var templates []string
	ids := append(tpl.OfType("AWS::Serverless::Function"), tpl.OfType("AWS::Serverless::StateMachine")...)
	for _, id := range ids {
		pols, _ := tpl.Resources[id].Properties["Policies"].([]any)
		for i, p := range pols {
			pm, ok := p.(map[string]any)
			if !ok {
				templates = append(templates, fmt.Sprintf("%s: managed policy %v", id, p))
				continue
			}
			for name := range pm {
				if name != "Statement" {
					if !samPolicyTemplates[name] {
						templates = append(templates, id+": "+name)
					}
					continue
				}
				sts, _ := pm["Statement"].([]any)
				for j, s := range sts {
					sm, _ := s.(map[string]any)
					if sm["Effect"] != "Allow" {
						continue
					}
					st := statement{where: fmt.Sprintf("%s policy %d statement %d", id, i, j)}
					st.actions = strs(sm["Action"])
					if r, ok := sm["Resource"].([]any); ok {
						st.resources = r
					} else {
						st.resources = []any{sm["Resource"]}
					}
					st.condition, _ = sm["Condition"].(map[string]any)
					out = append(out, st)
				}
			}
		}
	}
	for _, typ := range []string{"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"} {
		if ids := tpl.OfType(typ); len(ids) > 0 {
			templates = append(templates, fmt.Sprintf("%s resources %v are not checked by this test; extend it", typ, ids))
		}
	}
	return out, templates
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// resourceText renders a resource (a string, !GetAtt or !Sub) for matching.
func resourceText(r any) string {
	switch x := r.(type) {
	case string:
		return x
	case map[string]any:
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return fmt.Sprintf("${%v.%v}", ga[0], ga[1])
		}
		if sub, ok := x["Fn::Sub"].(string); ok {
			return sub
		}
		if ref, ok := x["Ref"].(string); ok {
			return "${" + ref + "}"
		}
	}
	return fmt.Sprint(r)
}

// TestLeastPrivilege fails on any wildcard action, on a whole-bucket or "*"
// resource outside the allowed list, on SAM's broad policy templates, and
// on lifecycle, ACL or bucket-configuration actions.
func TestLeastPrivilege(t *testing.T) {
	tpl := loadRepoTemplate(t)
	sts, templates := identityStatements(t, tpl)
	for _, s := range templates {
		t.Errorf("%s: use inline statements limited to the prefixes and actions the code uses", s)
	}
	if len(sts) == 0 {
		t.Fatal("no policy statements found")
	}
	for _, st := range sts {
		for _, a := range st.actions {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %s", st.where, a)
			}
			if neverGranted.MatchString(a) {
				t.Errorf("%s: %s changes the bucket's configuration, lifecycle or ACLs", st.where, a)
			}
		}
		for _, r := range st.resources {
			res := resourceText(r)
			switch {
			case res == "*":
				for _, a := range st.actions {
					if !wildcardResourceActions[a] {
						t.Errorf("%s: %s on resource \"*\"", st.where, a)
					}
				}
			case distributedMapObjects[res] != "":
				acts := append([]string(nil), st.actions...)
				sort.Strings(acts)
				if fn := strings.Fields(st.where)[0]; fn != "ImportStateMachine" || strings.Join(acts, " ") != distributedMapObjects[res] {
					t.Errorf("%s: %v on %s; only the import state machine's Distributed Map may have %s there", st.where, st.actions, res, distributedMapObjects[res])
				}
			case strings.HasPrefix(res, "${DataBucket.Arn}") && res != "${DataBucket.Arn}":
				if !objectPrefix.MatchString(res) {
					t.Errorf("%s: bucket resource %s is not one prefix (imports/, results/, exports/, audio/)", st.where, res)
				}
			case res == "${DataBucket.Arn}":
				// Only ListBucket, and only for named prefixes.
				like, _ := st.condition["StringLike"].(map[string]any)
				prefixes := strs(like["s3:prefix"])
				if len(st.actions) != 1 || st.actions[0] != "s3:ListBucket" || len(prefixes) == 0 {
					t.Errorf("%s: the whole bucket is a resource of %v (only s3:ListBucket with an s3:prefix condition may be)", st.where, st.actions)
				}
				for _, p := range prefixes {
					if !regexp.MustCompile(`^(imports|results|exports|audio)/\*$`).MatchString(p) {
						t.Errorf("%s: ListBucket prefix %q", st.where, p)
					}
				}
			}
		}
	}
}

// TestPrefixesPerFunction pins who may read and write which prefix, as the
// code uses them.
func TestPrefixesPerFunction(t *testing.T) {
	tpl := loadRepoTemplate(t)
	sts, _ := identityStatements(t, tpl)
	got := map[string][]string{} // "<prefix> <action>" -> functions
	for _, st := range sts {
		fn := strings.Fields(st.where)[0]
		for _, r := range st.resources {
			m := objectPrefix.FindStringSubmatch(resourceText(r))
			if m == nil {
				continue
			}
			for _, a := range st.actions {
				k := m[1] + " " + a
				got[k] = append(got[k], fn)
			}
		}
	}
	want := map[string]string{
		"imports s3:GetObject":        "ApiFunction ImportChunkFunction ImportControlFunction ImportFinalizeFunction ImportPrepareFunction ImportRetryFunction",
		"imports s3:GetObjectVersion": "ApiFunction ImportChunkFunction ImportControlFunction ImportFinalizeFunction ImportPrepareFunction ImportRetryFunction",
		"imports s3:PutObject":        "ApiFunction ImportRetryFunction",
		"results s3:GetObject":        "ApiFunction ImportChunkFunction ImportFinalizeFunction ImportPrepareFunction ImportRetryFunction",
		"results s3:PutObject":        "ApiFunction ImportChunkFunction ImportFinalizeFunction ImportPrepareFunction",
		"exports s3:PutObject":        "ExportFunction",
		"exports s3:GetObject":        "ApiFunction",
		"exports s3:GetObjectVersion": "ApiFunction",
		"audio s3:PutObject":          "ImportChunkFunction",
	}
	for k, w := range want {
		fns := got[k]
		sort.Strings(fns)
		if strings.Join(fns, " ") != w {
			t.Errorf("%s: granted to %v, want %s", k, fns, w)
		}
	}
	// Only the workflow's own files are ever deleted (a chunk's stale
	// decisions, merged parts); never uploads, exports or prompts.
	for k, fns := range got {
		if !strings.HasSuffix(k, "s3:DeleteObject") {
			continue
		}
		for _, fn := range fns {
			if k != "results s3:DeleteObject" || (fn != "ImportChunkFunction" && fn != "ImportFinalizeFunction") {
				t.Errorf("%s granted to %s", k, fn)
			}
		}
	}
}

// TestRetryFunctionGrants pins what the retry function (which builds a
// retry's file) may do, and who may invoke it: only the API, which
// invokes nothing but the export and retry functions.
func TestRetryFunctionGrants(t *testing.T) {
	tpl := loadRepoTemplate(t)
	sts, _ := identityStatements(t, tpl)
	invokes := map[string][]string{} // function -> what it may invoke
	var retry []string               // "<action> <resource>" of the retry function
	for _, st := range sts {
		fn := strings.Fields(st.where)[0]
		for _, a := range st.actions {
			for _, r := range st.resources {
				if a == "lambda:InvokeFunction" {
					invokes[fn] = append(invokes[fn], resourceText(r))
				}
				if fn == "ImportRetryFunction" {
					retry = append(retry, a+" "+resourceText(r))
				}
			}
		}
	}
	wantInvokes := map[string]string{
		"ApiFunction":            "${ExportFunction.Arn} ${ImportRetryFunction.Arn}",
		"ExportDispatchFunction": "${ExportFunction.Arn}",
	}
	for fn, w := range wantInvokes {
		g := invokes[fn]
		sort.Strings(g)
		if strings.Join(g, " ") != w {
			t.Errorf("%s may invoke %v, want %s", fn, g, w)
		}
		delete(invokes, fn)
	}
	for fn, g := range invokes {
		t.Errorf("%s may invoke %v: pin it here", fn, g)
	}
	sort.Strings(retry)
	want := []string{
		"dynamodb:DeleteItem ${ControlTable.Arn}",
		"dynamodb:GetItem ${JobsTable.Arn}",
		"dynamodb:PutItem ${ControlTable.Arn}",
		"dynamodb:UpdateItem ${ControlTable.Arn}",
		"dynamodb:UpdateItem ${JobsTable.Arn}",
		"events:PutEvents arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default",
		"s3:GetObject ${DataBucket.Arn}/imports/*",
		"s3:GetObject ${DataBucket.Arn}/results/*",
		"s3:GetObjectVersion ${DataBucket.Arn}/imports/*",
		"s3:ListBucket ${DataBucket.Arn}",
		"s3:PutObject ${DataBucket.Arn}/imports/*",
	}
	if strings.Join(retry, "\n") != strings.Join(want, "\n") {
		t.Errorf("ImportRetryFunction is granted\n%s\nwant\n%s", strings.Join(retry, "\n"), strings.Join(want, "\n"))
	}
	// Its failures reach the cleanup function, and the API knows its name.
	eic, _ := tpl.Resources["ImportRetryFunction"].Properties["EventInvokeConfig"].(map[string]any)
	dest, _ := eic["DestinationConfig"].(map[string]any)
	onFailure, _ := dest["OnFailure"].(map[string]any)
	if resourceText(onFailure["Destination"]) != "${JobCleanupFunction.Arn}" {
		t.Errorf("ImportRetryFunction's OnFailure destination is %v, want the cleanup function", onFailure["Destination"])
	}
	if env := tpl.FunctionEnv("ApiFunction"); resourceText(env["BULKOPS_RETRY_FUNCTION"]) != "${ImportRetryFunction}" {
		t.Errorf("ApiFunction's BULKOPS_RETRY_FUNCTION is %v", env["BULKOPS_RETRY_FUNCTION"])
	}
}

// TestStepFunctionsActionsPerFunction pins who may do what to the import
// state machine: only the API stops executions (a cancel), and only those
// of the import state machine.
func TestStepFunctionsActionsPerFunction(t *testing.T) {
	tpl := loadRepoTemplate(t)
	sts, _ := identityStatements(t, tpl)
	got := map[string][]string{} // action -> "<function> <resource>"
	for _, st := range sts {
		fn := strings.Fields(st.where)[0]
		for _, a := range st.actions {
			if !strings.HasPrefix(a, "states:") {
				continue
			}
			for _, r := range st.resources {
				got[a] = append(got[a], fn+" "+resourceText(r))
			}
		}
	}
	executions := "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${ImportStateMachine.Name}:*"
	// The Distributed Map starts, describes and stops its own child
	// executions (execution:<name>/<map run label>:<id>), as
	// https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html
	// documents; the state machine's fixed name is how its role names it
	// without a circular !Ref.
	self := "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-import"
	children := "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-import/*"
	want := map[string]string{
		"states:StopExecution":       "ApiFunction " + executions + ", ImportStateMachine " + children,
		"states:GetExecutionHistory": "JobCleanupFunction " + executions,
		"states:ListExecutions":      "JobCleanupFunction ${ImportStateMachine}",
		"states:DescribeExecution":   "ImportStateMachine " + children,
		"states:StartExecution":      "ImportStateMachine " + self,
	}
	if name, _ := tpl.Resources["ImportStateMachine"].Properties["Name"].(map[string]any)["Fn::Sub"].(string); name != "${AWS::StackName}-import" {
		t.Errorf("ImportStateMachine's Name is %v, not the name its Distributed Map statements grant", tpl.Resources["ImportStateMachine"].Properties["Name"])
	}
	for a, w := range want {
		g := append([]string(nil), got[a]...)
		sort.Strings(g)
		if g := strings.Join(g, ", "); g != w {
			t.Errorf("%s: granted as %q, want %q", a, g, w)
		}
	}
	for a := range got {
		if _, ok := want[a]; !ok {
			t.Errorf("%s granted (%v): pin it here", a, got[a])
		}
	}
}

// TestMailAndSecretsActionsPerFunction pins who may send mail, touch
// secrets and assume roles: mail only the notifier, as the deployment's SES
// identity; the notifier reads webhook secrets under the tenants' prefix
// (bulkops/<tenant>/...; the code reads only the notice's own tenant's,
// shared/notify), which the API creates or puts (never reads); delivery
// targets' credentials live under the stack's
// prefix, created, read (the connection test) and deleted by the API, read
// by the export function (delivering), which both may assume tenants'
// roles (their trust policies demand the tenant's ID as external ID).
func TestMailAndSecretsActionsPerFunction(t *testing.T) {
	tpl := loadRepoTemplate(t)
	sts, _ := identityStatements(t, tpl)
	got := map[string][]string{} // action -> "<function> <resource>"
	for _, st := range sts {
		fn := strings.Fields(st.where)[0]
		for _, a := range st.actions {
			if !strings.HasPrefix(a, "ses:") && !strings.HasPrefix(a, "secretsmanager:") && !strings.HasPrefix(a, "sts:") {
				continue
			}
			for _, r := range st.resources {
				got[a] = append(got[a], fn+" "+resourceText(r))
			}
		}
	}
	targets := "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${AWS::StackName}/targets/*"
	roles := "arn:${AWS::Partition}:iam::*:role/*"
	notifications := "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${AWS::StackName}/notifications/*"
	want := map[string]string{
		"ses:SendEmail": "NotifyFunction arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${NotifySesIdentity}",
		"secretsmanager:GetSecretValue": "ApiFunction " + targets + ", ExportFunction " + targets +
			", NotifyFunction " + notifications,
		"secretsmanager:CreateSecret":   "ApiFunction " + notifications + ", ApiFunction " + targets,
		"secretsmanager:TagResource":    "ApiFunction " + notifications + ", ApiFunction " + targets,
		"secretsmanager:PutSecretValue": "ApiFunction " + notifications + ", ApiFunction " + targets,
		"secretsmanager:DeleteSecret":   "ApiFunction " + targets,
		"sts:AssumeRole":                "ApiFunction " + roles + ", ExportFunction " + roles,
	}
	for a, w := range want {
		g := got[a]
		sort.Strings(g)
		if strings.Join(g, ", ") != w {
			t.Errorf("%s: granted as %q, want %q", a, strings.Join(g, ", "), w)
		}
	}
	for a := range got {
		if _, ok := want[a]; !ok {
			t.Errorf("%s granted (%v): pin it here", a, got[a])
		}
	}
	// The prefix the delivery statements name is the one the functions use.
	env, _ := tpl.Globals["Function"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
	if sub, _ := env["BULKOPS_SECRET_PREFIX"].(map[string]any)["Fn::Sub"].(string); sub != "${AWS::StackName}/targets/" {
		t.Errorf("BULKOPS_SECRET_PREFIX is %v, want the prefix the policies grant", env["BULKOPS_SECRET_PREFIX"])
	}
	if sub, _ := env["BULKOPS_NOTIFY_SECRET_PREFIX"].(map[string]any)["Fn::Sub"].(string); sub != "${AWS::StackName}/notifications/" {
		t.Errorf("BULKOPS_NOTIFY_SECRET_PREFIX is %v, want the prefix the policies grant", env["BULKOPS_NOTIFY_SECRET_PREFIX"])
	}
}
