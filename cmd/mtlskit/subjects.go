package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mtlskit/mtlskit/harness"
	"github.com/mtlskit/mtlskit/harness/report"
	"github.com/mtlskit/mtlskit/load"
	"github.com/urfave/cli/v2"
)

// harnessRunSubjects is `harness run --subjects FILE`: several servers
// and clients from one file, in parallel, one report. Exit 0 when every
// subject's run is OK (a subject skipped for a missing program is), 1
// otherwise.
func harnessRunSubjects(c *cli.Context, set runSettings) error {
	for _, f := range []string{"target", "pki", "server-cmd", "client-cmd", "negative-controls", "keep", "scenario"} {
		if c.IsSet(f) {
			return usagef("--subjects names every subject and its scenarios: drop --%s (put it in the file)", f)
		}
	}
	file := c.String("subjects")
	data, err := os.ReadFile(file)
	if err != nil {
		return failf("--subjects %s cannot be read (%s): check the path", file, errText(err))
	}
	specs, err := harness.ParseSubjects(file, data)
	if err != nil {
		return usagef("--subjects %v", err)
	}
	run := &report.Run{File: file, SHA256: fmt.Sprintf("%x", sha256.Sum256(data)), Subjects: len(specs), Scenarios: report.ScenarioSet()}
	if specs, run.Shard, err = shardOf(c, specs); err != nil {
		return err
	}
	if c.Int("parallel") < 0 {
		return usagef("--parallel %d: give a number of subjects to run at once (0: one per CPU)", c.Int("parallel"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var progress func(done, total int, r *harness.Report)
	if stderr := c.App.ErrWriter; isTerminal(stderr) {
		prog := startProgress(stderr, len(specs), time.Second)
		defer prog.stop()
		progress = func(done, total int, _ *harness.Report) { prog.set(done, total) }
	}
	reps := harness.RunSubjects(ctx, specs, set.opts, c.Int("parallel"), progress)
	if ctx.Err() != nil {
		return failf("harness run: interrupted; every subject's processes were stopped and no report was written")
	}
	if err := writeSubjectsReport(c, set.format, reps, run); err != nil {
		return err
	}
	if !report.AllOK(reps) {
		return silentFailure
	}
	return nil
}

// shardOf keeps this shard's subjects (--shard I/N, or a Kubernetes
// Indexed Job's index): every N-th in the file's order.
func shardOf(c *cli.Context, specs []harness.SubjectSpec) ([]harness.SubjectSpec, string, error) {
	sh, ok, err := load.ShardFromEnv(nil)
	if err != nil {
		return nil, "", usagef("%v", err)
	}
	if s := c.String("shard"); s != "" {
		if sh, err = load.ParseShard(s); err != nil {
			return nil, "", usagef("--shard: %v", err)
		}
		ok = true
	}
	if !ok {
		return specs, "", nil
	}
	var out []harness.SubjectSpec
	for i, s := range specs {
		if sh.Owns(i) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, "", usagef("--shard %s of %d subjects has none: use fewer shards", sh, len(specs))
	}
	return out, sh.String(), nil
}

// writeSubjectsReport writes the subjects' reports in the format.
func writeSubjectsReport(c *cli.Context, format string, reps []*harness.Report, run *report.Run) error {
	buf, err := renderSubjects(format, reps, run, report.TableOptions{Color: c.String("out") == "" && useColour(c.App.Writer)})
	if err != nil {
		return failf("harness run: writing the %s report: %v", format, err)
	}
	if out := c.String("out"); out != "" {
		if err := os.WriteFile(out, buf, 0o644); err != nil {
			return failf("--out %s: cannot write the report (%v): check that the directory exists and is writable", out, err)
		}
		ok := 0
		for _, r := range reps {
			if r.OK() {
				ok++
			}
		}
		fmt.Fprintf(c.App.Writer, "wrote the %s report to %s: %d of %d subjects OK\n", format, out, ok, len(reps))
		return nil
	}
	_, err = c.App.Writer.Write(buf)
	return err
}

// renderSubjects is the subjects' report in a format.
func renderSubjects(format string, reps []*harness.Report, run *report.Run, opt report.TableOptions) ([]byte, error) {
	var b bytes.Buffer
	var err error
	switch format {
	case "json":
		err = report.WriteJSONSubjects(&b, reps, run)
	case "junit":
		err = report.WriteJUnitSubjects(&b, reps)
	case "html":
		err = report.WriteHTML(&b, reps...)
	default:
		err = report.WriteMatrix(&b, reps, opt)
	}
	return b.Bytes(), err
}

// reportCommand is `mtlskit report merge`.
func reportCommand() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "work with harness reports",
		Subcommands: []*cli.Command{{
			Name:      "merge",
			Usage:     "merge the JSON reports of shards (harness run --subjects --shard I/N --format json) into one report",
			ArgsUsage: "REPORT.json...",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "format", Value: "table", Usage: "table, json, junit or html"},
				&cli.StringFlag{Name: "out", Usage: "write the report to `FILE` instead of stdout"},
			},
			Action: reportMerge,
		}},
	}
}

func reportMerge(c *cli.Context) error {
	if c.NArg() == 0 {
		return usagef("report merge needs the JSON reports to merge: mtlskit report merge shard-*.json")
	}
	format := c.String("format")
	switch format {
	case "table", "json", "junit", "html":
	default:
		return usagef("--format %q is not supported: use table, json, junit or html", format)
	}
	var docs []*report.Document
	for _, f := range c.Args().Slice() {
		fh, err := os.Open(f)
		if err != nil {
			return failf("report merge: %s cannot be read (%s): check the path", f, errText(err))
		}
		doc, err := report.ReadJSON(f, fh)
		fh.Close()
		if err != nil {
			var me *report.MergeError
			if errors.As(err, &me) {
				return failf("report merge: %v", err)
			}
			return failf("report merge: %s: %v", f, err)
		}
		docs = append(docs, doc)
	}
	merged, err := report.Merge(docs)
	if err != nil {
		return failf("report merge: %v", err)
	}
	if err := writeSubjectsReport(c, format, merged, mergedRun(docs)); err != nil {
		return err
	}
	if !report.AllOK(merged) {
		return silentFailure
	}
	return nil
}

// mergedRun is the run the merged shards make: their subjects file, no
// shard (nil when the shards do not say).
func mergedRun(docs []*report.Document) *report.Run {
	for _, d := range docs {
		if d.Run != nil {
			r := *d.Run
			r.Shard = ""
			return &r
		}
	}
	return nil
}
