package validate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
	"github.com/mooringhq/mooring/render/model/modeltest"
)

// TestMetalLBRefusals mirrors, one row each, the pool and L2Advertisement
// settings MetalLB v0.16.2 refuses (internal/config/config.go: the error
// each row quotes), and settings it accepts that look alike. A row lists
// the code and field of every finding metallb must return.
func TestMetalLBRefusals(t *testing.T) {
	const pool = `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: p, namespace: metallb-system, labels: {zone: a}}
spec:
  addresses: ["203.0.113.0/28"]
`
	adv := func(spec string) string {
		return pool + "---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: l2, namespace: metallb-system}\nspec: " + spec + "\n"
	}
	poolWith := func(alloc string) string {
		return "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: p, namespace: metallb-system}\nspec: {addresses: [203.0.113.0/28], serviceAllocation: " + alloc + "}\n"
	}
	type want struct{ code, field string }
	tests := []struct {
		name string
		// metallb is MetalLB's own error for the input ("" when it accepts it).
		metallb string
		yaml    string
		want    []want
	}{
		// LabelSelectorAsSelector, reached from filterPoolsWithLabelSelector,
		// selectedNodes, parseSelectors and preferredNodeScores.
		{"unknown operator in ipAddressPoolSelectors", `"Wrong" is not a valid label selector operator`,
			adv(`{ipAddressPoolSelectors: [{matchExpressions: [{key: zone, operator: Wrong}]}]}`),
			[]want{{CodeSelectorUnknownOperator, "spec.ipAddressPoolSelectors[0].matchExpressions[0].operator"}}},
		{"unknown operator in nodeSelectors", `"Gt" is not a valid label selector operator`,
			adv(`{nodeSelectors: [{matchExpressions: [{key: size, operator: Gt, values: ["3"]}]}]}`),
			[]want{{CodeSelectorUnknownOperator, "spec.nodeSelectors[0].matchExpressions[0].operator"}}},
		{"unknown operator in serviceSelectors", `"in" is not a valid label selector operator`,
			adv(`{serviceSelectors: [{matchExpressions: [{key: app, operator: in, values: [web]}]}]}`),
			[]want{{CodeSelectorUnknownOperator, "spec.serviceSelectors[0].matchExpressions[0].operator"}}},
		{"unknown operator in preferredNodeSelectors", `"Equals" is not a valid label selector operator`,
			adv(`{preferredNodeSelectors: [{weight: 10, preference: {matchExpressions: [{key: rack, operator: Equals, values: [r1]}]}}]}`),
			[]want{{CodeSelectorUnknownOperator, "spec.preferredNodeSelectors[0].preference.matchExpressions[0].operator"}}},
		{"values with Exists", "values set must be empty for exists and does not exist",
			adv(`{nodeSelectors: [{matchExpressions: [{key: role, operator: Exists, values: [edge]}]}]}`),
			[]want{{CodeSelectorValuesWithExists, "spec.nodeSelectors[0].matchExpressions[0].values"}}},
		{"values with DoesNotExist", "values set must be empty for exists and does not exist",
			adv(`{ipAddressPoolSelectors: [{matchExpressions: [{key: zone, operator: DoesNotExist, values: [a]}]}]}`),
			[]want{{CodeSelectorValuesWithExists, "spec.ipAddressPoolSelectors[0].matchExpressions[0].values"}}},
		{"In without values", "for 'in', 'notin' operators, values set can't be empty",
			adv(`{serviceSelectors: [{matchExpressions: [{key: app, operator: In}]}]}`),
			[]want{{CodeSelectorValuesMissing, "spec.serviceSelectors[0].matchExpressions[0].values"}}},
		{"NotIn without values", "for 'in', 'notin' operators, values set can't be empty",
			adv(`{nodeSelectors: [{matchExpressions: [{key: app, operator: NotIn, values: []}]}]}`),
			[]want{{CodeSelectorValuesMissing, "spec.nodeSelectors[0].matchExpressions[0].values"}}},
		{"invalid label key in matchLabels", "name part must consist of alphanumeric characters",
			adv(`{nodeSelectors: [{matchLabels: {"bad key": x}}]}`),
			[]want{{CodeSelectorInvalidLabel, "spec.nodeSelectors[0].matchLabels[bad key]"}}},
		{"invalid label value in matchLabels", "a valid label must be an empty string or consist of alphanumeric characters",
			adv(`{ipAddressPoolSelectors: [{matchLabels: {zone: "a b"}}]}`),
			[]want{{CodeSelectorInvalidLabel, "spec.ipAddressPoolSelectors[0].matchLabels[zone]"}}},
		{"invalid key and value in an expression", "name part must consist of alphanumeric characters",
			adv(`{serviceSelectors: [{matchExpressions: [{key: "-app", operator: In, values: ["web!"]}]}]}`),
			[]want{{CodeSelectorInvalidLabel, "spec.serviceSelectors[0].matchExpressions[0].key"},
				{CodeSelectorInvalidLabel, "spec.serviceSelectors[0].matchExpressions[0].values[0]"}}},
		// l2AdvertisementFromCR: validateDuplicate and validateLabelSelectorDuplicate.
		{"pool name listed twice", `duplicate definition of ipAddressPools "p"`,
			adv(`{ipAddressPools: [p, p]}`),
			[]want{{CodeL2AdvDuplicatePool, "spec.ipAddressPools[1]"}}},
		{"pool selector listed twice", `duplicate definition of ipAddressPoolSelectors`,
			adv(`{ipAddressPoolSelectors: [{matchLabels: {zone: a}}, {matchLabels: {zone: a}}]}`),
			[]want{{CodeSelectorDuplicate, "spec.ipAddressPoolSelectors[1]"}}},
		{"node selector listed twice, values in another order", `duplicate definition of nodeSelectors`,
			adv(`{nodeSelectors: [{matchExpressions: [{key: k, operator: In, values: [a, b]}]}, {matchExpressions: [{key: k, operator: In, values: [b, a]}]}]}`),
			[]want{{CodeSelectorDuplicate, "spec.nodeSelectors[1]"}}},
		{"service selector listed twice", `duplicate definition of serviceSelectors`,
			adv(`{serviceSelectors: [{matchLabels: {app: web}}, {matchLabels: {app: web}}]}`),
			[]want{{CodeSelectorDuplicate, "spec.serviceSelectors[1]"}}},
		{"expression listed twice in one selector", `duplicate definition of match expressions`,
			adv(`{nodeSelectors: [{matchExpressions: [{key: k, operator: Exists}, {key: k, operator: Exists}]}]}`),
			[]want{{CodeSelectorDuplicateExpression, "spec.nodeSelectors[0].matchExpressions[1]"}}},
		{"value listed twice in one expression", `duplicate definition of match expression value in label selector "a"`,
			adv(`{ipAddressPoolSelectors: [{matchExpressions: [{key: zone, operator: In, values: [a, a]}]}]}`),
			[]want{{CodeSelectorDuplicateValue, "spec.ipAddressPoolSelectors[0].matchExpressions[0].values[1]"}}},
		// addressPoolServiceAllocationsFromCR.
		{"namespace listed twice in serviceAllocation", "duplicate definition in namespaces field",
			poolWith(`{namespaces: [web, web]}`),
			[]want{{CodePoolDuplicateNamespace, "spec.serviceAllocation.namespaces[1]"}}},
		{"namespace selector listed twice", "duplicate definition of namespaceSelectors",
			poolWith(`{namespaceSelectors: [{matchLabels: {team: a}}, {matchLabels: {team: a}}]}`),
			[]want{{CodeSelectorDuplicate, "spec.serviceAllocation.namespaceSelectors[1]"}}},
		{"invalid namespace selector", "invalid namespace label selector",
			poolWith(`{namespaceSelectors: [{matchExpressions: [{key: team, operator: Exists, values: [a]}]}]}`),
			[]want{{CodeSelectorValuesWithExists, "spec.serviceAllocation.namespaceSelectors[0].matchExpressions[0].values"}}},
		{"invalid service selector", "invalid service label selector",
			poolWith(`{serviceSelectors: [{matchExpressions: [{key: app, operator: Like, values: [x]}]}]}`),
			[]want{{CodeSelectorUnknownOperator, "spec.serviceAllocation.serviceSelectors[0].matchExpressions[0].operator"}}},
		// The validating webhook (webhookv1beta1): "resource must be created
		// in metallb-system namespace".
		{"advertisement in another namespace", "resource must be created in metallb-system namespace",
			pool + "---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata: {name: l2, namespace: default}\n",
			[]want{{CodeMetalLBNamespaces, "metadata.namespace"}}},

		// Accepted by MetalLB.
		{"empty selector selects everything", "", adv(`{ipAddressPoolSelectors: [{}], nodeSelectors: [{}]}`), nil},
		{"two different selectors", "", adv(`{nodeSelectors: [{matchLabels: {a: "1"}}, {matchLabels: {a: "2"}}]}`), nil},
		{"same expression in two selectors", "",
			adv(`{nodeSelectors: [{matchExpressions: [{key: k, operator: Exists}]}, {matchExpressions: [{key: k, operator: Exists}], matchLabels: {x: z}}]}`), nil},
		{"same preferred selector twice", "",
			adv(`{preferredNodeSelectors: [{weight: 1, preference: {matchLabels: {r: a}}}, {weight: 2, preference: {matchLabels: {r: a}}}]}`), nil},
		{"the same value in two expressions", "",
			adv(`{serviceSelectors: [{matchExpressions: [{key: a, operator: In, values: [x]}, {key: b, operator: NotIn, values: [x]}]}]}`), nil},
		{"qualified keys and empty values", "",
			adv(`{nodeSelectors: [{matchLabels: {"node-role.kubernetes.io/control-plane": ""}}]}`), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := modeltest.Decode("metallb.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			m, bfs := model.Build(objs)
			if len(bfs) > 0 {
				t.Fatalf("Build: %v", bfs)
			}
			fs := metallb(m)
			var got []want
			for _, f := range fs {
				if f.Severity != finding.Error || f.File != "metallb.yaml" || f.Message == "" {
					t.Errorf("finding without severity error, file or message: %+v", f)
				}
				got = append(got, want{f.Code, f.Field})
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("MetalLB says %q; findings (-want +got):\n%s\n%v", tt.metallb, diff, fs)
			}
		})
	}
}

