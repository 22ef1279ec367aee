package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/postgres"
)

func apikeyCommand(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"want create, list or revoke"}
	}
	sub, args := args[0], args[1:]
	fs := newFlags("apikey " + sub)
	var company, scopes, name *string
	var admin *bool
	switch sub {
	case "create":
		company = fs.String("company", "", "company id the key is pinned to")
		scopes = fs.String("scopes", "search", "comma-separated scopes: search,export,sync,admin")
		name = fs.String("name", "", "a name to recognise the key by")
		admin = fs.Bool("admin", false, "a key that spans companies")
	case "list":
	case "revoke":
	default:
		return usageError{fmt.Sprintf("unknown subcommand %q (want create, list or revoke)", sub)}
	}
	var ref string
	if sub == "revoke" {
		if len(args) != 1 {
			return usageError{"usage: apikey revoke ID_OR_PREFIX"}
		}
		ref, args = args[0], nil
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := auth.NewStore(pool)
	switch sub {
	case "create":
		if *admin && *company != "" {
			return usageError{"--admin and --company exclude each other"}
		}
		if !*admin && *company == "" {
			return usageError{"--company is required (or --admin)"}
		}
		if *name == "" {
			return usageError{"--name is required"}
		}
		sc, err := auth.ParseScopes(*scopes)
		if err != nil {
			return usageError{"--scopes: " + err.Error()}
		}
		k, secret, err := store.Create(ctx, auth.NewKey{Name: *name, CompanyID: *company, Admin: *admin, Scopes: sc})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "created key %s (prefix %s) for %s with scopes %v; the secret is shown once:\n", k.ID, k.Prefix, owner(k), k.Scopes)
		fmt.Println(secret)
	case "list":
		keys, err := store.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tOWNER\tSCOPES\tCREATED\tSTATUS")
		for _, k := range keys {
			status := "active"
			if k.RevokedAt != nil {
				status = "revoked " + k.RevokedAt.Format("2006-01-02")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, owner(k), joinScopes(k.Scopes),
				k.CreatedAt.Format("2006-01-02 15:04"), status)
		}
		return tw.Flush()
	case "revoke":
		k, err := store.Revoke(ctx, ref)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "revoked key %s (%s)\n", k.ID, k.Name)
	}
	return nil
}

func owner(k auth.Key) string {
	if k.Admin {
		return "admin"
	}
	return k.CompanyID
}

func joinScopes(s []auth.Scope) string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return strings.Join(out, ",")
}
