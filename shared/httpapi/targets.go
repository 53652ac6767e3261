package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/delivery"
)

// targetStore keeps a tenant's delivery targets (dynamostore.Store).
type targetStore interface {
	PutTarget(ctx context.Context, t delivery.Target) error
	ReplaceTarget(ctx context.Context, before, after delivery.Target) error
	GetTarget(ctx context.Context, tenant, id string) (delivery.Target, error)
	ListTargets(ctx context.Context, tenant string) ([]delivery.Target, error)
	DeleteTarget(ctx context.Context, tenant, id string) error
}

// credentialStore keeps SFTP targets' credentials (secretstore.Store:
// Secrets Manager). Create returns the secret's ARN, the only thing the
// target keeps.
type credentialStore interface {
	Create(ctx context.Context, tenant, targetID string, c delivery.Credential) (string, error)
	Put(ctx context.Context, tenant, ref string, c delivery.Credential) error
	Delete(ctx context.Context, tenant, ref string) error
}

func (a *API) targets() (targetStore, error) {
	if a.Targets == nil {
		return nil, bulkerr.New(bulkerr.Internal, "delivery targets are not configured")
	}
	return a.Targets, nil
}

// targetID is the {id} of a target route; anything but a ULID is not found
// without asking the store.
func targetID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !jobIDPattern.MatchString(id) {
		return "", bulkerr.New(bulkerr.NotFound, "target %q not found", id)
	}
	return id, nil
}

// pathTarget reads the tenant's target the route's {id} names, with the
// store it came from.
func (a *API) pathTarget(r *http.Request, id authn.Identity) (targetStore, delivery.Target, error) {
	st, err := a.targets()
	if err != nil {
		return nil, delivery.Target{}, err
	}
	tid, err := targetID(r)
	if err != nil {
		return nil, delivery.Target{}, err
	}
	t, err := st.GetTarget(r.Context(), id.Tenant, tid)
	return st, t, err
}

// createTarget checks a target's settings and credential, stores the
// credential in Secrets Manager (the target keeps its ARN only) and the
// target. The credential is never answered, logged or stored elsewhere.
func (a *API) createTarget(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, err := a.targets()
	if err != nil {
		return err
	}
	var b bulkapi.TargetRequest
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	ctx := r.Context()
	list, err := st.ListTargets(ctx, id.Tenant)
	if err != nil {
		return err
	}
	if len(list) >= delivery.MaxTargets {
		return bulkerr.New(bulkerr.Conflict, "tenant %s has %d delivery targets, the most allowed; delete one first", id.Tenant, len(list))
	}
	tid, err := a.NewID()
	if err != nil {
		return bulkerr.Wrap(bulkerr.Internal, err, "making a target ID")
	}
	t := delivery.Target{ID: tid, Tenant: id.Tenant, Name: strings.TrimSpace(b.Name), Kind: b.Kind, Bucket: b.Bucket,
		CreatedBy: id.User, CreatedAt: a.Now().UTC()}
	if t.Kind == "" {
		t.Kind = delivery.KindS3Link
	}
	var cred delivery.Credential
	if b.SFTP != nil {
		s := b.SFTP
		t.SFTP = &delivery.SFTP{Host: s.Host, Port: s.Port, User: s.User, Folder: s.Folder, HostKey: s.HostKey,
			HostKeyFingerprint: s.HostKeyFingerprint, Auth: s.Auth}
		cred = s.Credential()
		if t.SFTP.Auth == "" && (cred.Password != "" || cred.PrivateKey != "") {
			t.SFTP.Auth = cred.Method()
		}
	}
	if err := targetInvalid(t, false); err != nil {
		return err
	}
	// Which kinds a tenant may deliver to is the operator's call
	// (tenancy.Settings.DeliveryTargets; s3link always).
	if a.Settings != nil {
		ts, err := a.Settings.TenantSettings(ctx, id.Tenant)
		if err != nil {
			return err
		}
		if !ts.AllowsTarget(string(t.Kind)) {
			return bulkerr.New(bulkerr.Forbidden, "tenant %s may not create %s delivery targets: an operator allows that kind in the tenant's settings (deliveryTargets)", id.Tenant, t.Kind)
		}
	}
	if t.SFTP != nil {
		pinHostKey(t.SFTP)
		if err := cred.Validate(); err != nil {
			return atField(credentialPointer(cred, t.SFTP.Auth), err)
		}
		if cred.Method() != t.SFTP.Auth {
			return invalidAt("/sftp/auth", "sftp.auth is %s, but the request carries a %s", t.SFTP.Auth, cred.Method())
		}
		if a.Credentials == nil {
			return bulkerr.New(bulkerr.Internal, "the credential store is not configured")
		}
		arn, err := a.Credentials.Create(ctx, id.Tenant, tid, cred)
		if err != nil {
			return err
		}
		t.SFTP.CredentialARN = arn
	}
	if err := st.PutTarget(ctx, t); err != nil {
		if t.SFTP != nil {
			_ = a.Credentials.Delete(context.WithoutCancel(ctx), id.Tenant, t.SFTP.CredentialARN)
		}
		return err
	}
	a.Log.InfoContext(ctx, "target created", "tenant", id.Tenant, "target", tid, "kind", string(t.Kind))
	writeJSON(w, http.StatusCreated, bulkapi.Target{Target: t})
	return nil
}

