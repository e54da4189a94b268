package serve

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/mooringhq/mooring/forge/forges"
)

// APIVersion and Kind identify a serve configuration file, like a
// Kubernetes object, so its format can change in later versions without
// old files being misread.
const (
	APIVersion = "mooring.dev/v1alpha1"
	Kind       = "ServeConfig"
)

// Config is the file `mooring serve --config` reads. Fields left empty take
// the defaults documented on each; Settings under Defaults apply to every
// target that does not set them itself.
type Config struct {
	// APIVersion must be "mooring.dev/v1alpha1".
	APIVersion string `json:"apiVersion"`
	// Kind must be "ServeConfig".
	Kind string `json:"kind"`
	// Listen is the address of the HTTP server: webhooks, the status API,
	// the manual trigger, metrics and health. Default ":8080".
	Listen string `json:"listen,omitempty"`
	// APITokenFile holds the bearer token the manual trigger
	// (POST /api/v1/targets/NAME/reconcile) requires. Empty: the manual
	// trigger is off.
	APITokenFile string `json:"apiTokenFile,omitempty"`
	// StatusPage guards the status page (/, /targets/NAME, /events). Nil:
	// anyone who reaches Listen may read it.
	StatusPage *StatusPageConfig `json:"statusPage,omitempty"`
	// CacheDir holds fetched repositories and rendered revisions. Default:
	// the user's cache folder.
	CacheDir string `json:"cacheDir,omitempty"`
	// LeaderElection, when set, runs several replicas of which only the
	// holder of a Lease reconciles and reports. Nil: this process leads.
	LeaderElection *LeaderElection `json:"leaderElection,omitempty"`
	// Defaults are the settings of every target that leaves them empty.
	Defaults Settings `json:"defaults,omitempty"`
	// Targets are what is reconciled. At least one.
	Targets []TargetConfig `json:"targets"`
}

// LeaderElection configures the Lease that picks the one active replica,
// and the ConfigMap beside it through which the others hand over triggers.
type LeaderElection struct {
	// Namespace of the Lease and the hand-over ConfigMap. Required.
	Namespace string `json:"namespace"`
	// Name of the Lease; the ConfigMap is Name + "-triggers". Default
	// "mooring-serve".
	Name string `json:"name,omitempty"`
	// Identity names this replica in the Lease. Default: the host name
	// (the pod's name in Kubernetes).
	Identity string `json:"identity,omitempty"`
	// Cluster holding the Lease. Default: in-cluster.
	Cluster ClusterConfig `json:"cluster,omitempty"`
	// LeaseDuration is how long a Lease holds without renewal; a killed
	// leader is replaced after it. Default 15s.
	LeaseDuration metav1.Duration `json:"leaseDuration,omitempty"`
	// RenewDeadline is how long the leader retries renewing before it gives
	// up. Default 10s; less than LeaseDuration.
	RenewDeadline metav1.Duration `json:"renewDeadline,omitempty"`
	// RetryPeriod is the wait between tries. Default 2s.
	RetryPeriod metav1.Duration `json:"retryPeriod,omitempty"`
}