// FuzzSelector holds the selector check against the reference, the label
// parser MetalLB calls (metav1.LabelSelectorAsSelector): a selector gets a
// finding exactly when the parser refuses it (duplicates aside, which only
// MetalLB's own check refuses).
func FuzzSelector(f *testing.F) {
	f.Add("zone", "a", "role", "In", "edge", "lb")
	f.Add("zone", "a b", "role", "Exists", "edge", "")
	f.Add("bad key", "x", "role", "Gt", "3", "")
	f.Add("k8s.io/x", "", "-role", "NotIn", "", "")
	f.Add("a/b/c", "v", "role", "DoesNotExist", "", "")
	f.Fuzz(func(t *testing.T, labelKey, labelValue, exprKey, op, v1, v2 string) {
		s := metav1.LabelSelector{MatchLabels: map[string]string{labelKey: labelValue}}
		e := metav1.LabelSelectorRequirement{Key: exprKey, Operator: metav1.LabelSelectorOperator(op)}
		for _, v := range []string{v1, v2} {
			if v != "" {
				e.Values = append(e.Values, v)
			}
		}
		s.MatchExpressions = []metav1.LabelSelectorRequirement{e}
		fs := selector(model.Meta{}, "spec.nodeSelectors[0]", s, false)
		_, err := metav1.LabelSelectorAsSelector(&s)
		if (len(fs) > 0) != (err != nil) {
			t.Errorf("selector %+v: %d findings %v, but the parser says %v", s, len(fs), fs, err)
		}
	})
}
