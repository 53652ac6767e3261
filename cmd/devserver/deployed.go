package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/dev/cfnstack"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
)

// frontConfig is what -deployed-stack mode serves.
type frontConfig struct {
	tpl                     *samtemplate.Template
	stackFile               string
	apiAddr, awsAddr        string
	issuer                  *authn.Issuer
	keys                    *authn.KeySet
	lambda                  *awslambda.Client
	consoleAddr, consoleDir string
	log                     *slog.Logger
}

// runDeployed fronts a stack CloudFormation deployed into LocalStack: the
// HTTP API (which LocalStack's community edition does not deploy) on
// -api, invoking the deployed ApiFunction through LocalStack's Lambda;
// the OIDC provider, the webhook sink and /_local/health on -aws.
func runDeployed(ctx context.Context, c frontConfig) error {
	api := &devstack.DeployedAPI{
		Template: c.tpl, APILogicalID: "HttpApi", Lambda: c.lambda, Log: c.log,
		Keys: func(iss string) authn.KeyResolver { return &authn.RemoteJWKS{Issuer: iss} },
		Load: stackFileLoader(c.stackFile),
	}
	awsMux := http.NewServeMux()
	issuerPath := "/oidc/"
	if u, err := url.Parse(c.issuer.URL); err == nil && u.Path != "" {
		issuerPath = strings.TrimSuffix(u.Path, "/") + "/"
	}
	awsMux.Handle(issuerPath, c.issuer)
	awsMux.HandleFunc("POST /_local/oidc/rotate", func(w http.ResponseWriter, r *http.Request) {
		if err := c.keys.Rotate(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, c.keys.Current().ID)
	})
	devstack.NewWebhookSink(1000).Register(awsMux) // tenants' notification webhooks at /_local/webhooks/{name}
	// Healthy as soon as it listens: the stack may be deployed after this
	// server starts (stack.sh up, then deploy.sh), and the API answers 503
	// until it is.
	awsMux.HandleFunc("GET /_local/health", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	awsMux.HandleFunc("GET /_local/stack", func(w http.ResponseWriter, r *http.Request) {
		gw, err := api.Gateway()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "stage %s, %d routes\n", gw.Stage, len(gw.Routes))
	})

	errc := make(chan error, 3)
	if c.consoleAddr != "" {
		stage := "dev"
		if gw, err := api.Gateway(); err == nil {
			stage = gw.Stage
		}
		con := &devstack.Console{Dir: c.consoleDir, Connect: []string{os.Getenv("AWS_ENDPOINT_URL_S3")},
			Config: devstack.ConsoleConfig{APIBase: "http://" + c.apiAddr + "/" + stage, Issuer: c.issuer.URL, ClientID: authn.LocalAudience}}
		if err := con.Start(ctx, c.consoleAddr, errc, c.log); err != nil {
			return err
		}
	}
	for _, srv := range []struct {
		addr string
		h    http.Handler
	}{{c.awsAddr, awsMux}, {c.apiAddr, api}} {
		ln, err := net.Listen("tcp", srv.addr)
		if err != nil {
			return err
		}
		s := &http.Server{Handler: srv.h, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- s.Serve(ln) }()
		go func() { <-ctx.Done(); _ = s.Close() }()
		c.log.Info("listening", "addr", ln.Addr().String(), "deployedStack", c.stackFile)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// stackFileLoader reads the deployed stack's description (cfnstack) each
// time it is asked, the file's modification time and size its version.
func stackFileLoader(path string) func() (devstack.Deployment, error) {
	return func() (devstack.Deployment, error) {
		fi, err := os.Stat(path)
		if err != nil {
			return devstack.Deployment{}, fmt.Errorf("the stack is not deployed yet: %w (infra/local/localstack/deploy.sh writes it)", err)
		}
		s, err := cfnstack.Load(path)
		if err != nil {
			return devstack.Deployment{}, err
		}
		if !strings.HasSuffix(s.Status, "_COMPLETE") || strings.Contains(s.Status, "ROLLBACK") || strings.Contains(s.Status, "DELETE") {
			return devstack.Deployment{}, fmt.Errorf("stack %s is %s", s.Name, s.Status)
		}
		return devstack.Deployment{
			Version:    fmt.Sprintf("%d-%d", fi.ModTime().UnixNano(), fi.Size()),
			Physical:   s.PhysicalIDs(),
			Parameters: s.Parameters,
		}, nil
	}
}
