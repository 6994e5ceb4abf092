package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aibud/aibud/store"
	"github.com/aibud/aibud/tenants"
)

// shardCommand runs `aibud shard add|list|drain|undrain`. It opens the
// catalog in the data directory, so it runs while the server is stopped
// (Badger locks the directory); the admin console does the same live.
func shardCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "Usage: aibud shard add|list|drain|undrain [flags]")
		return errUsage
	}
	fs := flag.NewFlagSet("aibud shard "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", firstNonEmpty(getenv("AIBUD_DATA_DIR"), "./data"), "data directory (AIBUD_DATA_DIR)")
	id := fs.String("id", "", "shard id, e.g. evo-2")
	rawURL := fs.String("url", "", "Evolution API base URL, e.g. https://evo2.example.com")
	key := fs.String("key", "", "the server's global API key")
	capacity := fs.Int("capacity", tenants.DefaultShardCapacity, "WhatsApp numbers this server takes")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cat, err := store.OpenCatalog(*dataDir+"/catalog", slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return fmt.Errorf("%w (is aibud serve running on this data directory? stop it first)", err)
	}
	defer cat.Close()

	switch args[0] {
	case "add":
		if err := validateShard(*id, *rawURL, *key, *capacity); err != nil {
			return err
		}
		s := tenants.Shard{ID: *id, Kind: tenants.ShardEvolution, URL: strings.TrimSuffix(*rawURL, "/"), APIKey: *key, Capacity: *capacity, CreatedAt: time.Now().UTC()}
		if err := cat.PutShard(ctx, s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "shard %s added: %s, capacity %d\n", s.ID, s.URL, s.Capacity)
		return nil
	case "list":
		return listShards(ctx, cat, stdout)
	case "drain", "undrain":
		s, err := cat.Shard(ctx, *id)
		if err != nil {
			return fmt.Errorf("shard %q: %w", *id, err)
		}
		s.Draining = args[0] == "drain"
		if err := cat.PutShard(ctx, s); err != nil {
			return err
		}
		if s.Draining {
			fmt.Fprintf(stdout, "shard %s is draining: new numbers go elsewhere; its %d numbers keep working\n", s.ID, s.InUse)
		} else {
			fmt.Fprintf(stdout, "shard %s takes new numbers again\n", s.ID)
		}
		return nil
	}
	return fmt.Errorf("unknown shard command %q (want add, list, drain or undrain)", args[0])
}

func validateShard(id, rawURL, key string, capacity int) error {
	if id == "" || strings.ContainsAny(id, "/ ") {
		return errors.New("-id is required and may not contain spaces or slashes")
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url must be the gateway's http(s) base URL, got %q", rawURL)
	}
	if key == "" {
		return errors.New("-key (the gateway's global API key) is required")
	}
	if capacity < 1 || capacity > 1000 {
		return fmt.Errorf("-capacity must be 1 to 1000, got %d", capacity)
	}
	return nil
}

func listShards(ctx context.Context, cat *store.Catalog, stdout io.Writer) error {
	shards, err := cat.Shards(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tURL\tNUMBERS\tCAPACITY\tUSE\tSTATE")
	allFull := len(shards) > 0
	for _, s := range shards {
		state := "open"
		if s.Draining {
			state = "draining"
		}
		if s.Utilisation() < tenants.ShardFullRatio && !s.Draining {
			allFull = false
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.0f%%\t%s\n", s.ID, s.Kind, s.URL, s.InUse, s.Capacity, 100*s.Utilisation(), state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if allFull {
		fmt.Fprintln(stdout, "warning: every gateway shard is above 80% of its capacity: add a gateway server (aibud shard add)")
	}
	return nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
