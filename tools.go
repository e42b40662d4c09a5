//go:build tools

// This file pins modules that packages are about to use, so go.mod holds
// them while the packages are written. It is never built.
package redeliver

import (
	_ "github.com/bradleyfalzon/ghinstallation/v2"
	_ "github.com/cenkalti/backoff/v5"
	_ "github.com/getkin/kin-openapi/openapi3filter"
	_ "github.com/getkin/kin-openapi/routers/gorillamux"
	_ "github.com/goccy/go-yaml"
	_ "github.com/gofri/go-github-ratelimit/v2/github_ratelimit"
	_ "github.com/gofrs/flock"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/google/go-github/v93/github"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/term"
	_ "golang.org/x/time/rate"
	_ "gonum.org/v1/plot"
	_ "modernc.org/sqlite"
)
