package exportapp_test

import (
	"testing"

	"github.com/ccbulk/bulkops/shared/dynamostore"
	"github.com/ccbulk/bulkops/shared/exportapp"
)

// TestWriteLagOutlastsTheFence: an incremental window ends long enough
// before the run that every write stamped inside it has landed: at least
// twice the fence's window and margin, the most a stamped write can take
// to land, doubled for clock error between functions.
func TestWriteLagOutlastsTheFence(t *testing.T) {
	if need := 2 * (dynamostore.FenceWindow + dynamostore.FenceMargin); exportapp.WriteLag < need {
		t.Errorf("WriteLag %s, want at least %s", exportapp.WriteLag, need)
	}
}
