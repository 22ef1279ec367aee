package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/reactivation/reactivation/internal/auth"
	"github.com/reactivation/reactivation/internal/cli"
	"github.com/reactivation/reactivation/internal/config"
	"github.com/reactivation/reactivation/internal/postgres"
)

func init() { register(apikeyCommand) }

func apikeyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "create, list and revoke API keys"}

	create := &cobra.Command{
		Use:   "create (--company ID | --admin) --name NAME [--scopes LIST]",
		Short: "create a key and print its secret (shown once) on stdout",
	}
	company := create.Flags().String("company", "", "company id the key is pinned to")
	scopes := create.Flags().String("scopes", "search", "comma-separated scopes: search,export,sync,admin")
	name := create.Flags().String("name", "", "a name to recognise the key by (required)")
	admin := create.Flags().Bool("admin", false, "a key that spans companies")
	create.RunE = func(cmd *cobra.Command, _ []string) error {
		if *admin && *company != "" {
			return cli.Usagef("--admin and --company exclude each other")
		}
		if !*admin && *company == "" {
			return cli.Usagef("--company is required (or --admin)")
		}
		if *name == "" {
			return cli.Usagef("--name is required")
		}
		sc, err := auth.ParseScopes(*scopes)
		if err != nil {
			return cli.Usagef("--scopes: %v", err)
		}
		return withKeys(cmd.Context(), func(ctx context.Context, store *auth.Store) error {
			k, secret, err := store.Create(ctx, auth.NewKey{Name: *name, CompanyID: *company, Admin: *admin, Scopes: sc})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "created key %s (prefix %s) for %s with scopes %v; the secret is shown once:\n", k.ID, k.Prefix, owner(k), k.Scopes)
			fmt.Println(secret)
			return nil
		})
	}

	list := &cobra.Command{Use: "list", Short: "list every key (never their secrets)"}
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		return withKeys(cmd.Context(), func(ctx context.Context, store *auth.Store) error {
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
		})
	}

	revoke := &cobra.Command{Use: "revoke ID_OR_PREFIX", Short: "revoke a key: it stops working at once", Args: cobra.ExactArgs(1)}
	revoke.RunE = func(cmd *cobra.Command, args []string) error {
		return withKeys(cmd.Context(), func(ctx context.Context, store *auth.Store) error {
			k, err := store.Revoke(ctx, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "revoked key %s (%s)\n", k.ID, k.Name)
			return nil
		})
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// withKeys runs f with the key store of DATABASE_URL.
func withKeys(ctx context.Context, f func(context.Context, *auth.Store) error) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	return f(ctx, auth.NewStore(postgres.NewKeys(pool)))
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
