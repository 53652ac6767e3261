package csvexport

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ccbulk/bulkops/shared/bulkerr"
	"github.com/ccbulk/bulkops/shared/catalog"
	"github.com/ccbulk/bulkops/shared/exportspec"
	"github.com/ccbulk/bulkops/shared/objecttype"
)

// FuzzPlan: export options as a client may send them (any JSON), against
// any type and any stored object: resolving them never panics, refuses
// only with an Invalid error, and a plan that resolves lays out rows with
// exactly as many cells as its header.
func FuzzPlan(f *testing.F) {
	f.Add([]byte(`{"fields":["description","Name"],"header":"keys"}`), uint8(0), "Lunch", "a;b;c")
	f.Add([]byte(`{"multiValue":"columns","filters":[{"field":"name","op":"startsWith","value":"co"}]}`), uint8(3), "Coffee", "x|y")
	f.Add([]byte(`{"fields":["Skill","Tpye"],"filters":[{"field":"nope","op":"empty"}]}`), uint8(7), "", "")
	f.Add([]byte(`{"splitRows":-1,"range":{"mode":"interval"}}`), uint8(1), "=1+1", "\r\n")
	types := objecttype.All()
	f.Fuzz(func(t *testing.T, raw []byte, typ uint8, name, value string) {
		var o exportspec.Options
		if json.Unmarshal(raw, &o) != nil || o.Validate() != nil {
			return
		}
		ty := types[int(typ)%len(types)]
		p, err := NewPlan(ty, o)
		if err != nil {
			if bulkerr.KindOf(err) != bulkerr.Invalid {
				t.Fatalf("options %s on %s: %v is not Invalid", raw, ty.Slug, err)
			}
			return
		}
		fields := map[string]string{}
		for i, c := range ty.Columns {
			v := value
			if i == 0 {
				v = name
			}
			if v != "" {
				fields[c.Key] = v
			}
		}
		obj := catalog.Object{Type: ty.Slug, Key: objecttype.NormalizeName(name), Name: name, Fields: fields}
		_ = p.Keep(obj)
		p.Observe(obj)
		l := p.Layout()
		header, row := l.Header(), l.Row(obj)
		if len(header) != len(row) {
			t.Fatalf("%s with %s: header has %d cells (%s), row %d (%q)", ty.Slug, raw, len(header), strings.Join(header, ","), len(row), row)
		}
	})
}