// Settings may be given per target or, under Defaults, for all targets.
type Settings struct {
	// PollInterval is how often the branch head is listed, as a fallback
	// for lost webhooks. Default 1m; "0s" polls only at start and after
	// each run.
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`
	// WebhookSecretFile holds the shared webhook secret (HMAC key, or
	// GitLab's token). Empty: no webhooks for the target.
	WebhookSecretFile string `json:"webhookSecretFile,omitempty"`
	// Forge receives statuses and PR comments. Nil: results are only
	// served by the status API and metrics.
	Forge *ForgeConfig `json:"forge,omitempty"`
	// Drift schedules drift reports of the live commit. Nil: none.
	Drift *DriftConfig `json:"drift,omitempty"`
	// QueueDir holds statuses waiting for an unreachable forge. Default:
	// CacheDir/forge-queue. Without a persistent volume, a new leader
	// posts the live commit's statuses again.
	QueueDir string `json:"queueDir,omitempty"`
}

// ForgeConfig says where statuses and PR comments go.
type ForgeConfig struct {
	// Kind is gitea (also Forgejo), github, gitlab or gitnotes.
	Kind string `json:"kind,omitempty"`
	// URL is the forge's base URL (github: the API URL, empty for
	// github.com; gitnotes: the repository's remote URL, default the
	// target's repo).
	URL string `json:"url,omitempty"`
	// TokenFile holds the API token (gitnotes: the push password).
	TokenFile string `json:"tokenFile,omitempty"`
	// Repo is "owner/name" on the forge (GitLab: the project path).
	// Default: the path of the target's repo URL.
	Repo string `json:"repo,omitempty"`
}

// DriftConfig schedules drift reports.
type DriftConfig struct {
	// Schedule is a cron expression (5 fields) or a descriptor such as
	// "@hourly" or "@every 30m".
	Schedule string `json:"schedule"`
	// TimeZone is the IANA zone the schedule is read in. Default "UTC".
	TimeZone string `json:"timeZone,omitempty"`
}

// TargetConfig is one repository, branch and Kustomize path, and the
// cluster it describes.
type TargetConfig struct {
	// Name tells targets apart in metrics, logs, URLs and comment keys.
	// Letters, digits and ".-_". Required, unique.
	Name string `json:"name"`
	// Repo is the repository URL (http(s), ssh) or a local path. Required.
	Repo string `json:"repo"`
	// Branch whose head is reconciled. Default "main".
	Branch string `json:"branch,omitempty"`
	// Path is the Kustomize path from the repository root. Default ".".
	Path string `json:"path,omitempty"`
	// Auth is the HTTP credentials of Repo.
	Auth GitAuth `json:"auth,omitempty"`
	// Cluster is where the target is applied. Default: in-cluster.
	Cluster ClusterConfig `json:"cluster,omitempty"`
	// Etcd, when set, checks the control plane's etcd members in drift.
	Etcd *EtcdConfig `json:"etcd,omitempty"`
	// ARP, when set, asks the link who answers for the VIP and LB IPs.
	ARP *ARPConfig `json:"arp,omitempty"`
	// Prune deletes objects the revision no longer has. Default true.
	Prune *bool `json:"prune,omitempty"`
	// ForceConflicts takes fields other field managers own.
	ForceConflicts bool `json:"forceConflicts,omitempty"`
	// Settings override Defaults for this target.
	Settings `json:",inline"`
}

// GitAuth holds HTTP credentials for a repository.
type GitAuth struct {
	// Username for basic auth. Default "git" when a password is given.
	Username string `json:"username,omitempty"`
	// PasswordFile holds the password or access token.
	PasswordFile string `json:"passwordFile,omitempty"`
}

// ClusterConfig reaches an API server.
type ClusterConfig struct {
	// Kubeconfig is a kubeconfig file. Empty: in-cluster, unless InCluster
	// is false.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context in Kubeconfig. Default: its current context.
	Context string `json:"context,omitempty"`
	// InCluster uses the pod's service account. Default true when
	// Kubeconfig is empty.
	InCluster *bool `json:"inCluster,omitempty"`
}

// EtcdConfig reaches the control plane's etcd members.
type EtcdConfig struct {
	// Endpoints are client URLs; empty: the declared members'.
	Endpoints []string `json:"endpoints,omitempty"`
	// CAFile, CertFile and KeyFile are PEM files for TLS; empty: plain.
	CAFile   string `json:"caFile,omitempty"`
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
}

// ARPConfig chooses the link ARP checks run on.
type ARPConfig struct {
	// Interface is the network interface to ask on. Required.
	Interface string `json:"interface"`
}

// Overrides are command-line flags that replace values of the file.
type Overrides struct {
	// Listen replaces Config.Listen when not empty.
	Listen string
	// CacheDir replaces Config.CacheDir when not empty.
	CacheDir string
	// QueueDir replaces Defaults.QueueDir when not empty.
	QueueDir string
	// Identity replaces LeaderElection.Identity when not empty.
	Identity string
}

// The defaults of the fields above.
const (
	DefaultListen        = ":8080"
	DefaultLeaseName     = "mooring-serve"
	DefaultPollInterval  = time.Minute
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// LoadConfig reads the configuration file at path, applies o, fills in
// defaults and validates it. Unknown or repeated fields are errors; every
// problem found is reported, each naming the file and the field path.
func LoadConfig(path string, o Overrides) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("serve config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("serve config %s:\n%w", path, err)
	}
	c.override(o)
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("serve config %s:\n%w", path, err)
	}
	return c, nil
}

// ParseConfig decodes a configuration strictly: unknown and repeated
// fields are errors naming their path. It neither defaults nor validates.
func ParseConfig(b []byte) (*Config, error) {
	j, err := yaml.YAMLToJSONStrict(b)
	if err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	var c Config
	strict, err := sigsjson.UnmarshalStrict(j, &c)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if len(strict) > 0 {
		return nil, errors.Join(strict...)
	}
	return &c, nil
}

func (c *Config) override(o Overrides) {
	if o.Listen != "" {
		c.Listen = o.Listen
	}
	if o.CacheDir != "" {
		c.CacheDir = o.CacheDir
	}
	if o.QueueDir != "" {
		c.Defaults.QueueDir = o.QueueDir
	}
	if o.Identity != "" && c.LeaderElection != nil {
		c.LeaderElection.Identity = o.Identity
	}
}

// setDefaults fills in what the file left empty, target settings from
// Defaults first.
func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if le := c.LeaderElection; le != nil {
		if le.Name == "" {
			le.Name = DefaultLeaseName
		}
		if le.Identity == "" {
			le.Identity, _ = os.Hostname() // validated below when it stays empty
		}
		for _, d := range []struct {
			f   *metav1.Duration
			def time.Duration
		}{{&le.LeaseDuration, DefaultLeaseDuration}, {&le.RenewDeadline, DefaultRenewDeadline}, {&le.RetryPeriod, DefaultRetryPeriod}} {
			if d.f.Duration == 0 {
				d.f.Duration = d.def
			}
		}
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Branch == "" {
			t.Branch = "main"
		}
		if t.Path == "" {
			t.Path = "."
		}
		if t.Prune == nil {
			t.Prune = ptr(true)
		}
		t.Settings = t.Settings.inherit(c.Defaults)
		if t.PollInterval == nil {
			t.PollInterval = &metav1.Duration{Duration: DefaultPollInterval}
		}
		if t.Drift != nil && t.Drift.TimeZone == "" {
			t.Drift.TimeZone = "UTC"
		}
		if f := t.Forge; f != nil {
			if f.Repo == "" {
				f.Repo = repoPath(t.Repo)
			}
			if f.Kind == "gitnotes" && f.URL == "" {
				f.URL = t.Repo
			}
		}
	}
}

// inherit returns s with its empty fields taken from d. A forge is merged
// field by field, so Defaults can name the forge and its token while each
// target names its repository.
func (s Settings) inherit(d Settings) Settings {
	if s.PollInterval == nil && d.PollInterval != nil {
		s.PollInterval = ptr(*d.PollInterval)
	}
	if s.WebhookSecretFile == "" {
		s.WebhookSecretFile = d.WebhookSecretFile
	}
	if s.QueueDir == "" {
		s.QueueDir = d.QueueDir
	}
	if s.Drift == nil && d.Drift != nil {
		s.Drift = ptr(*d.Drift)
	}
	if d.Forge != nil {
		f := *d.Forge
		f.Repo = "" // a repository is never shared by default
		if s.Forge != nil {
			f = mergeForge(*s.Forge, f)
		}
		s.Forge = &f
	} else if s.Forge != nil {
		s.Forge = ptr(*s.Forge)
	}
	return s
}

func mergeForge(f, d ForgeConfig) ForgeConfig {
	if f.Kind == "" {
		f.Kind = d.Kind
	}
	if f.URL == "" {
		f.URL = d.URL
	}
	if f.TokenFile == "" {
		f.TokenFile = d.TokenFile
	}
	return f
}

func ptr[T any](v T) *T { return &v }

// repoPath returns "owner/name" from a repository URL's path
// (https://git.example.org/infra/homelab.git → infra/homelab), or "" when
// repo is not a URL.
func repoPath(repo string) string {
	var p string
	if u, err := url.Parse(repo); err == nil && u.Scheme != "" && u.Host != "" {
		p = u.Path
	} else if _, rest, ok := strings.Cut(repo, ":"); ok && strings.Contains(repo, "@") && !strings.HasPrefix(repo, "/") {
		p = rest // scp-like user@host:owner/name.git
	}
	return strings.Trim(strings.TrimSuffix(strings.Trim(p, "/"), ".git"), "/")
}

// validName reports whether a target name is letters, digits and ".-_",
// starting with a letter or digit, at most 63 long. (No regular
// expression: package variables cost every mooring command at start.)
func validName(n string) bool {
	if n == "" || len(n) > 63 {
		return false
	}
	for i, c := range n {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("._-", c)) {
			return false
		}
	}
	return true
}

// cronParser reads 5-field cron expressions and descriptors (@hourly,
// @every 30m), as Kubernetes CronJobs do.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate returns every problem of a defaulted configuration, each naming
// its field path (targets[1].forge.kind: Unsupported value: ...), and
// checks that every file it names can be read.
func (c *Config) Validate() error {
	errs := c.validate(true)
	if len(errs) == 0 {
		return nil
	}
	// One problem per line: a file with several mistakes is fixed in one go.
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

// validate checks c; with files false it leaves out whether the named
// files exist (for examples written for another machine).
func (c *Config) validate(files bool) field.ErrorList {
	fileExists := fileCheck(files)
	var errs field.ErrorList
	if c.APIVersion != APIVersion {
		errs = append(errs, field.NotSupported(field.NewPath("apiVersion"), c.APIVersion, []string{APIVersion}))
	}
	if c.Kind != Kind {
		errs = append(errs, field.NotSupported(field.NewPath("kind"), c.Kind, []string{Kind}))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, field.Invalid(field.NewPath("listen"), c.Listen, "want host:port or :port"))
	}
	errs = append(errs, fileExists(field.NewPath("apiTokenFile"), c.APITokenFile)...)
	errs = append(errs, c.StatusPage.validate(field.NewPath("statusPage"), fileExists)...)
	if le := c.LeaderElection; le != nil {
		p := field.NewPath("leaderElection")
		if le.Namespace == "" {
			errs = append(errs, field.Required(p.Child("namespace"), "the namespace of the Lease"))
		}
		if le.Identity == "" {
			errs = append(errs, field.Required(p.Child("identity"), "no host name to default to"))
		}
		errs = append(errs, le.Cluster.validate(p.Child("cluster"), fileExists)...)
		if le.RenewDeadline.Duration >= le.LeaseDuration.Duration {
			errs = append(errs, field.Invalid(p.Child("renewDeadline"), le.RenewDeadline.Duration.String(), "must be shorter than leaseDuration"))
		}
		// client-go refuses a renew deadline within 1.2 retry periods.
		if float64(le.RenewDeadline.Duration) <= 1.2*float64(le.RetryPeriod.Duration) {
			errs = append(errs, field.Invalid(p.Child("retryPeriod"), le.RetryPeriod.Duration.String(), "must be less than renewDeadline / 1.2"))
		}
	}
	if len(c.Targets) == 0 {
		errs = append(errs, field.Required(field.NewPath("targets"), "at least one target"))
	}
	names := map[string]bool{}
	for i := range c.Targets {
		t := &c.Targets[i]
		p := field.NewPath("targets").Index(i)
		switch {
		case t.Name == "":
			errs = append(errs, field.Required(p.Child("name"), ""))
		case !validName(t.Name):
			errs = append(errs, field.Invalid(p.Child("name"), t.Name, "letters, digits and .-_ only, at most 63"))
		case names[t.Name]:
			errs = append(errs, field.Duplicate(p.Child("name"), t.Name))
		}
		names[t.Name] = true
		if t.Repo == "" {
			errs = append(errs, field.Required(p.Child("repo"), ""))
		}
		if strings.HasPrefix(t.Path, "/") || strings.Contains("/"+t.Path+"/", "/../") {
			errs = append(errs, field.Invalid(p.Child("path"), t.Path, "must be relative to the repository root, inside it"))
		}
		errs = append(errs, fileExists(p.Child("auth", "passwordFile"), t.Auth.PasswordFile)...)
		errs = append(errs, t.Cluster.validate(p.Child("cluster"), fileExists)...)
		if e := t.Etcd; e != nil {
			for j, ep := range e.Endpoints {
				if u, err := url.Parse(ep); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
					errs = append(errs, field.Invalid(p.Child("etcd", "endpoints").Index(j), ep, "want http(s)://host:port"))
				}
			}
			errs = append(errs, fileExists(p.Child("etcd", "caFile"), e.CAFile)...)
			errs = append(errs, fileExists(p.Child("etcd", "certFile"), e.CertFile)...)
			errs = append(errs, fileExists(p.Child("etcd", "keyFile"), e.KeyFile)...)
			if (e.CertFile == "") != (e.KeyFile == "") {
				errs = append(errs, field.Required(p.Child("etcd", "keyFile"), "certFile and keyFile go together"))
			}
		}
		if t.ARP != nil && t.ARP.Interface == "" {
			errs = append(errs, field.Required(p.Child("arp", "interface"), ""))
		}
		errs = append(errs, t.Settings.validate(p, fileExists)...)
	}
	return errs
}

func (s Settings) validate(p *field.Path, fileExists func(*field.Path, string) field.ErrorList) field.ErrorList {
	var errs field.ErrorList
	if s.PollInterval != nil && s.PollInterval.Duration < 0 {
		errs = append(errs, field.Invalid(p.Child("pollInterval"), s.PollInterval.Duration.String(), "must not be negative"))
	}
	errs = append(errs, fileExists(p.Child("webhookSecretFile"), s.WebhookSecretFile)...)
	if f := s.Forge; f != nil {
		fp := p.Child("forge")
		switch f.Kind {
		case "":
			errs = append(errs, field.Required(fp.Child("kind"), strings.Join(forges.Kinds, ", ")))
		case "gitea", "forgejo", "gitlab":
			if f.URL == "" {
				errs = append(errs, field.Required(fp.Child("url"), "the forge's base URL"))
			}
		case "github", "gitnotes":
		default:
			errs = append(errs, field.NotSupported(fp.Child("kind"), f.Kind, forges.Kinds))
		}
		if f.Kind != "gitnotes" && f.TokenFile == "" {
			errs = append(errs, field.Required(fp.Child("tokenFile"), "the forge's API token"))
		}
		errs = append(errs, fileExists(fp.Child("tokenFile"), f.TokenFile)...)
		if f.Kind != "gitnotes" {
			if o, n, ok := strings.Cut(f.Repo, "/"); !ok || o == "" || n == "" {
				errs = append(errs, field.Invalid(fp.Child("repo"), f.Repo, "want owner/name (no default from this repo URL)"))
			}
		}
	}
	if d := s.Drift; d != nil {
		dp := p.Child("drift")
		if _, err := cronParser.Parse(d.Schedule); err != nil {
			errs = append(errs, field.Invalid(dp.Child("schedule"), d.Schedule, err.Error()))
		}
		if _, err := time.LoadLocation(d.TimeZone); err != nil {
			errs = append(errs, field.Invalid(dp.Child("timeZone"), d.TimeZone, "unknown time zone"))
		}
	}
	return errs
}

func (c ClusterConfig) validate(p *field.Path, fileExists func(*field.Path, string) field.ErrorList) field.ErrorList {
	var errs field.ErrorList
	if c.InCluster != nil && *c.InCluster && c.Kubeconfig != "" {
		errs = append(errs, field.Invalid(p.Child("inCluster"), true, "kubeconfig and inCluster exclude each other"))
	}
	if c.InCluster != nil && !*c.InCluster && c.Kubeconfig == "" {
		errs = append(errs, field.Required(p.Child("kubeconfig"), "inCluster is false"))
	}
	if c.Context != "" && c.Kubeconfig == "" {
		errs = append(errs, field.Required(p.Child("kubeconfig"), "context names a context of a kubeconfig"))
	}
	return append(errs, fileExists(p.Child("kubeconfig"), c.Kubeconfig)...)
}

// fileCheck returns the check that a configured file can be read, so a
// typo is found at start rather than at the first run; with on false, a
// check that accepts every name.
func fileCheck(on bool) func(*field.Path, string) field.ErrorList {
	if !on {
		return func(*field.Path, string) field.ErrorList { return nil }
	}
	return fileExists
}

func fileExists(p *field.Path, name string) field.ErrorList {
	if name == "" {
		return nil
	}
	f, err := os.Open(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return field.ErrorList{field.Invalid(p, name, "cannot read: "+err.Error())}
	}
	f.Close()
	return nil
}
