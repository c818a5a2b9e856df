// Command helm-render renders a Helm v3 chart the way `helm template` does, for machines without
// a helm binary. It uses Go's text/template with sprig v3 (the function library Helm uses) plus
// Helm's own additions: include, tpl, required, fail, toYaml, fromYaml, toJson, lookup (always
// empty, as in `helm template`). Values are values.yaml coalesced with -f files and --set flags;
// the built-in objects are .Values, .Release, .Chart, .Capabilities (APIVersions.Has, KubeVersion)
// and .Template.
//
// It does NOT validate values.schema.json: `--print-values` prints the coalesced values as JSON
// so that hack/helm/validate-values.ts (ajv, draft-07 as Helm) can check them. render.sh runs both.
//
// Usage:
//
//	helm-render [--name RELEASE] [--namespace NS] [-f values.yaml]... [--set a.b=c]...
//	            [--set-string a=b]... [--set-json 'a=[1]']... [--api-versions policy/v1]...
//	            [--api-versions-only] [--kube-version v1.30.0] [--print-values | --lint] CHART_DIR
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	yaml "gopkg.in/yaml.v3"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Chart mirrors the fields of Chart.yaml that templates read (.Chart.Name etc.).
type Chart struct {
	APIVersion  string `yaml:"apiVersion"`
	Name        string `yaml:"name"`
	Version     string `yaml:"version"`
	AppVersion  string `yaml:"appVersion"`
	Description string `yaml:"description"`
	Type        string `yaml:"type"`
	KubeVersion string `yaml:"kubeVersion"`
	Home        string `yaml:"home"`
}

// VersionSet answers .Capabilities.APIVersions.Has "group/version" or "group/version/Kind".
type VersionSet []string

func (v VersionSet) Has(s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

// defaultAPIVersions is the built-in set `helm template` assumes without a cluster (Kubernetes 1.2x).
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "policy/v1/PodDisruptionBudget",
	"rbac.authorization.k8s.io/v1", "coordination.k8s.io/v1", "events.k8s.io/v1",
	"networking.k8s.io/v1", "apiextensions.k8s.io/v1", "autoscaling/v2", "discovery.k8s.io/v1",
	"admissionregistration.k8s.io/v1", "storage.k8s.io/v1", "scheduling.k8s.io/v1",
}

