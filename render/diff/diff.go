// Package diff shows what a change between two revisions (base and head)
// does: a semantic diff of the network model (pools resized, routes moved,
// members added, the VIP changed), which a reviewer reads first, and the
// object diff beneath it (unified YAML diffs, Secret values masked). It is
// pure: it takes rendered objects and models and returns values.
package diff

import (
	"github.com/mooringhq/mooring/manifest"
	"github.com/mooringhq/mooring/render/model"
)

// Action says what happened to a thing between base and head.
type Action string

// Actions of a change.
const (
	Added   Action = "added"
	Removed Action = "removed"
	Changed Action = "changed"
)

// Diff is everything that differs between two revisions.
type Diff struct {
	// Model is the semantic diff of the network model.
	Model ModelDiff `json:"model"`
	// Objects is the diff of the rendered objects.
	Objects ObjectDiff `json:"objects"`
}

// Empty reports whether base and head render to the same objects (and so
// the same model).
func (d Diff) Empty() bool { return d.Model.Empty() && d.Objects.Empty() }

// Compute returns the diff from base to head. Either model may be nil (a
// revision that could not be modelled): its model diff is then empty.
func Compute(base, head []manifest.Object, baseModel, headModel *model.Model) Diff {
	return Diff{
		Model:   computeModel(baseModel, headModel),
		Objects: computeObjects(base, head),
	}
}
