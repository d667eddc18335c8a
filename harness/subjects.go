package harness

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// SubjectSpec is one subject of a subjects file (harness run --subjects
// FILE): a server command, a client command, or both, judged as
// `harness run --server-cmd/--client-cmd` would judge them, with their
// options.
type SubjectSpec struct {
	// Name names the subject in every report; unique in a file.
	Name string `yaml:"name"`
	// Server is a --server-cmd template; Target its URL template
	// (wss://localhost:{port}/ when empty).
	Server string `yaml:"server"`
	Target string `yaml:"target"`
	// Client is a --client-cmd template.
	Client string `yaml:"client"`
	// Needs are programs the subject runs (names looked up on PATH, or
	// absolute paths): when one is missing the subject is skipped, and
	// the report says which.
	Needs []string `yaml:"needs"`
	// Scenarios, when set, keeps only these (of the sides judged).
	Scenarios []string `yaml:"scenarios"`
	// TLSVersion pins "1.2" or "1.3"; StrictTLS, AcceptOn ("echo" or
	// "upgrade") and the durations are harness run's flags of the same
	// names.
	TLSVersion     string   `yaml:"tls_version"`
	StrictTLS      bool     `yaml:"strict_tls"`
	AcceptOn       string   `yaml:"accept_on"`
	Timeout        Duration `yaml:"timeout"`
	StartTimeout   Duration `yaml:"start_timeout"`
	StopGrace      Duration `yaml:"stop_grace"`
	CommandTimeout Duration `yaml:"command_timeout"`
	// Rotation configures the rotation scenarios the subject names in
	// Scenarios (harness run's --reload-* and rotation flags).
	Rotation *RotationSpec `yaml:"rotation"`
}

// RotationSpec is a subject's rotation options, as harness run's flags
// of the same names (docs/rotation.md).
type RotationSpec struct {
	ReloadSignal      string   `yaml:"reload_signal"`
	ReloadSignalGroup bool     `yaml:"reload_signal_group"`
	ReloadCmd         string   `yaml:"reload_cmd"`
	ReloadTimeout     Duration `yaml:"reload_timeout"`
	KeepsOld          string   `yaml:"rotation_keeps_old"`
	ShortCertLifetime Duration `yaml:"short_cert_lifetime"`
	ObserveFor        Duration `yaml:"observe_for"`
	ExpectCloseWithin Duration `yaml:"expect_close_within"`
}

// RotationOptionScenarios says which rotation scenarios each rotation
// option configures, by its subjects-file key (harness run's flag is the
// same with dashes): an option given without one of them is an error.
var RotationOptionScenarios = map[string][]string{
	"reload_signal":       {RotationScenario, CARotationScenario, RevokedDuringScenario},
	"reload_signal_group": {RotationScenario, CARotationScenario, RevokedDuringScenario},
	"reload_cmd":          {RotationScenario, CARotationScenario, RevokedDuringScenario},
	"reload_timeout":      {RotationScenario, CARotationScenario, RevokedDuringScenario},
	"rotation_keeps_old":  {RotationScenario},
	"short_cert_lifetime": {ExpiryScenario},
	"observe_for":         {ExpiryScenario, RevokedDuringScenario},
	"expect_close_within": {ExpiryScenario, RevokedDuringScenario},
}

