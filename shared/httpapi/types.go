package httpapi

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/bulkapi"
	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/csvexport"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// describeType is t as the API shows it.
func describeType(t *objecttype.Type) bulkapi.ObjectType {
	d := bulkapi.ObjectType{Slug: t.Slug, Name: t.Name, Aliases: t.Aliases, Action: t.Action, Notes: t.Notes}
	for _, k := range t.Key {
		c, _ := t.Column(k)
		d.Key = append(d.Key, c.Header)
	}
	for _, c := range t.Columns {
		d.Columns = append(d.Columns, bulkapi.Column{Header: c.Header, Aliases: c.Aliases, Required: c.Required, Kind: c.Kind.String(),
			Multi: c.Multi, Values: c.Values, Ref: c.Ref, Immutable: c.Immutable, Doc: c.Doc, Example: c.Example})
	}
	for _, f := range t.Families {
		d.Families = append(d.Families, f.Prefix+":<name>")
	}
	return d
}

// listTypes lists the object types in the registry's order, a page at a
// time (limit 1 to 100, default 100: all of them; cursor: the slug that
// ended the previous page).
func (a *API) listTypes(w http.ResponseWriter, r *http.Request, _ authn.Identity) error {
	q := r.URL.Query()
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return bulkerr.New(bulkerr.Invalid, "limit %q must be a whole number from 1 to 100", l)
		}
		limit = n
	}
	all := objecttype.All()
	start := 0
	if c := q.Get("cursor"); c != "" {
		start = -1
		for i, t := range all {
			if t.Slug == c {
				start = i + 1
			}
		}
		if start < 0 {
			return bulkerr.New(bulkerr.Invalid, "cursor %q is not one this API issued; pass nextCursor from the previous page", c)
		}
	}
	out := []bulkapi.ObjectType{}
	next := ""
	for _, t := range all[start:] {
		if len(out) == limit {
			next = out[len(out)-1].Slug
			break
		}
		out = append(out, describeType(t))
	}
	writeJSON(w, http.StatusOK, bulkapi.TypePage{ObjectTypes: out, NextCursor: next})
	return nil
}

func (a *API) getType(w http.ResponseWriter, r *http.Request, _ authn.Identity) error {
	t, err := objecttype.Lookup(r.PathValue("type"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, describeType(t))
	return nil
}

// template serves the type's CSV template; ?example=true adds an example row.
func (a *API) template(w http.ResponseWriter, r *http.Request, _ authn.Identity) error {
	t, err := objecttype.Lookup(r.PathValue("type"))
	if err != nil {
		return err
	}
	example, err := boolParam(r, "example")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := csvexport.WriteTemplate(&buf, t, example); err != nil {
		return err
	}
	name := t.Slug + "-template.csv"
	if example {
		name = t.Slug + "-example.csv"
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	_, err = w.Write(buf.Bytes())
	return err
}
