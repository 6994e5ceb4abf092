package store

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/aibud/aibud/tenants"
)

// FuzzImportTenant feeds damaged and random export files to ImportTenant:
// it must refuse them cleanly (no panic) and leave nothing behind — no
// catalog record and no tenant directory. The seeds are a real export and
// a few cut or altered copies of it.
func FuzzImportTenant(f *testing.F) {
	src := mustOpen(f, 4)
	id := mustTenant(f, src, 400)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := src.CreateAccount(context.Background(), tenants.Tenant{ID: id, Name: "Fuzz", Plan: tenants.PlanStarter, Status: tenants.TenantActive, CreatedAt: t0},
		tenants.User{ID: NewID(), Email: "fuzz@example.com", TenantID: id, Role: tenants.RoleOwner, CreatedAt: t0}); err != nil {
		f.Fatal(err)
	}
	var good bytes.Buffer
	if _, err := src.ExportTenant(context.Background(), id, &good); err != nil {
		f.Fatal(err)
	}
	b := good.Bytes()
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add(append(bytes.Clone(b[:len(b)-1]), b[len(b)-1]^1))
	f.Add([]byte("{}\n"))
	f.Add([]byte(""))
	dst := mustOpen(f, 4)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := dst.ImportTenant(context.Background(), bytes.NewReader(data), "")
		if err == nil {
			// Only an intact export imports; undo it for the next input.
			if err := dst.EraseTenantData(context.Background(), m.TenantID); err != nil {
				t.Fatal(err)
			}
			return
		}
		entries, rerr := os.ReadDir(dst.Pool.dir)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if len(entries) != 0 {
			t.Fatalf("a refused import left %d tenant directories", len(entries))
		}
	})
}
