// Command api serves the HTTP API.
package main

import (
	"context"

	"github.com/reactivation/reactivation/api"
	"github.com/reactivation/reactivation/internal/app"
)

func main() {
	app.Main("api", "serves the HTTP API on API_ADDR", func(ctx context.Context, d *app.App) error {
		return api.New(d.APIParams()).Run(ctx, d.Config.APIAddr, d.Config.ShutdownTimeout, nil)
	})
}
