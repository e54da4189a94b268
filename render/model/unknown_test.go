package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	mlbv1beta1 "go.universe.tf/metallb/api/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
)

// TestUnknownFieldsMatchStrictDecoding holds unknownFields against the
// reference, the strict JSON decoder the API server uses: on every fixture
// of the typed kinds, and on objects with misspelt fields at every depth,
// both report the same paths.
func TestUnknownFieldsMatchStrictDecoding(t *testing.T) {
	types := map[string]reflect.Type{
		"IPAddressPool":   reflect.TypeFor[mlbv1beta1.IPAddressPool](),
		"L2Advertisement": reflect.TypeFor[mlbv1beta1.L2Advertisement](),
		"Service":         reflect.TypeFor[corev1.Service](),
		"Pod":             reflect.TypeFor[corev1.Pod](),
		"Ingress":         reflect.TypeFor[networkingv1.Ingress](),
		"IngressClass":    reflect.TypeFor[networkingv1.IngressClass](),
		"DaemonSet":       reflect.TypeFor[appsv1.DaemonSet](),
	}
	docs := []string{
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"a","labelz":{}},"spec":{"ports":[{"port":80,"protcol":"TCP","targetPort":"http"}],"loadBalancerIp":"x"},"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1","ipmode":"VIP"}]}}}`,
		`{"apiVersion":"metallb.io/v1beta1","kind":"L2Advertisement","metadata":{"name":"a"},"spec":{"nodeSelectors":[{"matchLabel":{"a":"b"}}],"preferredNodeSelectors":[{"weight":1,"preference":{},"extra":1}]}}`,
		`{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"a","creationTimestamp":null},"spec":{"template":{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":"1"}},"envv":[]}]}}}}`,
		`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"a"},"spec":{"rules":[{"host":"h","http":{"paths":[{"path":"/","backend":{"service":{"name":"s","port":{"numbr":80}}}}]}}]}}`,
	}
	files, _ := filepath.Glob("testdata/homelab/*.yaml")
	more, _ := filepath.Glob("../validate/testdata/*/*.yaml")
	for _, name := range append(files, more...) {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLOrJSONDecoder(bytesReader(data), 4096)
		for {
			var u unstructured.Unstructured
			if err := r.Decode(&u.Object); err != nil {
				break
			}
			if u.Object == nil {
				continue
			}
			j, err := json.Marshal(u.Object)
			if err == nil {
				docs = append(docs, string(j))
			}
		}
	}
	checked := 0
	for _, doc := range docs {
		var obj map[string]any
		if err := json.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		typ, ok := types[obj["kind"].(string)]
		if !ok {
			continue
		}
		strict, err := sigsjson.UnmarshalStrict([]byte(doc), reflect.New(typ).Interface(), sigsjson.DisallowUnknownFields)
		if err != nil {
			continue // a type error: decode reports it, and strict decoding stops there
		}
		var want []string
		for _, e := range strict {
			var fe sigsjson.FieldError
			if errors.As(e, &fe) {
				want = append(want, fe.FieldPath())
			}
		}
		checked++
		if diff := cmp.Diff(want, unknownFields(obj, typ), cmpopts.EquateEmpty(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("%s (-strict decoder +unknownFields):\n%s", doc, diff)
		}
	}
	if checked < 20 {
		t.Errorf("only %d objects checked", checked)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