// targetInvalid is t's validation error (delivery.Target.Validate, or
// ValidateStored when stored) with an errors[] entry per wrong field: the
// field's JSON pointer in the request body ("sftp.host" is /sftp/host) and
// its part of the message (field, value, rule). nil when t is valid.
func targetInvalid(t delivery.Target, stored bool) error {
	var err error
	if stored {
		err = t.ValidateStored()
	} else {
		err = t.Validate()
	}
	if err == nil {
		return nil
	}
	errs := t.FieldErrors(stored)
	fields := make([]FieldError, len(errs))
	for i, e := range errs {
		fields[i] = FieldError{Pointer: pointer(strings.Split(e.Field, ".")...), Detail: e.String()}
	}
	return invalidAtFields(err, fields)
}

// credentialPointer is the body field a refused SFTP credential is about
// (delivery.Credential.Validate checks in this order): the password for
// none at all (the private key when auth says private-key), the private
// key for both, the password's own rules, a passphrase without a key,
// then the key's.
func credentialPointer(c delivery.Credential, auth delivery.AuthMethod) string {
	switch {
	case c.Password == "" && c.PrivateKey == "":
		if auth == delivery.AuthPrivateKey {
			return "/sftp/privateKey"
		}
		return "/sftp/password"
	case c.Password != "" && c.PrivateKey != "":
		return "/sftp/privateKey"
	case c.Password != "" && (delivery.Credential{Password: c.Password}).Validate() != nil:
		return "/sftp/password"
	case c.Passphrase != "" && c.PrivateKey == "":
		return "/sftp/passphrase"
	case c.Password != "":
		return "/sftp/password"
	}
	return "/sftp/privateKey"
}

// pinHostKey keeps a valid target's pinned key in one form, with its
// fingerprint.
func pinHostKey(s *delivery.SFTP) {
	k, _ := delivery.ParseHostKey(s.HostKey)
	s.HostKey, s.HostKeyFingerprint = k.AuthorizedKey(), k.Fingerprint
}

// updateTarget changes the fields of a target the body gives (PATCH: the
// others stay; the kind cannot change). A changed host key is pinned anew;
// a credential given replaces the target's (a new version of its secret,
// written before the target; auth follows the credential). The credential
// is never answered, logged or stored elsewhere.
func (a *API) updateTarget(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, t, err := a.pathTarget(r, id)
	if err != nil {
		return err
	}
	before := t
	var b bulkapi.TargetUpdate
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	ctx := r.Context()
	var changed []string
	if b.Name != nil {
		t.Name, changed = strings.TrimSpace(*b.Name), append(changed, "name")
	}
	var cred delivery.Credential
	if u := b.SFTP; u != nil {
		if t.SFTP == nil {
			return invalidAt("/sftp", "target %s is a %s target, not sftp: its kind cannot change (create a new target)", t.ID, t.KindOrDefault())
		}
		s := *t.SFTP
		for _, f := range []struct {
			name string
			from *string
			to   *string
		}{{"sftp.host", u.Host, &s.Host}, {"sftp.user", u.User, &s.User}, {"sftp.folder", u.Folder, &s.Folder}, {"sftp.hostKey", u.HostKey, &s.HostKey}} {
			if f.from != nil {
				*f.to, changed = *f.from, append(changed, f.name)
			}
		}
		if u.Port != nil {
			s.Port, changed = *u.Port, append(changed, "sftp.port")
		}
		if u.HostKey != nil {
			s.HostKeyFingerprint = "" // pinned anew below
		}
		if cred = u.Credential(); cred != (delivery.Credential{}) {
			if err := cred.Validate(); err != nil {
				return atField(credentialPointer(cred, ""), err)
			}
			s.Auth, changed = cred.Method(), append(changed, "sftp.credential")
		}
		t.SFTP = &s
	}
	if u := b.Bucket; u != nil {
		if t.Bucket == nil {
			return invalidAt("/bucket", "target %s is a %s target, not s3bucket: its kind cannot change (create a new target)", t.ID, t.KindOrDefault())
		}
		bk := *t.Bucket
		for _, f := range []struct {
			name string
			from *string
			to   *string
		}{{"bucket.bucket", u.Bucket, &bk.Bucket}, {"bucket.prefix", u.Prefix, &bk.Prefix}, {"bucket.region", u.Region, &bk.Region}, {"bucket.roleArn", u.RoleARN, &bk.RoleARN}} {
			if f.from != nil {
				*f.to, changed = *f.from, append(changed, f.name)
			}
		}
		t.Bucket = &bk
	}
	if len(changed) == 0 {
		return invalidAt("", "nothing to change: give name, sftp or bucket fields")
	}
	if err := targetInvalid(t, true); err != nil {
		return err
	}
	if t.SFTP != nil {
		pinHostKey(t.SFTP)
	}
	if cred != (delivery.Credential{}) {
		if a.Credentials == nil {
			return bulkerr.New(bulkerr.Internal, "the credential store is not configured")
		}
		if err := a.Credentials.Put(ctx, id.Tenant, t.SFTP.CredentialARN, cred); err != nil {
			return err
		}
	}
	if err := st.ReplaceTarget(ctx, before, t); err != nil {
		return err
	}
	a.Log.InfoContext(ctx, "target updated", "tenant", id.Tenant, "target", t.ID, "changed", strings.Join(changed, ","))
	writeJSON(w, http.StatusOK, bulkapi.Target{Target: t})
	return nil
}

