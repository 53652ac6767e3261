package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"
)

// Clients are the AWS clients provisioning uses, pointed at the local
// servers by the AWS_ENDPOINT_URL_* variables.
type Clients struct {
	DynamoDB *dynamodb.Client
	S3       *s3.Client
	SFN      *sfn.Client
}

// Provisioner creates the template's resources on the local servers.
type Provisioner struct {
	Names       Names
	Clients     Clients
	TemplateDir string // DefinitionUri paths are relative to it
	// WebhookARN is the MinIO notification target (arn:minio:sqs::<ID>:webhook)
	// that receives the bucket's object events; empty skips notifications.
	WebhookARN string
}

// All creates (or updates) tables, buckets and state machines. It is
// idempotent.
func (p Provisioner) All(ctx context.Context) error {
	if err := p.Tables(ctx); err != nil {
		return err
	}
	if err := p.Buckets(ctx); err != nil {
		return err
	}
	return p.StateMachines(ctx)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Tables creates every AWS::DynamoDB::Table from its template definition.
func (p Provisioner) Tables(ctx context.Context) error {
	t := p.Names.Template
	for _, id := range t.OfType("AWS::DynamoDB::Table") {
		props := t.Resources[id].Properties
		name, _ := p.Names.Ref(id)
		in := &dynamodb.CreateTableInput{TableName: &name, BillingMode: ddbtypes.BillingModePayPerRequest}
		for _, a := range list(props["AttributeDefinitions"]) {
			in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
				AttributeName: aws.String(str(a["AttributeName"])), AttributeType: ddbtypes.ScalarAttributeType(str(a["AttributeType"])),
			})
		}
		in.KeySchema = keySchema(props["KeySchema"])
		for _, g := range list(props["GlobalSecondaryIndexes"]) {
			proj, _ := g["Projection"].(map[string]any)
			in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
				IndexName:  aws.String(str(g["IndexName"])),
				KeySchema:  keySchema(g["KeySchema"]),
				Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(str(proj["ProjectionType"]))},
			})
		}
		_, err := p.Clients.DynamoDB.CreateTable(ctx, in)
		if err != nil && apiCode(err) != "ResourceInUseException" {
			return fmt.Errorf("creating table %s: %w", name, err)
		}
		if ttl, ok := props["TimeToLiveSpecification"].(map[string]any); ok && err == nil {
			_, err := p.Clients.DynamoDB.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName: &name,
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{
					AttributeName: aws.String(str(ttl["AttributeName"])), Enabled: aws.Bool(ttl["Enabled"] == true),
				},
			})
			if err != nil {
				return fmt.Errorf("setting TTL of table %s: %w", name, err)
			}
		}
	}
	return nil
}

func keySchema(v any) []ddbtypes.KeySchemaElement {
	var ks []ddbtypes.KeySchemaElement
	for _, k := range list(v) {
		ks = append(ks, ddbtypes.KeySchemaElement{
			AttributeName: aws.String(str(k["AttributeName"])), KeyType: ddbtypes.KeyType(str(k["KeyType"])),
		})
	}
	return ks
}

// Buckets creates every AWS::S3::Bucket with its versioning and, when
// EventBridge notifications are on, routes its object events to the
// webhook (the local stand-in for S3 → EventBridge).
func (p Provisioner) Buckets(ctx context.Context) error {
	t := p.Names.Template
	for _, id := range t.OfType("AWS::S3::Bucket") {
		props := t.Resources[id].Properties
		name, _ := p.Names.Ref(id)
		_, err := p.Clients.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name})
		if err != nil && apiCode(err) != "BucketAlreadyOwnedByYou" && apiCode(err) != "BucketAlreadyExists" {
			return fmt.Errorf("creating bucket %s: %w", name, err)
		}
		if v, ok := props["VersioningConfiguration"].(map[string]any); ok && v["Status"] == "Enabled" {
			_, err := p.Clients.S3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
				Bucket:                  &name,
				VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
			})
			if err != nil {
				return fmt.Errorf("enabling versioning of bucket %s: %w", name, err)
			}
		}
		nc, _ := props["NotificationConfiguration"].(map[string]any)
		eb, _ := nc["EventBridgeConfiguration"].(map[string]any)
		if eb["EventBridgeEnabled"] == true && p.WebhookARN != "" {
			_, err := p.Clients.S3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
				Bucket: &name,
				NotificationConfiguration: &s3types.NotificationConfiguration{
					QueueConfigurations: []s3types.QueueConfiguration{{
						QueueArn: aws.String(p.WebhookARN),
						Events:   []s3types.Event{"s3:ObjectCreated:*"},
					}},
				},
			})
			if err != nil {
				return fmt.Errorf("routing events of bucket %s to %s: %w", name, p.WebhookARN, err)
			}
		}
	}
	return nil
}

// StateMachines creates or updates every AWS::Serverless::StateMachine from
// its DefinitionUri file with DefinitionSubstitutions applied, as
// CloudFormation would.
func (p Provisioner) StateMachines(ctx context.Context) error {
	t := p.Names.Template
	for _, id := range t.OfType("AWS::Serverless::StateMachine") {
		def, err := p.Definition(id)
		if err != nil {
			return err
		}
		arn, _ := p.Names.Ref(id)
		name := arn[strings.LastIndex(arn, ":")+1:]
		_, err = p.Clients.SFN.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{
			Name: &name, Definition: &def, Type: sfntypes.StateMachineTypeStandard,
			RoleArn: aws.String("arn:aws:iam::" + Account + ":role/" + name),
		})
		var exists *sfntypes.StateMachineAlreadyExists
		if errors.As(err, &exists) {
			_, err = p.Clients.SFN.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: &arn, Definition: &def})
		}
		if err != nil {
			return fmt.Errorf("creating state machine %s: %w", name, err)
		}
	}
	return nil
}

// Definition returns a state machine's definition with its substitutions
// applied. Every ${Name} in the file must have a substitution.
func (p Provisioner) Definition(id string) (string, error) {
	t := p.Names.Template
	props := t.Resources[id].Properties
	raw, err := os.ReadFile(filepath.Join(p.TemplateDir, str(props["DefinitionUri"])))
	if err != nil {
		return "", fmt.Errorf("state machine %s: %w", id, err)
	}
	subs, err := t.Resolve(props["DefinitionSubstitutions"], p.Names)
	if err != nil {
		return "", fmt.Errorf("state machine %s: %w", id, err)
	}
	m, _ := subs.(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	def := string(raw)
	for _, k := range keys {
		def = strings.ReplaceAll(def, "${"+k+"}", str(m[k]))
	}
	if i := strings.Index(def, "${"); i >= 0 {
		end := strings.IndexByte(def[i:], '}')
		if end > 0 && !strings.Contains(def[i:i+end], " ") && !strings.Contains(def[i:i+end], ".") {
			return "", fmt.Errorf("state machine %s: %s has no DefinitionSubstitutions entry", id, def[i:i+end+1])
		}
	}
	return def, nil
}

func list(v any) []map[string]any {
	items, _ := v.([]any)
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
