package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aibud/aibud/httpapi"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

const tenantUsage = `Usage:
  aibud tenant export ID [-o FILE]      write the tenant's export file (standard output without -o)
  aibud tenant import FILE [--as NEWID] restore a tenant from an export file, under NEWID if given
  aibud tenant list                     list the tenants
Each takes -data-dir (AIBUD_DATA_DIR, default ./data). They open the data directory
themselves, so stop aibud serve first; while it runs, the admin console exports.
`

// tenantCommand runs `aibud tenant export|import|list` on the data
// directory, like `aibud shard`.
func tenantCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, tenantUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("aibud tenant "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", firstNonEmpty(getenv("AIBUD_DATA_DIR"), "./data"), "data directory (AIBUD_DATA_DIR)")
	out := fs.String("o", "", "export: write the file here instead of standard output")
	as := fs.String("as", "", "import: import the tenant under this id instead of the file's")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	want := map[string]int{"export": 1, "import": 1, "list": 0}
	n, ok := want[args[0]]
	if !ok {
		fmt.Fprint(stderr, tenantUsage)
		return fmt.Errorf("unknown tenant command %q (want export, import or list)", args[0])
	}
	if len(pos) != n {
		fmt.Fprint(stderr, tenantUsage)
		return errUsage
	}
	st, err := openDataDir(*dataDir, args[0] != "import", stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "export":
		return exportTenant(ctx, st, pos[0], *out, stdout, stderr)
	case "import":
		return importTenant(ctx, st, pos[0], *as, stdout)
	}
	return listTenants(ctx, st, stdout)
}

// parseArgs parses flags given before or after the positional arguments
// (`aibud tenant export ID -o FILE`) and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// openDataDir opens the stores of a data directory for a command; it says
// so clearly when a running server holds it.
func openDataDir(dir string, mustExist bool, stderr io.Writer) (*store.Store, error) {
	if _, err := os.Stat(filepath.Join(dir, "catalog")); mustExist && err != nil {
		return nil, fmt.Errorf("no aibud data in %s (set -data-dir or AIBUD_DATA_DIR)", dir)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	st, err := store.Open(store.Options{Dir: dir, MaxOpenTenants: 16, Logger: logger})
	if err != nil && strings.Contains(err.Error(), "Another process is using this Badger database") {
		return nil, fmt.Errorf("the data directory %s is in use: aibud serve is running on it. Stop it first, or export from the admin console while it runs", dir)
	}
	return st, err
}

func exportTenant(ctx context.Context, st *store.Store, id, out string, stdout, stderr io.Writer) error {
	w, commit, abort := stdout, func() error { return nil }, func() {}
	if out != "" && out != "-" {
		f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
		if err != nil {
			return err
		}
		w = f
		commit = func() error {
			if err := errors.Join(f.Sync(), f.Close()); err != nil {
				return err
			}
			return os.Rename(f.Name(), out)
		}
		abort = func() { f.Close(); os.Remove(f.Name()) }
	}
	m, err := st.ExportTenant(ctx, id, w)
	if err == nil {
		err = commit()
	}
	if err != nil {
		abort()
		return userError(err)
	}
	where := out
	if out == "" || out == "-" {
		where = "standard output"
	}
	fmt.Fprintf(stderr, "exported tenant %s to %s: %s, %d bytes of database, sha256 %s\n",
		m.TenantID, where, describeCounts(m.Counts), m.PayloadBytes, m.SHA256)
	return nil
}

func importTenant(ctx context.Context, st *store.Store, file, as string, stdout io.Writer) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := st.ImportTenant(ctx, f, as)
	if err != nil {
		return userError(err)
	}
	fmt.Fprintf(stdout, "imported tenant %s (exported %s): %s\n", m.TenantID, m.CreatedAt.Format(time.RFC3339), describeCounts(m.Counts))
	return nil
}

func listTenants(ctx context.Context, st *store.Store, stdout io.Writer) error {
	list, err := st.ListTenants(ctx)
	if err != nil {
		return err
	}
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	owners := map[string]string{}
	for _, u := range users {
		if u.Role == tenants.RoleOwner && owners[u.TenantID] == "" {
			owners[u.TenantID] = u.Email
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tOWNER\tPLAN\tSTATUS\tCREATED")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, owners[t.ID], t.Plan, t.Status, t.CreatedAt.UTC().Format("2006-01-02"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d tenants\n", len(list))
	return nil
}

// describeCounts turns manifest counts into "1 tenant, 2 users, …".
func describeCounts(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], strings.ReplaceAll(k, "_", " ")))
	}
	return strings.Join(parts, ", ")
}

// userError shows a domain error by its message, without the code prefix.
func userError(err error) error {
	if code := tenants.ErrorCode(err); code != tenants.EINTERNAL && code != "" {
		return errors.New(tenants.ErrorMessage(err))
	}
	return err
}

// newEraser builds the account-deletion and contact-export use case over
// the program's store, numbers and billing (httpapi.Deps.Eraser).
func (m *Main) newEraser() *tenants.Eraser {
	return &tenants.Eraser{
		Catalog: m.Store, Numbers: m.Numbers, Billing: m.Billing, Data: m.Store, Audit: m.Store,
		Hasher: httpapi.Argon2idHasher{}, Contacts: m.Store, Polls: m.Store,
		NewID: store.NewID, Now: m.now, Logger: m.Logger,
	}
}
