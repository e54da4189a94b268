// Package validate checks a network model for mistakes that MetalLB,
// ingress-nginx, kube-vip or etcd would either refuse or, worse, silently
// accept: overlapping pools, advertisements that announce nothing or
// everything, routes two Ingresses claim, LoadBalancer addresses no pool
// holds, a control plane that cannot keep quorum. It is pure: it takes
// models and returns findings, each naming the file, object and field a user
// has to edit.
package validate

import (
	"fmt"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
)

// Validate returns every finding about one revision's model, sorted with
// finding.Sort. Build's own findings (objects it could not model) are not
// repeated here.
func Validate(m *model.Model) []finding.Finding {
	if m == nil {
		return nil
	}
	var fs []finding.Finding
	fs = append(fs, pools(m)...)
	fs = append(fs, advertisements(m)...)
	fs = append(fs, metallb(m)...)
	fs = append(fs, ingresses(m)...)
	fs = append(fs, loadBalancers(m)...)
	fs = append(fs, controlPlane(m)...)
	fs = append(fs, site(m)...)
	finding.Sort(fs)
	return fs
}

// at starts a finding about a modelled object.
func at(meta model.Meta, sev finding.Severity, code, field, msg string) finding.Finding {
	return finding.Finding{Severity: sev, Code: code, File: meta.File, Object: meta.Object, Field: field, Message: msg}
}

// where names an object and its file for messages about two objects.
func where(meta model.Meta) string {
	if meta.File == "" {
		return meta.Object.String()
	}
	return fmt.Sprintf("%s (%s)", meta.Object, meta.File)
}
