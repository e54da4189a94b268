package validate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
)

// Codes of pool and L2Advertisement settings MetalLB v0.16.2's own parser
// (internal/config: l2AdvertisementFromCR, addressPoolServiceAllocationsFromCR,
// validateLabelSelectorDuplicate, metav1.LabelSelectorAsSelector) or its
// webhook refuses. Its webhook parses the whole configuration on every
// change, so one such object also blocks every later pool or advertisement.
const (
	// CodeSelectorUnknownOperator is a match expression whose operator is
	// not In, NotIn, Exists or DoesNotExist.
	CodeSelectorUnknownOperator = "selector-unknown-operator"
	// CodeSelectorValuesWithExists is an Exists or DoesNotExist expression
	// that lists values.
	CodeSelectorValuesWithExists = "selector-values-with-exists"
	// CodeSelectorValuesMissing is an In or NotIn expression without values.
	CodeSelectorValuesMissing = "selector-values-missing"
	// CodeSelectorInvalidLabel is a label key or value that is not a valid
	// Kubernetes label, in matchLabels or matchExpressions.
	CodeSelectorInvalidLabel = "selector-invalid-label"
	// CodeSelectorInvalid is a selector the label parser refuses for a reason
	// none of the codes above names (kept so that nothing it refuses passes).
	CodeSelectorInvalid = "selector-invalid"
	// CodeSelectorDuplicate is the same selector listed twice in one field.
	CodeSelectorDuplicate = "selector-duplicate"
	// CodeSelectorDuplicateExpression is the same match expression twice in
	// one selector.
	CodeSelectorDuplicateExpression = "selector-duplicate-expression"
	// CodeSelectorDuplicateValue is the same value twice in one match
	// expression.
	CodeSelectorDuplicateValue = "selector-duplicate-value"
	// CodeL2AdvDuplicatePool is the same pool name twice in one
	// advertisement's ipAddressPools.
	CodeL2AdvDuplicatePool = "l2adv-duplicate-pool"
	// CodePoolDuplicateNamespace is the same namespace twice in a pool's
	// spec.serviceAllocation.namespaces.
	CodePoolDuplicateNamespace = "pool-duplicate-namespace"
	// CodeMetalLBNamespaces is a pool or advertisement in another namespace
	// than the first pool: MetalLB's webhook accepts them only in the
	// namespace MetalLB runs in.
	CodeMetalLBNamespaces = "metallb-namespaces"
)

// metallb returns a finding for every pool and L2Advertisement setting
// MetalLB refuses, where MetalLB itself stops at the first.
func metallb(m *model.Model) []finding.Finding {
	var fs []finding.Finding
	for _, p := range m.Pools {
		a := p.Allocation
		if a == nil {
			continue
		}
		fs = append(fs, duplicateStrings(p.Meta, CodePoolDuplicateNamespace, "spec.serviceAllocation.namespaces", "namespace", a.Namespaces)...)
		fs = append(fs, selectors(p.Meta, "spec.serviceAllocation.namespaceSelectors", a.NamespaceSelectors, true)...)
		fs = append(fs, selectors(p.Meta, "spec.serviceAllocation.serviceSelectors", a.ServiceSelectors, true)...)
	}
	for _, a := range m.L2Advertisements {
		fs = append(fs, duplicateStrings(a.Meta, CodeL2AdvDuplicatePool, "spec.ipAddressPools", "pool", a.Pools)...)
		fs = append(fs, selectors(a.Meta, "spec.ipAddressPoolSelectors", a.PoolSelectors, true)...)
		fs = append(fs, selectors(a.Meta, "spec.nodeSelectors", a.NodeSelectors, true)...)
		fs = append(fs, selectors(a.Meta, "spec.serviceSelectors", a.ServiceSelectors, true)...)
		// MetalLB parses preferred node selectors without looking for
		// duplicates among them.
		for i := range a.PreferredNodeSelectors {
			fs = append(fs, selector(a.Meta, fmt.Sprintf("spec.preferredNodeSelectors[%d].preference", i), a.PreferredNodeSelectors[i], false)...)
		}
	}
	return append(fs, metallbNamespaces(m)...)
}

// duplicateStrings reports each entry of list that an earlier one repeats
// (MetalLB's validateDuplicate).
func duplicateStrings(meta model.Meta, code, field, what string, list []string) []finding.Finding {
	var fs []finding.Finding
	for i, s := range list {
		if j := slices.Index(list, s); j < i {
			f := at(meta, finding.Error, code, fmt.Sprintf("%s[%d]", field, i),
				fmt.Sprintf("%s %q lists %s %q twice (%s[%d] and [%d]); MetalLB refuses it (\"duplicate definition\")",
					meta.Object.Kind, meta.Object.Name, what, s, field, j, i))
			f.Observed = s
			fs = append(fs, f)
		}
	}
	return fs
}

// selectors checks each label selector of a list field and, when dup is
// set, the duplicates MetalLB's validateLabelSelectorDuplicate refuses: the
// same selector twice, the same expression twice in one selector, the same
// value twice in one expression. MetalLB sorts each expression's values
// before comparing, so [a, b] and [b, a] are the same.
func selectors(meta model.Meta, field string, sels []metav1.LabelSelector, dup bool) []finding.Finding {
	var fs []finding.Finding
	seen := make([]string, 0, len(sels))
	for i := range sels {
		f := fmt.Sprintf("%s[%d]", field, i)
		fs = append(fs, selector(meta, f, sels[i], dup)...)
		key := canonical(sels[i]).String()
		if j := slices.Index(seen, key); dup && j >= 0 {
			d := at(meta, finding.Error, CodeSelectorDuplicate, f,
				fmt.Sprintf("%s %q lists the same selector twice in %s ([%d] and [%d]); MetalLB refuses it (\"duplicate definition of %s\")",
					meta.Object.Kind, meta.Object.Name, field, j, i, field[strings.LastIndex(field, ".")+1:]))
			d.Observed = metav1.FormatLabelSelector(&sels[i])
			fs = append(fs, d)
		}
		seen = append(seen, key)
	}
	return fs
}

