package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/rpzfw/rpzfw/internal/feed"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/policy"
)

func runFeeds(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("feeds", "status|refresh|accept SOURCE|watch [flags]\n\nFetches the sources of a policy file and shows what rpzfw holds of each.")
	file := fs.String("policy", "", "policy `FILE`")
	cacheDir := fs.String("cache-dir", "", "`directory` of the sources' last good copies (default: the state directory)")
	notify := fs.String("notify-listen", "", "with watch: answer DNS NOTIFY from the primaries on this `address` (UDP)")
	timeout := fs.Duration("fetch-timeout", feed.DefaultFetchTimeout, "give up a fetch of one source after this `duration` (its last good copy stays)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := checkRanges(durationAtLeast("fetch-timeout", *timeout, time.Second)); err != nil {
		return err
	}
	if len(pos) == 0 {
		return fmt.Errorf("%w: say status, refresh, accept SOURCE or watch", errUsage)
	}
	if *file == "" {
		return fmt.Errorf("%w: --policy FILE is required", errUsage)
	}
	p, err := policy.ParseFile(*file)
	if err != nil {
		return err
	}
	dir := *cacheDir
	if dir == "" {
		if dir, err = feed.CacheDir(fwsync.DefaultStateDir(), p, logger(ctx)); err != nil {
			return err
		}
	}
	m, err := feed.NewManager(dir, p)
	if err != nil {
		return err
	}
	m.FetchTimeout, m.Log = *timeout, logger(ctx)
	var failed error
	switch pos[0] {
	case "status":
	case "refresh":
		errs := m.RefreshAll(ctx)
		for _, s := range p.Sources {
			if err := errs[s.Name]; err != nil {
				fmt.Fprintf(stdout, "%s: %v\n", s.Name, err)
			}
		}
		if len(errs) > 0 {
			failed = fmt.Errorf("%d of %d sources could not be refreshed (their last good copies are kept)", len(errs), len(p.Sources))
		}
	case "accept":
		if len(pos) != 2 {
			return fmt.Errorf("%w: accept takes the source name", errUsage)
		}
		if err := m.Accept(pos[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "accepted the held update of %s\n", pos[1])
	case "watch":
		if *notify != "" {
			addr, err := m.ListenNotify(ctx, *notify)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "listening for NOTIFY on %s\n", addr)
		}
		m.Watch(ctx, func(name string) {
			st := m.Status(name)
			fmt.Fprintf(stdout, "%s %s updated: %d records (%s, %d bytes)\n", time.Now().Format(time.RFC3339), name, st.Records, st.Transfer, st.Bytes)
		})
		return nil
	default:
		return fmt.Errorf("%w: unknown feeds action %q", errUsage, pos[0])
	}
	writeStatuses(stdout, m.Statuses())
	return failed
}

func writeStatuses(w io.Writer, sts []feed.Status) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tKIND\tRECORDS\tVERSION\tLAST SUCCESS\tLAST FETCH\tSTATE")
	for _, st := range sts {
		version := st.ETag
		if st.Serial != 0 {
			version = fmt.Sprintf("serial %d", st.Serial)
		}
		success := "never"
		if !st.LastSuccess.IsZero() {
			success = st.LastSuccess.Format(time.RFC3339)
		}
		state := "ok"
		if st.LastError != "" {
			state = st.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d bytes in %s (%s)\t%s\n", st.Name, st.Kind, st.Records, version, success, st.Bytes, st.Took.Round(time.Millisecond), st.Transfer, state)
	}
	tw.Flush()
}