// listTargets lists the tenant's targets, oldest first, a page at a time
// (limit 1 to 100, default 50: every target a tenant may have).
func (a *API) listTargets(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, err := a.targets()
	if err != nil {
		return err
	}
	limit, after, err := pageParams(r, delivery.MaxTargets)
	if err != nil {
		return err
	}
	list, err := st.ListTargets(r.Context(), id.Tenant)
	if err != nil {
		return err
	}
	out := make([]bulkapi.Target, 0, min(len(list), limit))
	next := ""
	for _, t := range list {
		if after != "" && t.ID <= after {
			continue
		}
		if len(out) == limit {
			next = out[len(out)-1].ID
			break
		}
		out = append(out, bulkapi.Target{Target: t})
	}
	writeJSON(w, http.StatusOK, bulkapi.TargetPage{Targets: out, NextCursor: next})
	return nil
}

func (a *API) getTarget(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	_, t, err := a.pathTarget(r, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, bulkapi.Target{Target: t})
	return nil
}

// deleteTarget deletes a target that no schedule names, and its
// credential's secret.
func (a *API) deleteTarget(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	st, t, err := a.pathTarget(r, id)
	if err != nil {
		return err
	}
	ctx, tid := r.Context(), t.ID
	if a.Schedules != nil {
		list, err := a.Schedules.ListSchedules(ctx, id.Tenant)
		if err != nil {
			return err
		}
		for _, s := range list {
			if s.TargetID == tid {
				return bulkerr.New(bulkerr.Conflict, "target %s is used by schedule %s (%s); give the schedule another target first", tid, s.ID, s.Title)
			}
		}
	}
	if err := st.DeleteTarget(ctx, id.Tenant, tid); err != nil {
		return err
	}
	if t.SFTP != nil && t.SFTP.CredentialARN != "" && a.Credentials != nil {
		if err := a.Credentials.Delete(ctx, id.Tenant, t.SFTP.CredentialARN); err != nil {
			a.Log.WarnContext(ctx, "the deleted target's secret was not deleted", "tenant", id.Tenant, "target", tid, "error", err.Error())
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testTarget tries the target: reached, authenticated, folder writable,
// or what failed, in which phase. A failed test is still a 200: the
// answer is the sentence.
func (a *API) testTarget(w http.ResponseWriter, r *http.Request, id authn.Identity) error {
	_, t, err := a.pathTarget(r, id)
	if err != nil {
		return err
	}
	tid := t.ID
	var res delivery.TestResult
	switch {
	case t.KindOrDefault() == delivery.KindS3Link:
		res = delivery.TestResult{OK: true, Sentence: "an s3link target needs no connection: files stay behind the export's download link"}
	case a.Deliver == nil:
		return bulkerr.New(bulkerr.Internal, "delivery is not configured")
	default:
		res = a.Deliver.Test(r.Context(), t)
	}
	a.Log.InfoContext(r.Context(), "target tested", "tenant", id.Tenant, "target", tid, "ok", res.OK, "phase", string(res.Phase))
	writeJSON(w, http.StatusOK, bulkapi.TargetTest{TestResult: res})
	return nil
}

// checkTarget checks that a schedule or export names an existing target
// of the tenant (or none).
func (a *API) checkTarget(ctx context.Context, tenant, tid string) error {
	if tid == "" {
		return nil
	}
	if a.Targets == nil {
		return invalidAt("/targetId", "delivery targets are not configured here; leave targetId out")
	}
	if !jobIDPattern.MatchString(tid) {
		return invalidAt("/targetId", "targetId %q is not a target of this tenant (see GET /v1/targets)", tid)
	}
	if _, err := a.Targets.GetTarget(ctx, tenant, tid); err != nil {
		if bulkerr.KindOf(err) == bulkerr.NotFound {
			return invalidAt("/targetId", "targetId %q is not a target of this tenant (see GET /v1/targets)", tid)
		}
		return err
	}
	return nil
}