// canonical returns a copy of s with each expression's values sorted, the
// form MetalLB compares selectors in.
func canonical(s metav1.LabelSelector) *metav1.LabelSelector {
	c := s.DeepCopy()
	for i := range c.MatchExpressions {
		sort.Strings(c.MatchExpressions[i].Values)
	}
	return c
}

// selector checks one label selector the way metav1.LabelSelectorAsSelector
// parses it, naming the reason of each refusal, and with dup the duplicate
// expressions and values MetalLB refuses inside it.
func selector(meta model.Meta, field string, s metav1.LabelSelector, dup bool) []finding.Finding {
	var fs []finding.Finding
	add := func(code, f, observed, expected, reason string) {
		x := at(meta, finding.Error, code, f, fmt.Sprintf("%s %q %s: %s; MetalLB refuses the configuration", meta.Object.Kind, meta.Object.Name, f, reason))
		x.Observed, x.Expected = observed, expected
		fs = append(fs, x)
	}
	keys := make([]string, 0, len(s.MatchLabels))
	for k := range s.MatchLabels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := fmt.Sprintf("%s.matchLabels[%s]", field, k)
		if errs := content.IsLabelKey(k); len(errs) > 0 {
			add(CodeSelectorInvalidLabel, f, k, "", fmt.Sprintf("label key %q is not valid: %s", k, strings.Join(errs, "; ")))
		}
		if errs := validation.IsValidLabelValue(s.MatchLabels[k]); len(errs) > 0 {
			add(CodeSelectorInvalidLabel, f, s.MatchLabels[k], "", fmt.Sprintf("label value %q is not valid: %s", s.MatchLabels[k], strings.Join(errs, "; ")))
		}
	}
	seen := make([]string, 0, len(s.MatchExpressions))
	for i, e := range s.MatchExpressions {
		f := fmt.Sprintf("%s.matchExpressions[%d]", field, i)
		switch e.Operator {
		case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
			if len(e.Values) == 0 {
				add(CodeSelectorValuesMissing, f+".values", "", "at least one value",
					fmt.Sprintf("operator %s needs at least one value", e.Operator))
			}
		case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
			if len(e.Values) > 0 {
				add(CodeSelectorValuesWithExists, f+".values", strings.Join(e.Values, ","), "no values",
					fmt.Sprintf("operator %s takes no values, but lists %q", e.Operator, e.Values))
			}
		default:
			add(CodeSelectorUnknownOperator, f+".operator", string(e.Operator), "In, NotIn, Exists or DoesNotExist",
				fmt.Sprintf("%q is not a label selector operator", e.Operator))
		}
		if errs := content.IsLabelKey(e.Key); len(errs) > 0 {
			add(CodeSelectorInvalidLabel, f+".key", e.Key, "", fmt.Sprintf("label key %q is not valid: %s", e.Key, strings.Join(errs, "; ")))
		}
		for j, v := range e.Values {
			vf := fmt.Sprintf("%s.values[%d]", f, j)
			if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
				add(CodeSelectorInvalidLabel, vf, v, "", fmt.Sprintf("label value %q is not valid: %s", v, strings.Join(errs, "; ")))
			}
			if k := slices.Index(e.Values, v); dup && k < j {
				add(CodeSelectorDuplicateValue, vf, v, "", fmt.Sprintf("value %q is listed twice (values[%d] and [%d])", v, k, j))
			}
		}
		c := e.DeepCopy()
		sort.Strings(c.Values)
		if k := slices.Index(seen, c.String()); dup && k >= 0 {
			add(CodeSelectorDuplicateExpression, f, "", "", fmt.Sprintf("the same expression is listed twice (matchExpressions[%d] and [%d])", k, i))
		}
		seen = append(seen, c.String())
	}
	// The parser itself is the authority: anything it refuses that the
	// reasons above missed is still refused.
	if _, err := metav1.LabelSelectorAsSelector(&s); err != nil && len(fs) == 0 {
		add(CodeSelectorInvalid, field, metav1.FormatLabelSelector(&s), "", err.Error())
	}
	return fs
}

// metallbNamespaces reports pools and advertisements outside the namespace
// of the first pool (or advertisement): MetalLB's webhook refuses every
// one that is not in the namespace MetalLB runs in, so of two namespaces at
// least one is wrong.
func metallbNamespaces(m *model.Model) []finding.Finding {
	metas := make([]model.Meta, 0, len(m.Pools)+len(m.L2Advertisements))
	for _, p := range m.Pools {
		metas = append(metas, p.Meta)
	}
	for _, a := range m.L2Advertisements {
		metas = append(metas, a.Meta)
	}
	if len(metas) == 0 {
		return nil
	}
	first := metas[0]
	var fs []finding.Finding
	for _, meta := range metas[1:] {
		if meta.Object.Namespace == first.Object.Namespace {
			continue
		}
		f := at(meta, finding.Error, CodeMetalLBNamespaces, "metadata.namespace",
			fmt.Sprintf("%s %q is in namespace %q but %s is in %q: MetalLB's webhook accepts its objects only in the namespace MetalLB runs in, so it refuses one of them",
				meta.Object.Kind, meta.Object.Name, meta.Object.Namespace, where(first), first.Object.Namespace))
		f.Expected, f.Observed = first.Object.Namespace, meta.Object.Namespace
		fs = append(fs, f)
	}
	return fs
}
