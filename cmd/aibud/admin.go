package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/aibud/aibud/httpapi"
	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

// adminCommand runs `aibud admin create --email E`: it makes a platform
// admin (the operator console's user), reading the password from the first
// line of stdin so that it never shows in the process list or the shell
// history:
//
//	printf '%s\n' "$PASSWORD" | aibud admin create --email ops@example.com
//
// Like `aibud shard`, it opens the catalog directly, so the server must be
// stopped (Badger locks the directory).
func adminCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, "Usage: aibud admin create --email EMAIL   (password on stdin)")
		return errUsage
	}
	fs := flag.NewFlagSet("aibud admin create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", firstNonEmpty(getenv("AIBUD_DATA_DIR"), "./data"), "data directory (AIBUD_DATA_DIR)")
	email := fs.String("email", "", "the admin's email address (required)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *email == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "Usage: aibud admin create --email EMAIL   (password on stdin)")
		return errUsage
	}
	password, err := readPassword(stdin)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cat, err := store.OpenCatalog(*dataDir+"/catalog", logger)
	if err != nil {
		return fmt.Errorf("%w (is aibud serve running on this data directory? stop it first)", err)
	}
	defer cat.Close()
	admin := &tenants.Admin{Catalog: cat, Hasher: httpapi.Argon2idHasher{}, NewID: store.NewID, Now: time.Now, Logger: logger}
	u, err := admin.CreateAdmin(ctx, *email, password)
	if err != nil {
		if msg := tenants.ErrorMessage(err); tenants.ErrorCode(err) != tenants.EINTERNAL {
			return errors.New(msg)
		}
		return err
	}
	fmt.Fprintf(stdout, "admin %s created (id %s); log in at /operator/login\n", u.Email, u.ID)
	return nil
}

// readPassword takes the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin: pipe it in, e.g. printf '%s\\n' \"$PASSWORD\" | aibud admin create --email E")
	}
	return line, nil
}
