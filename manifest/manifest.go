// Package manifest holds the one type every stage of mooring passes along:
// a rendered Kubernetes object and the repository file it came from. It
// imports no Kustomize and no client, so the pure packages (model,
// validation, diff) stay free of both.
package manifest

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mooringhq/mooring/finding"
)

// Object is one rendered Kubernetes object and the repository file it came
// from (relative to the repository root, slash-separated), so that every
// Finding can name the file a user has to edit.
type Object struct {
	// File is the source file of the object, "" when unknown (e.g. generated).
	File string
	// Object is the rendered object. Callers must not modify it: rendered
	// results are cached and shared.
	Object *unstructured.Unstructured
}

// Ref returns the object's identity as findings name it.
func (o Object) Ref() finding.Object {
	return finding.Object{
		APIVersion: o.Object.GetAPIVersion(),
		Kind:       o.Object.GetKind(),
		Namespace:  o.Object.GetNamespace(),
		Name:       o.Object.GetName(),
	}
}