// set lists the keys of the options the spec gives.
func (r *RotationSpec) set() []string {
	var out []string
	for k, on := range map[string]bool{"reload_signal": r.ReloadSignal != "", "reload_signal_group": r.ReloadSignalGroup, "reload_cmd": r.ReloadCmd != "",
		"reload_timeout": r.ReloadTimeout != 0, "rotation_keeps_old": r.KeepsOld != "", "short_cert_lifetime": r.ShortCertLifetime != 0,
		"observe_for": r.ObserveFor != 0, "expect_close_within": r.ExpectCloseWithin != 0} {
		if on {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// options are the RotationOptions of a spec; Run is set by the caller.
func (r *RotationSpec) options() (RotationOptions, error) {
	var ro RotationOptions
	if r == nil {
		return ro, nil
	}
	sig, err := ParseReloadSignal(r.ReloadSignal)
	if err != nil {
		return ro, err
	}
	ro = RotationOptions{Signal: sig, SignalGroup: r.ReloadSignalGroup, Timeout: time.Duration(r.ReloadTimeout), KeepsOld: r.KeepsOld,
		ShortLifetime: time.Duration(r.ShortCertLifetime), ObserveFor: time.Duration(r.ObserveFor), CloseWithin: time.Duration(r.ExpectCloseWithin)}
	observe := ro.ObserveFor
	if observe == 0 {
		observe = defaultObserveFor
	}
	switch {
	case r.KeepsOld != "" && r.KeepsOld != "true" && r.KeepsOld != "false" && r.KeepsOld != "any":
		return ro, fmt.Errorf("rotation_keeps_old %q: use true, false or any", r.KeepsOld)
	case r.ReloadSignalGroup && sig == 0:
		return ro, fmt.Errorf("reload_signal_group needs reload_signal")
	case r.ReloadCmd != "" && sig != 0:
		return ro, fmt.Errorf("reload_cmd and reload_signal are two ways to trigger the reload: pick one")
	case ro.ShortLifetime != 0 && ro.ShortLifetime < minShortLifetime:
		return ro, fmt.Errorf("short_cert_lifetime %s is under %s: X.509 times are whole seconds", ro.ShortLifetime, minShortLifetime)
	case ro.CloseWithin > observe:
		return ro, fmt.Errorf("expect_close_within %s is longer than observe_for (%s): a close later than the window cannot be seen", ro.CloseWithin, observe)
	}
	if r.ReloadCmd != "" {
		if ro.Command, err = ParseTemplate(r.ReloadCmd); err != nil {
			return ro, fmt.Errorf("reload_cmd: %v", err)
		}
	}
	return ro, nil
}

// Duration is a time.Duration written as "5s", "1m" in a subjects file.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration such as 5s or 1m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// subjectsFile is the document: a list of subjects.
type subjectsFile struct {
	Subjects []SubjectSpec `yaml:"subjects"`
}

// SubjectsError is a subjects file that cannot be used; it names the
// subject (or the line) and the problem.
type SubjectsError struct {
	File    string
	Problem string
}

func (e *SubjectsError) Error() string { return e.File + ": " + e.Problem }

// ParseSubjects reads a subjects file (YAML; docs/conformance.md has the
// schema). Unknown keys are errors, so a misspelt option is not silently
// ignored; every template and option is checked before anything runs.
func ParseSubjects(file string, data []byte) ([]SubjectSpec, error) {
	bad := func(format string, a ...any) ([]SubjectSpec, error) {
		return nil, &SubjectsError{File: file, Problem: fmt.Sprintf(format, a...)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc subjectsFile
	if err := dec.Decode(&doc); err != nil {
		return bad("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Subjects) == 0 {
		return bad("no subjects: list them under `subjects:`")
	}
	seen := map[string]bool{}
	for i, s := range doc.Subjects {
		where := fmt.Sprintf("subject %d", i+1)
		if s.Name != "" {
			where = fmt.Sprintf("subject %q", s.Name)
		}
		switch {
		case s.Name == "" || strings.ContainsAny(s.Name, " \t/"):
			return bad("%s: give it a name without spaces or slashes", where)
		case seen[s.Name]:
			return bad("%s: the name is used twice", where)
		case s.Server == "" && s.Client == "":
			return bad("%s: give a server or a client command", where)
		case s.Target != "" && s.Server == "":
			return bad("%s: target is the URL of the server command: add server", where)
		case s.TLSVersion != "" && s.TLSVersion != "1.2" && s.TLSVersion != "1.3":
			return bad("%s: tls_version %q: use 1.2 or 1.3", where, s.TLSVersion)
		case s.AcceptOn != "" && s.AcceptOn != "echo" && s.AcceptOn != "upgrade":
			return bad("%s: accept_on %q: use echo or upgrade", where, s.AcceptOn)
		}
		seen[s.Name] = true
		for _, t := range []string{s.Server, s.Client} {
			if t == "" {
				continue
			}
			if _, err := ParseTemplate(t); err != nil {
				return bad("%s: %v", where, err)
			}
		}
		if strings.Contains(s.Client, "{ocsp}") {
			return bad("%s: client: {ocsp} is for a server command (a client finds server-revoked's responder in the certificate's AIA): drop it", where)
		}
		if s.Target != "" {
			if err := CheckPlaceholders(s.Target, "port", "host"); err != nil {
				return bad("%s: target: %v", where, err)
			}
		}
		if _, err := Lookup(s.Scenarios...); err != nil {
			return bad("%s: %v", where, err)
		}
		if _, err := s.Rotation.options(); err != nil {
			return bad("%s: rotation: %v", where, err)
		}
		if s.Rotation != nil && !s.namesRotation() {
			return bad("%s: rotation: configures the rotation scenarios, and the subject names none: add them to scenarios", where)
		}
		if s.Rotation != nil {
			named := map[string]bool{}
			for _, n := range s.Scenarios {
				named[n] = true
			}
			for _, k := range s.Rotation.set() {
				ok := false
				for _, n := range RotationOptionScenarios[k] {
					ok = ok || named[n]
				}
				if !ok {
					return bad("%s: rotation: %s configures %s, and the subject names none of them", where, k, strings.Join(RotationOptionScenarios[k], " or "))
				}
			}
		}
	}
	return doc.Subjects, nil
}

// missing names the first program of Needs that cannot be found, "" when
// all are there.
func (s SubjectSpec) missing() string {
	for _, n := range s.Needs {
		if _, err := exec.LookPath(n); err != nil {
			return n
		}
	}
	return ""
}

// RunSubject judges one subject: it mints the run's certificates, starts
// the server command (waiting for it to be ready) and runs the server-
// side scenarios, runs the client command for each client-side one, and
// stops everything. It does not fail: a subject that cannot be run (a
// missing program, a server that never became ready or exits) is a
// report with RunError or SubjectErrors set, so one broken subject does
// not stop the others.
func RunSubject(ctx context.Context, spec SubjectSpec, base Options) *Report {
	rep := &Report{Kind: KindScenarios, Subject: spec.Name, Started: time.Now()}
	fail := func(format string, a ...any) *Report {
		rep.RunError = fmt.Sprintf(format, a...)
		rep.Duration = time.Since(rep.Started)
		return rep
	}
	if n := spec.missing(); n != "" {
		rep.SkippedBecause = n + " is not installed"
		return rep
	}
	opts := spec.options(base)
	m, err := NewMaterials()
	if err != nil {
		return fail("%v", err)
	}
	opts.Materials = m
	dir, err := os.MkdirTemp("", "mtlskit-subject-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	var proc *ServerProcess
	if spec.Server != "" {
		t, _ := ParseTemplate(spec.Server) // checked by ParseSubjects
		if err := os.Mkdir(filepath.Join(dir, "server"), 0o700); err != nil {
			return fail("%v", err)
		}
		proc, err = StartServerCommand(ctx, ServerCommandConfig{Command: t, Target: spec.Target, Materials: m, Dir: filepath.Join(dir, "server"),
			StartTimeout: time.Duration(spec.StartTimeout), StopGrace: time.Duration(spec.StopGrace)})
		if err != nil {
			return fail("the server command: %v", err)
		}
		// Stopped below, once (a second Stop would signal a process
		// group that may no longer be ours); this covers the early returns.
		defer func() {
			if proc != nil {
				_ = proc.Stop()
			}
		}()
		opts.Server = proc.Subject(spec.Server)
		opts.ReadyTimeout = max(time.Duration(spec.StartTimeout), 15*time.Second)
	}
	if spec.Client != "" {
		t, _ := ParseTemplate(spec.Client)
		if err := os.Mkdir(filepath.Join(dir, "client"), 0o700); err != nil {
			return fail("%v", err)
		}
		opts.Client = &ClientCommand{Command: t, Dir: filepath.Join(dir, "client"), Timeout: time.Duration(spec.CommandTimeout)}
	}
	run, err := Run(ctx, spec.scenarios(), opts)
	if err != nil {
		// A *NotReadyError among them: the subject's run error.
		return fail("%v", err)
	}
	run.Subject = spec.Name
	if proc != nil {
		if proc.Exited() {
			run.SubjectErrors = append(run.SubjectErrors, proc.ExitReport())
		}
		err := proc.Stop()
		proc = nil
		if err != nil {
			run.SubjectErrors = append(run.SubjectErrors, err.Error())
		}
	}
	return run
}

// namesRotation reports whether the subject's scenarios include a
// rotation scenario (which run only when named).
func (s SubjectSpec) namesRotation() bool {
	for _, n := range s.Scenarios {
		for _, r := range RotationScenarios() {
			if n == r.Name {
				return true
			}
		}
	}
	return false
}

// options are the run options of a subject, over base.
func (s SubjectSpec) options(base Options) Options {
	o := base
	o.Rotation, _ = s.Rotation.options() // checked by ParseSubjects
	o.Rotation.Run = s.namesRotation()
	switch s.TLSVersion {
	case "1.2":
		o.TLSVersion = tls.VersionTLS12
	case "1.3":
		o.TLSVersion = tls.VersionTLS13
	}
	if s.StrictTLS {
		o.StrictTLS = true
	}
	if s.AcceptOn == "upgrade" {
		o.AcceptOnUpgrade = true
	}
	if s.Timeout > 0 {
		o.Timeout = time.Duration(s.Timeout)
	}
	return o
}

// scenarios are the subject's scenarios: of the sides it has, and of
// its list when it gives one.
func (s SubjectSpec) scenarios() []Scenario {
	all := Scenarios()
	if len(s.Scenarios) > 0 {
		all, _ = Lookup(s.Scenarios...)
	}
	var out []Scenario
	for _, sc := range all {
		if sc.Side == ServerSide && s.Server != "" || sc.Side == ClientSide && s.Client != "" {
			out = append(out, sc)
		}
	}
	return out
}

// RunSubjects judges every subject, at most parallel at once (0: the
// number of CPUs), each in its own process groups and scratch
// directories, and returns their reports in the file's order. progress,
// when set, is told of each subject done (from one goroutine at a time).
func RunSubjects(ctx context.Context, specs []SubjectSpec, base Options, parallel int, progress func(done, total int, r *Report)) []*Report {
	if parallel <= 0 {
		parallel = runtime.GOMAXPROCS(0)
	}
	out := make([]*Report, len(specs))
	sem := make(chan struct{}, parallel)
	var mu sync.Mutex
	var wg sync.WaitGroup
	done := 0
	for i, s := range specs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = RunSubject(ctx, s, base)
			if progress != nil {
				mu.Lock()
				done++
				progress(done, len(specs), out[i])
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}
