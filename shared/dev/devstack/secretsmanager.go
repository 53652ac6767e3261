package devstack

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// SecretsManager plays AWS Secrets Manager's API on the local stack: the
// JSON 1.1 protocol (POST, X-Amz-Target: secretsmanager.<Operation>) with
// CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret and
// DeleteSecret, AWS's error shapes (x-amzn-ErrorType and __type:
// ResourceNotFoundException, ResourceExistsException,
// InvalidRequestException, InvalidParameterException), version stages
// (AWSCURRENT, AWSPREVIOUS), client request tokens and deletion with a
// recovery window. Secrets are kept in memory, like DynamoDB Local's
// tables; their values are never logged.
//
// cmd/devserver serves it under /secretsmanager/ on its AWS port, which
// AWS_ENDPOINT_URL_SECRETS_MANAGER names (infra/local/env.sh).
type SecretsManager struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	Log *slog.Logger

	mu      sync.Mutex
	secrets map[string]*smSecret // by name
}

type smSecret struct {
	arn, name, description, kmsKeyID string
	tags                             []smTag
	created, changed                 time.Time
	deleted                          time.Time // zero: not scheduled for deletion
	versions                         map[string]*smVersion
}

type smVersion struct {
	id      string
	str     *string
	binary  []byte
	stages  []string
	created time.Time
}

type smTag struct {
	Key   string
	Value string
}

