package validate

import (
	"fmt"
	"slices"

	"github.com/mooringhq/mooring/finding"
	"github.com/mooringhq/mooring/render/model"
)

// Codes of Ingress findings.
const (
	CodeIngressDuplicateRoute  = "ingress-duplicate-route"
	CodeIngressNoClass         = "ingress-no-class"
	CodeIngressClassMissing    = "ingress-class-missing"
	CodeIngressBackendMissing  = "ingress-backend-missing"
	CodeIngressTLSSecret       = "ingress-tls-secret-missing"
	CodeIngressTLSHostNotRoute = "ingress-tls-host-not-in-rules"
)

// EffectiveClass returns the class an Ingress goes to: its own, else the
// default IngressClass ("" when there is none).
func EffectiveClass(m *model.Model, in model.Ingress) string {
	if in.Class != "" {
		return in.Class
	}
	for _, c := range m.IngressClasses {
		if c.Default {
			return c.Object.Name
		}
	}
	return ""
}

func ingresses(m *model.Model) []finding.Finding {
	var fs []finding.Finding
	classes := map[string]bool{}
	for _, c := range m.IngressClasses {
		classes[c.Object.Name] = true
	}
	type claim struct {
		in    *model.Ingress
		route model.Route
		class string
	}
	claims := map[[3]string]claim{}
	for ii := range m.Ingresses {
		in := &m.Ingresses[ii]
		class := EffectiveClass(m, *in)
		switch {
		case class == "":
			fs = append(fs, at(in.Meta, finding.Error, CodeIngressNoClass, "spec.ingressClassName",
				fmt.Sprintf("Ingress %q sets no ingressClassName and no IngressClass is the default (annotation %s: \"true\"), so no controller serves it", in.Object.Name, model.AnnotationDefaultIngressClass)))
		case len(classes) > 0 && !classes[class]:
			f := at(in.Meta, finding.Warning, CodeIngressClassMissing, "spec.ingressClassName",
				fmt.Sprintf("Ingress %q uses class %q, which is not among the repository's IngressClasses", in.Object.Name, class))
			f.Observed = class
			fs = append(fs, f)
		}
		ns := in.Object.Namespace
		hosts := map[string]bool{}
		for _, r := range in.Routes {
			hosts[r.Host] = true
			key := [3]string{r.Host, r.Path, pathType(r.PathType)}
			if prev, ok := claims[key]; ok {
				sev, why := finding.Error, ""
				if prev.class != class {
					sev = finding.Warning
					why = fmt.Sprintf(" (class %q there, %q here: ingress-nginx's admission webhook still refuses it across classes)", prev.class, class)
				}
				f := at(in.Meta, sev, CodeIngressDuplicateRoute, r.Field,
					fmt.Sprintf("host %q and path %q (%s) is already defined in ingress %s/%s (%s)%s; nginx keeps only the oldest",
						r.Host, r.Path, key[2], prev.in.Object.Namespace, prev.in.Object.Name, prev.in.File, why))
				f.Observed = fmt.Sprintf("%s %s%s", key[2], r.Host, r.Path)
				fs = append(fs, f)
				continue
			}
			claims[key] = claim{in, r, class}
			if r.Service != "" && !m.ServiceNames[model.Key(ns, r.Service)] {
				f := at(in.Meta, finding.Warning, CodeIngressBackendMissing, r.Field+".backend.service.name",
					fmt.Sprintf("backend Service %q of host %q path %q is not in the repository (namespace %q)", r.Service, r.Host, r.Path, orDefault(ns)))
				f.Observed = r.Service
				fs = append(fs, f)
			}
		}
		if in.DefaultBackend != "" && !m.ServiceNames[model.Key(ns, in.DefaultBackend)] {
			f := at(in.Meta, finding.Warning, CodeIngressBackendMissing, "spec.defaultBackend.service.name",
				fmt.Sprintf("default backend Service %q is not in the repository (namespace %q)", in.DefaultBackend, orDefault(ns)))
			f.Observed = in.DefaultBackend
			fs = append(fs, f)
		}
		for i, t := range in.TLS {
			if t.SecretName != "" && !m.SecretNames[model.Key(ns, t.SecretName)] {
				f := at(in.Meta, finding.Warning, CodeIngressTLSSecret, fmt.Sprintf("spec.tls[%d].secretName", i),
					fmt.Sprintf("TLS Secret %q is not in the repository (namespace %q); nginx serves its default certificate until it exists", t.SecretName, orDefault(ns)))
				f.Observed = t.SecretName
				fs = append(fs, f)
			}
			for j, h := range t.Hosts {
				if !hosts[h] {
					f := at(in.Meta, finding.Warning, CodeIngressTLSHostNotRoute, fmt.Sprintf("spec.tls[%d].hosts[%d]", i, j),
						fmt.Sprintf("TLS host %q has no rule in Ingress %q (rule hosts: %v)", h, in.Object.Name, sortedSet(hosts)))
					f.Observed = h
					fs = append(fs, f)
				}
			}
		}
	}
	return fs
}

// pathType names an unset pathType the way the API server defaults it.
func pathType(t string) string {
	if t == "" {
		return "ImplementationSpecific"
	}
	return t
}

func orDefault(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

func sortedSet(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