func main() {
	var valueFiles, sets, setStrings, setJSON, apiVersions multiFlag
	name := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.30.0", "Kubernetes version for .Capabilities.KubeVersion")
	printValues := flag.Bool("print-values", false, "print the coalesced values as JSON and exit")
	onlyGiven := flag.Bool("api-versions-only", false, "use only the --api-versions given, not the default set (simulate an old cluster)")
	lint := flag.Bool("lint", false, "check Chart.yaml, render every template and NOTES.txt, check every document")
	flag.Var(&valueFiles, "f", "values file (repeatable)")
	flag.Var(&valueFiles, "values", "values file (repeatable)")
	flag.Var(&sets, "set", "set a value: a.b=c (repeatable; comma separates several)")
	flag.Var(&setStrings, "set-string", "set a string value (repeatable)")
	flag.Var(&setJSON, "set-json", "set a JSON value: a.b=[1,2] (repeatable)")
	flag.Var(&apiVersions, "api-versions", "extra API version for .Capabilities.APIVersions (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: helm-render [flags] CHART_DIR")
		flag.PrintDefaults()
		os.Exit(2)
	}
	chartDir := flag.Arg(0)

	chart, problems := loadChart(chartDir)
	if *lint && len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "[ERROR] Chart.yaml:", p)
		}
		os.Exit(1)
	}
	values, err := readValuesFile(filepath.Join(chartDir, "values.yaml"))
	check(err)
	for _, f := range valueFiles {
		override, err := readValuesFile(f)
		check(err)
		values = coalesce(values, override)
	}
	for _, s := range sets {
		check(applySet(values, s, parseTyped))
	}
	for _, s := range setStrings {
		check(applySet(values, s, func(v string) (interface{}, error) { return v, nil }))
	}
	for _, s := range setJSON {
		check(applySet(values, s, func(v string) (interface{}, error) {
			var out interface{}
			err := json.Unmarshal([]byte(v), &out)
			return out, err
		}))
	}
	if *printValues {
		out, err := json.MarshalIndent(values, "", "  ")
		check(err)
		fmt.Println(string(out))
		return
	}

	versions := VersionSet{}
	if !*onlyGiven {
		versions = append(versions, defaultAPIVersions...)
	}
	versions = append(versions, apiVersions...)
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": *name, "Namespace": *namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Chart": chart,
		"Capabilities": map[string]interface{}{
			"APIVersions": versions,
			"KubeVersion": map[string]interface{}{
				"Version": *kubeVersion, "GitVersion": *kubeVersion,
				"Major": strings.Split(strings.TrimPrefix(*kubeVersion, "v"), ".")[0],
				"Minor": strings.Split(*kubeVersion, ".")[1],
			},
		},
	}

	docs, err := render(chartDir, chart.Name, top, *lint)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	if *lint {
		failed := false
		for _, d := range docs {
			for _, p := range checkDocument(d) {
				fmt.Fprintf(os.Stderr, "[ERROR] %s: %s\n", d.source, p)
				failed = true
			}
		}
		if failed {
			os.Exit(1)
		}
		fmt.Printf("==> Linting %s\n1 chart(s) linted, 0 chart(s) failed (%d documents)\n", chartDir, len(docs))
		return
	}
	for _, d := range docs {
		if d.notes {
			continue
		}
		fmt.Printf("---\n# Source: %s\n%s\n", d.source, strings.TrimSpace(d.body))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

var semverRE = regexp.MustCompile(`^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func loadChart(dir string) (Chart, []string) {
	var c Chart
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	check(err)
	check(yaml.Unmarshal(raw, &c))
	var problems []string
	if c.APIVersion != "v2" {
		problems = append(problems, fmt.Sprintf("apiVersion must be v2, got %q", c.APIVersion))
	}
	if !nameRE.MatchString(c.Name) {
		problems = append(problems, fmt.Sprintf("name %q is not a valid chart name", c.Name))
	}
	if !semverRE.MatchString(c.Version) {
		problems = append(problems, fmt.Sprintf("version %q is not SemVer 2", c.Version))
	}
	if c.AppVersion == "" {
		problems = append(problems, "appVersion is empty")
	}
	if c.Description == "" {
		problems = append(problems, "description is empty")
	}
	if c.Type != "" && c.Type != "application" && c.Type != "library" {
		problems = append(problems, fmt.Sprintf("type %q must be application or library", c.Type))
	}
	if filepath.Base(mustAbs(dir)) != c.Name {
		problems = append(problems, fmt.Sprintf("directory name %q differs from chart name %q", filepath.Base(mustAbs(dir)), c.Name))
	}
	return c, problems
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	check(err)
	return a
}

// readValuesFile parses YAML and round-trips it through JSON, as Helm does (numbers become float64).
func readValuesFile(path string) (map[string]interface{}, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var y interface{}
	if err := yaml.Unmarshal(raw, &y); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if y == nil {
		return map[string]interface{}{}, nil
	}
	j, err := json.Marshal(y)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]interface{}{}
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, fmt.Errorf("%s: top level must be a map: %w", path, err)
	}
	return out, nil
}

// coalesce merges override into base like Helm: maps merge deeply, null deletes a key.
func coalesce(base, override map[string]interface{}) map[string]interface{} {
	for k, v := range override {
		if v == nil {
			delete(base, k)
			continue
		}
		bm, bok := base[k].(map[string]interface{})
		om, ook := v.(map[string]interface{})
		if bok && ook {
			base[k] = coalesce(bm, om)
		} else {
			base[k] = v
		}
	}
	return base
}

var intRE = regexp.MustCompile(`^[-+]?(0|[1-9][0-9]*)$`)

// parseTyped follows Helm's strvals typing: true/false, null, integers; everything else a string.
func parseTyped(v string) (interface{}, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if intRE.MatchString(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			return n, nil
		}
	}
	return v, nil
}

func applySet(values map[string]interface{}, expr string, parse func(string) (interface{}, error)) error {
	for _, part := range splitUnescaped(expr) {
		eq := strings.Index(part, "=")
		if eq <= 0 {
			return fmt.Errorf("--set %q: want key=value", part)
		}
		keys := splitKey(part[:eq])
		v, err := parse(part[eq+1:])
		if err != nil {
			return fmt.Errorf("--set %q: %w", part, err)
		}
		m := values
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]interface{})
			if !ok {
				next = map[string]interface{}{}
				m[k] = next
			}
			m = next
		}
		last := keys[len(keys)-1]
		if v == nil {
			delete(m, last)
		} else {
			m[last] = v
		}
	}
	return nil
}

// splitKey splits a.b.c on dots, keeping "\." as a literal dot (Helm: --set nodeSelector.kubernetes\.io/os=linux).
func splitKey(k string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(k); i++ {
		if k[i] == '\\' && i+1 < len(k) && k[i+1] == '.' {
			cur.WriteByte('.')
			i++
		} else if k[i] == '.' {
			out = append(out, cur.String())
			cur.Reset()
		} else {
			cur.WriteByte(k[i])
		}
	}
	return append(out, cur.String())
}

// splitUnescaped splits on commas not preceded by a backslash (Helm's --set separator), but
// leaves commas inside [...] or {...} alone so --set-json values survive.
func splitUnescaped(s string) []string {
	var out []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == ',':
			cur.WriteByte(',')
			i++
		case c == '[' || c == '{':
			depth++
			cur.WriteByte(c)
		case c == ']' || c == '}':
			depth--
			cur.WriteByte(c)
		case c == ',' && depth == 0:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

type document struct {
	source string
	body   string
	notes  bool
}

func funcMap(t **template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env") // Helm removes these two for safety
	delete(f, "expandenv")
	includedDepth := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if includedDepth[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		includedDepth[name]++
		defer func() { includedDepth[name]-- }()
		var buf bytes.Buffer
		err := (*t).ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := (*t).Clone()
		if err != nil {
			return "", err
		}
		nt, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = nt.Execute(&buf, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	f["toYaml"] = func(v interface{}) string {
		out, err := toYAML(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(out, "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["toJson"] = func(v interface{}) string {
		out, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(out)
	}
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return f
}

// toYAML matches Helm's sigs.k8s.io/yaml: JSON first, then YAML with sorted keys, 2-space indent.
func toYAML(v interface{}) (string, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var generic interface{}
	if err := json.Unmarshal(j, &generic); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(generic); err != nil {
		return "", err
	}
	out := buf.String()
	if out == "null\n" {
		return "null\n", nil
	}
	return out, nil
}

func render(chartDir, chartName string, top map[string]interface{}, withNotes bool) ([]document, error) {
	dir := filepath.Join(chartDir, "templates")
	var files []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)

	var t *template.Template
	t = template.New("gotpl").Option("missingkey=zero").Funcs(funcMap(&t))
	var names []string
	for _, p := range files {
		rel, _ := filepath.Rel(chartDir, p)
		name := chartName + "/" + filepath.ToSlash(rel)
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if _, err := t.New(name).Parse(string(raw)); err != nil {
			return nil, fmt.Errorf("parse error in %s: %w", name, err)
		}
		names = append(names, name)
	}

	var docs []document
	for _, name := range names {
		base := filepath.Base(name)
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || (isNotes && !withNotes) {
			continue
		}
		if !isNotes && !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".yml") && !strings.HasSuffix(base, ".tpl") {
			continue
		}
		if strings.HasSuffix(base, ".tpl") {
			continue
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			return nil, fmt.Errorf("render error in %s: %w", name, err)
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if isNotes {
			docs = append(docs, document{source: name, body: out, notes: true})
			continue
		}
		for _, part := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
			if strings.TrimSpace(stripComments(part)) == "" {
				continue
			}
			docs = append(docs, document{source: name, body: part})
		}
	}
	return docs, nil
}

func stripComments(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func checkDocument(d document) []string {
	if d.notes {
		if strings.TrimSpace(d.body) == "" {
			return []string{"NOTES.txt rendered empty"}
		}
		return nil
	}
	var obj map[string]interface{}
	if err := yaml.Unmarshal([]byte(d.body), &obj); err != nil {
		return []string{"invalid YAML: " + err.Error()}
	}
	var problems []string
	if s, _ := obj["apiVersion"].(string); s == "" {
		problems = append(problems, "missing apiVersion")
	}
	if s, _ := obj["kind"].(string); s == "" {
		problems = append(problems, "missing kind")
	}
	meta, _ := obj["metadata"].(map[string]interface{})
	name, _ := meta["name"].(string)
	if name == "" {
		problems = append(problems, "missing metadata.name")
	} else if len(name) > 253 || !dns1123.MatchString(name) {
		problems = append(problems, fmt.Sprintf("metadata.name %q is not a DNS-1123 subdomain", name))
	}
	return problems
}