// NewSecretsManager returns an empty Secrets Manager.
func NewSecretsManager(log *slog.Logger) *SecretsManager {
	if log == nil {
		log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	return &SecretsManager{Log: log, secrets: map[string]*smSecret{}}
}

const (
	smStageCurrent  = "AWSCURRENT"
	smStagePrevious = "AWSPREVIOUS"
	// smMaxValue is Secrets Manager's limit of a secret's value.
	smMaxValue = 65536
)

var smNamePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

// smError is an AWS error answer.
type smError struct {
	status int
	typ    string
	msg    string
}

func (e *smError) Error() string { return e.typ + ": " + e.msg }

func smNotFound() error {
	return &smError{http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."}
}

func smInvalidParam(format string, args ...any) error {
	return &smError{http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf(format, args...)}
}

func smInvalidRequest(msg string) error {
	return &smError{http.StatusBadRequest, "InvalidRequestException", msg}
}

// ServeHTTP answers one API call.
func (sm *SecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		awsJSONError(w, http.StatusMethodNotAllowed, "InvalidRequestException", "Secrets Manager is called with POST")
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	if !ok {
		awsJSONError(w, http.StatusBadRequest, "UnknownOperationException", "X-Amz-Target must be secretsmanager.<Operation>")
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/secretsmanager/aws4_request") {
		awsJSONError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "the request must be signed with Signature Version 4 for service secretsmanager")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(body) > 1<<20 {
		awsJSONError(w, http.StatusBadRequest, "InvalidRequestException", "the request body is unreadable or larger than 1 MiB")
		return
	}
	handlers := map[string]func([]byte) (any, error){
		"CreateSecret":   sm.createSecret,
		"GetSecretValue": sm.getSecretValue,
		"PutSecretValue": sm.putSecretValue,
		"DescribeSecret": sm.describeSecret,
		"DeleteSecret":   sm.deleteSecret,
	}
	h, ok := handlers[op]
	if !ok {
		awsJSONError(w, http.StatusBadRequest, "UnknownOperationException", "operation "+op+" is not served by the local Secrets Manager")
		return
	}
	out, err := h(body)
	if err != nil {
		var e *smError
		if !errors.As(err, &e) {
			e = &smError{http.StatusInternalServerError, "InternalServiceError", err.Error()}
		}
		sm.Log.Info("secretsmanager", "op", op, "error", e.typ)
		awsJSONError(w, e.status, e.typ, e.msg)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func smDecode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &smError{http.StatusBadRequest, "SerializationException", "the request body is not the operation's JSON: " + err.Error()}
	}
	return nil
}

func (sm *SecretsManager) now() time.Time {
	if sm.Now != nil {
		return sm.Now()
	}
	return time.Now()
}

// smEpoch is a timestamp as the JSON protocols send it: seconds, fractional.
func smEpoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

type smValue struct {
	ClientRequestToken string
	SecretString       *string
	SecretBinary       []byte // base64 in JSON
}

func (v smValue) check() error {
	switch {
	case v.SecretString != nil && v.SecretBinary != nil:
		return smInvalidParam("You can't specify both a binary secret value and a string secret value in the same secret.")
	case v.SecretString != nil && len(*v.SecretString) > smMaxValue, len(v.SecretBinary) > smMaxValue:
		return smInvalidParam("The secret value is larger than %d bytes.", smMaxValue)
	case v.ClientRequestToken != "" && (len(v.ClientRequestToken) < 32 || len(v.ClientRequestToken) > 64):
		return smInvalidParam("ClientRequestToken must be 32 to 64 characters.")
	}
	return nil
}

func (v smValue) has() bool { return v.SecretString != nil || v.SecretBinary != nil }

func (v smValue) same(ver *smVersion) bool {
	if (v.SecretString == nil) != (ver.str == nil) {
		return false
	}
	if v.SecretString != nil {
		return *v.SecretString == *ver.str
	}
	return string(v.SecretBinary) == string(ver.binary)
}

func (sm *SecretsManager) createSecret(body []byte) (any, error) {
	var in struct {
		smValue
		Name        string
		Description string
		KmsKeyId    string
		Tags        []smTag
	}
	if err := smDecode(body, &in); err != nil {
		return nil, err
	}
	if !smNamePattern.MatchString(in.Name) {
		return nil, smInvalidParam("Name must be 1 to 512 characters: letters, digits and /_+=.@-")
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if s, ok := sm.secrets[in.Name]; ok {
		if !s.deleted.IsZero() {
			return nil, smInvalidRequest("You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		if v, ok := s.versions[in.ClientRequestToken]; ok && in.ClientRequestToken != "" && in.same(v) {
			return map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": v.id}, nil // the same request again
		}
		return nil, &smError{http.StatusBadRequest, "ResourceExistsException", "The operation failed because the secret " + in.Name + " already exists."}
	}
	now := sm.now()
	s := &smSecret{
		arn:  "arn:aws:secretsmanager:" + Region + ":" + Account + ":secret:" + in.Name + "-" + smRandomSuffix(6),
		name: in.Name, description: in.Description, kmsKeyID: in.KmsKeyId, tags: in.Tags,
		created: now, changed: now, versions: map[string]*smVersion{},
	}
	sm.secrets[in.Name] = s
	out := map[string]any{"ARN": s.arn, "Name": s.name}
	if in.has() {
		out["VersionId"] = s.addVersion(in.smValue, now)
	}
	sm.Log.Info("secretsmanager", "op", "CreateSecret", "name", in.Name)
	return out, nil
}

// addVersion makes v the AWSCURRENT version; the current one becomes
// AWSPREVIOUS.
func (s *smSecret) addVersion(v smValue, now time.Time) string {
	id := v.ClientRequestToken
	if id == "" {
		id = newUUID()
	}
	for _, old := range s.versions {
		old.stages = smWithout(old.stages, smStagePrevious)
		if contains(old.stages, smStageCurrent) {
			old.stages = append(smWithout(old.stages, smStageCurrent), smStagePrevious)
		}
	}
	nv := &smVersion{id: id, stages: []string{smStageCurrent}, created: now}
	if v.SecretString != nil {
		str := *v.SecretString
		nv.str = &str
	} else {
		nv.binary = append([]byte{}, v.SecretBinary...)
	}
	s.versions[id] = nv
	for vid, old := range s.versions { // versions with no stage are dropped
		if len(old.stages) == 0 {
			delete(s.versions, vid)
		}
	}
	s.changed = now
	return id
}

// find resolves a SecretId: a name, a full ARN, or an ARN smWithout the
// six-character suffix.
func (sm *SecretsManager) find(id string) (*smSecret, error) {
	if id == "" {
		return nil, smInvalidParam("SecretId is required.")
	}
	if s, ok := sm.secrets[id]; ok {
		return s, nil
	}
	if strings.HasPrefix(id, "arn:") {
		for _, s := range sm.secrets {
			if s.arn == id || s.arn[:len(s.arn)-7] == id {
				return s, nil
			}
		}
	}
	return nil, smNotFound()
}

func (sm *SecretsManager) live(id string) (*smSecret, error) {
	s, err := sm.find(id)
	if err != nil {
		return nil, err
	}
	if !s.deleted.IsZero() {
		return nil, smInvalidRequest("You can't perform this operation on the secret because it was marked for deletion.")
	}
	return s, nil
}

func (sm *SecretsManager) getSecretValue(body []byte) (any, error) {
	var in struct{ SecretId, VersionId, VersionStage string }
	if err := smDecode(body, &in); err != nil {
		return nil, err
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	s, err := sm.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	stage := in.VersionStage
	if stage == "" && in.VersionId == "" {
		stage = smStageCurrent
	}
	var v *smVersion
	for _, cand := range s.versions {
		if (in.VersionId == "" || cand.id == in.VersionId) && (stage == "" || contains(cand.stages, stage)) {
			v = cand
		}
	}
	if v == nil {
		return nil, &smError{http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: " + in.VersionId + ", VersionStage: " + stage}
	}
	out := map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": v.id, "VersionStages": v.stages, "CreatedDate": smEpoch(v.created)}
	if v.str != nil {
		out["SecretString"] = *v.str
	} else {
		out["SecretBinary"] = v.binary
	}
	sm.Log.Info("secretsmanager", "op", "GetSecretValue", "name", s.name)
	return out, nil
}

func (sm *SecretsManager) putSecretValue(body []byte) (any, error) {
	var in struct {
		smValue
		SecretId string
	}
	if err := smDecode(body, &in); err != nil {
		return nil, err
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	if !in.has() {
		return nil, smInvalidParam("You must provide either SecretString or SecretBinary.")
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	s, err := sm.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	if v, ok := s.versions[in.ClientRequestToken]; ok && in.ClientRequestToken != "" {
		if !in.same(v) {
			return nil, &smError{http.StatusBadRequest, "ResourceExistsException", "You can't modify an existing version, you can only create a new version."}
		}
		return map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": v.id, "VersionStages": v.stages}, nil
	}
	id := s.addVersion(in.smValue, sm.now())
	sm.Log.Info("secretsmanager", "op", "PutSecretValue", "name", s.name)
	return map[string]any{"ARN": s.arn, "Name": s.name, "VersionId": id, "VersionStages": s.versions[id].stages}, nil
}

func (sm *SecretsManager) describeSecret(body []byte) (any, error) {
	var in struct{ SecretId string }
	if err := smDecode(body, &in); err != nil {
		return nil, err
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	s, err := sm.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	stages := map[string][]string{}
	for _, v := range s.versions {
		stages[v.id] = v.stages
	}
	out := map[string]any{
		"ARN": s.arn, "Name": s.name, "CreatedDate": smEpoch(s.created), "LastChangedDate": smEpoch(s.changed),
		"VersionIdsToStages": stages, "Tags": smTags(s.tags),
	}
	if s.description != "" {
		out["Description"] = s.description
	}
	if s.kmsKeyID != "" {
		out["KmsKeyId"] = s.kmsKeyID
	}
	if !s.deleted.IsZero() {
		out["DeletedDate"] = smEpoch(s.deleted)
	}
	return out, nil
}

func (sm *SecretsManager) deleteSecret(body []byte) (any, error) {
	var in struct {
		SecretId                   string
		RecoveryWindowInDays       *int64
		ForceDeleteWithoutRecovery bool
	}
	if err := smDecode(body, &in); err != nil {
		return nil, err
	}
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != nil {
		return nil, smInvalidParam("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, smInvalidParam("RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	s, err := sm.find(in.SecretId)
	if err != nil {
		return nil, err
	}
	now := sm.now()
	if in.ForceDeleteWithoutRecovery {
		delete(sm.secrets, s.name)
		sm.Log.Info("secretsmanager", "op", "DeleteSecret", "name", s.name, "force", true)
		return map[string]any{"ARN": s.arn, "Name": s.name, "DeletionDate": smEpoch(now)}, nil
	}
	if !s.deleted.IsZero() {
		return nil, smInvalidRequest("You can't perform this operation on the secret because it was already scheduled for deletion.")
	}
	s.deleted = now
	sm.Log.Info("secretsmanager", "op", "DeleteSecret", "name", s.name, "recoveryDays", days)
	return map[string]any{"ARN": s.arn, "Name": s.name, "DeletionDate": smEpoch(now.Add(time.Duration(days) * 24 * time.Hour))}, nil
}

// Names returns the names of the secrets kept (not their values), sorted:
// for tests.
func (sm *SecretsManager) Names() []string {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	out := make([]string, 0, len(sm.secrets))
	for n := range sm.secrets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func smTags(t []smTag) []smTag {
	if t == nil {
		return []smTag{}
	}
	return t
}

func smWithout(list []string, s string) []string {
	out := list[:0:0]
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

func smRandomSuffix(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
