package apply

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Discover exposes discovery to the external tests: the aggregated way, or
// the legacy way older API servers answer.
func Discover(cfg *rest.Config, legacy bool) (meta.RESTMapper, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	rc, err := rest.UnversionedRESTClientForConfigAndClient(dynamic.ConfigFor(cfg), hc)
	if err != nil {
		return nil, err
	}
	accept := acceptDiscovery
	if legacy {
		accept = "application/json"
	}
	return discover(context.Background(), rc, accept)
}
