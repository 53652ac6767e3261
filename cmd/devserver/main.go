// Command devserver is the local stand-in for the AWS services that have no
// local server of their own. It reads template.yaml and
//
//   - provisions the DynamoDB tables (on DynamoDB Local), the bucket (on
//     MinIO, with versioning and object events routed to this server) and
//     the state machines (on the aws-local-stepfunctions API server) with
//     their DefinitionSubstitutions;
//   - serves the Lambda Invoke API on -aws, running the same handlers the
//     Lambda binaries run, with each function's template environment;
//   - receives MinIO's bucket-notification webhook on -aws at
//     /_local/s3-events and plays EventBridge: "Object Created" events
//     matched against the template's rules start the state machines;
//   - serves EventBridge's PutEvents on -aws at / (the job events the
//     import steps publish), and lists them at GET /_local/events;
//   - serves the HTTP API on -api;
//   - plays the export schedule rule: every -export-tick it invokes the
//     dispatcher function through its own Lambda Invoke API (AWS ticks it
//     every ExportTickRate, one minute by default; locally faster, so a
//     "once now" schedule runs within seconds).
//
// Endpoints of the other servers come from AWS_ENDPOINT_URL_* as usual.
// GET /_local/health on -aws answers 200 once provisioning has finished.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/ccbulk/bulkops/shared/apiapp"
	"github.com/ccbulk/bulkops/shared/applog"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/devstack"
	"github.com/ccbulk/bulkops/shared/exportapp"
	"github.com/ccbulk/bulkops/shared/httpapi"
	"github.com/ccbulk/bulkops/shared/importapp"
	"github.com/ccbulk/bulkops/shared/samtemplate"
)

// importFunctions are the template's functions whose handler is the import
// workflow (functions/import-*).
var importFunctions = []string{"ImportControlFunction", "ImportPrepareFunction", "ImportChunkFunction", "ImportFinalizeFunction"}

// notServed are template functions this server does not run, and why.
var notServed = map[string]string{
	"ApiFunction": "its handler is served directly on -api",
}

// localAPI builds the HTTP API with the ApiFunction's environment from the
// template; without API Gateway in front, it verifies bearer tokens itself,
// the way the JWT authorizer does, against the local key.
func localAPI(ctx context.Context, names devstack.Names, issuer string) (*httpapi.API, error) {
	getenv, err := names.Env("ApiFunction", os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("function ApiFunction: %w", err)
	}
	verifier := authn.Verifier{Keys: &authn.RemoteJWKS{Issuer: issuer}, Issuer: issuer, Audience: authn.LocalAudience, TenantClaim: getenv("BULKOPS_TENANT_CLAIM")}
	return apiapp.New(ctx, getenv, os.Stderr, verifier)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devserver:", err)
		os.Exit(1)
	}
}

func run() error {
	tplPath := flag.String("template", "template.yaml", "SAM template")
	prefix := flag.String("prefix", "bulkops-local-", "prefix of local resource names")
	apiAddr := flag.String("api", "127.0.0.1:3000", "HTTP API listen address")
	awsAddr := flag.String("aws", "127.0.0.1:3001", "Lambda Invoke API and S3 webhook listen address")
	webhookARN := flag.String("webhook-arn", "arn:minio:sqs::BULKOPS:webhook", "MinIO notification target for the bucket's events (empty: none)")
	params := flag.String("params", "", "template parameter overrides, Name=Value,Name=Value")
	jwtKey := flag.String("jwt-key", ".tools/run/jwt-key.pem", "the local OIDC issuer's RSA signing keys, current and previous (created if missing; make token prints a token)")
	issuerURL := flag.String("issuer", "", "the local OIDC issuer's URL (default http://<-aws>/oidc); it is served on -aws")
	consoleAddr := flag.String("console", "", "web console listen address (empty: not served); serves -console-dir and its config.json (shared/devstack/console.go)")
	consoleDir := flag.String("console-dir", "web/dist", "the built web console (make web)")
	exportTick := flag.Duration("export-tick", 5*time.Second, "how often the export schedule rule ticks the dispatcher (0: never)")
	flag.Parse()

	log := applog.New(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tpl, err := samtemplate.Load(*tplPath)
	if err != nil {
		return err
	}
	names := devstack.Names{Template: tpl, Prefix: *prefix, Params: parseParams(*params)}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return err
	}
	clients := devstack.Clients{DynamoDB: awsenv.DynamoDB(awsCfg), S3: awsenv.S3(awsCfg), SFN: awsenv.SFN(awsCfg)}

	lambdas := devstack.NewLambdaServer(log)
	for _, id := range tpl.OfType("AWS::Serverless::Function") {
		if why, ok := notServed[id]; ok {
			log.Info("function not served locally", "function", id, "why", why)
			continue
		}
		getenv, err := names.Env(id, os.Getenv)
		if err != nil {
			return fmt.Errorf("function %s: %w", id, err)
		}
		if id == "ExportDispatchFunction" {
			d, err := exportapp.NewDispatcher(ctx, getenv, os.Stderr)
			if err != nil {
				return fmt.Errorf("function %s: %w", id, err)
			}
			fnName, _ := names.Ref(id)
			lambdas.Register(fnName, lambda.NewHandler(exportapp.DispatchHandler(d)))
			continue
		}
		if id == "ExportFunction" {
			flow, err := exportapp.New(ctx, getenv, os.Stderr)
			if err != nil {
				return fmt.Errorf("function %s: %w", id, err)
			}
			fnName, _ := names.Ref(id)
			lambdas.Register(fnName, lambda.NewHandler(exportapp.Handler(flow)))
			continue
		}
		if !contains(importFunctions, id) {
			return fmt.Errorf("template function %s has no local handler; add it to cmd/devserver", id)
		}
		flow, err := importapp.New(ctx, getenv, os.Stderr)
		if err != nil {
			return fmt.Errorf("function %s: %w", id, err)
		}
		fnName, _ := names.Ref(id)
		lambdas.Register(fnName, lambda.NewHandler(importapp.Handler(flow)))
	}
	keys, err := authn.LoadOrCreateKeySet(*jwtKey)
	if err != nil {
		return fmt.Errorf("local signing keys: %w", err)
	}
	if *issuerURL == "" {
		*issuerURL = "http://" + *awsAddr + "/oidc"
	}
	issuer := &authn.Issuer{URL: strings.TrimSuffix(*issuerURL, "/"), Keys: keys}
	api, err := localAPI(ctx, names, issuer.URL)
	if err != nil {
		return err
	}
	router, err := devstack.NewRouter(names, clients.SFN, log)
	if err != nil {
		return err
	}

	var ready atomic.Bool
	bus := devstack.NewEventBus(1000)
	awsMux := http.NewServeMux()
	awsMux.Handle("/2015-03-31/functions/", lambdas)
	awsMux.Handle("POST /{$}", bus) // EventBridge PutEvents (AWS_ENDPOINT_URL_EVENTBRIDGE)
	awsMux.HandleFunc("GET /_local/events", bus.ServeEvents)
	issuerPath := "/oidc/"
	if u, err := url.Parse(issuer.URL); err == nil && u.Path != "" {
		issuerPath = strings.TrimSuffix(u.Path, "/") + "/"
	}
	awsMux.Handle(issuerPath, issuer) // the local OpenID Connect provider
	awsMux.HandleFunc("POST /_local/oidc/rotate", func(w http.ResponseWriter, r *http.Request) {
		if err := keys.Rotate(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, keys.Current().ID)
	})
	awsMux.Handle("POST /_local/s3-events", router)
	awsMux.HandleFunc("GET /_local/health", func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "provisioning", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})

	errc := make(chan error, 3)
	if *consoleAddr != "" {
		stage, _ := names.Ref("Stage")
		c := &devstack.Console{Dir: *consoleDir, Connect: []string{os.Getenv("AWS_ENDPOINT_URL_S3")},
			Config: devstack.ConsoleConfig{APIBase: "http://" + *apiAddr + "/" + stage, Issuer: issuer.URL, ClientID: authn.LocalAudience}}
		if err := c.Start(ctx, *consoleAddr, errc, log); err != nil {
			return err
		}
	}
	for _, srv := range []struct {
		addr string
		h    http.Handler
	}{{*awsAddr, awsMux}, {*apiAddr, api.Handler()}} {
		ln, err := net.Listen("tcp", srv.addr)
		if err != nil {
			return err
		}
		s := &http.Server{Handler: srv.h, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- s.Serve(ln) }()
		go func() { <-ctx.Done(); _ = s.Close() }()
		log.Info("listening", "addr", ln.Addr().String())
	}

	prov := devstack.Provisioner{Names: names, Clients: clients, TemplateDir: filepath.Dir(*tplPath), WebhookARN: *webhookARN}
	go func() {
		// The other servers may still be starting: retry for a while.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			err := prov.All(ctx)
			if err == nil {
				ready.Store(true)
				bucket, _ := names.Ref("DataBucket")
				log.Info("provisioned", "bucket", bucket, "prefix", *prefix)
				return
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				errc <- fmt.Errorf("provisioning: %w", err)
				return
			}
			log.Info("provisioning, waiting for servers", "error", err.Error())
			time.Sleep(time.Second)
		}
	}()

	if *exportTick > 0 {
		fnName, _ := names.Ref("ExportDispatchFunction")
		ticker := &devstack.ScheduleTicker{
			Lambda: awsenv.Lambda(awsCfg), Function: fnName, Every: *exportTick, Log: log,
			RuleARN: "arn:aws:events:us-east-1:000000000000:rule/" + *prefix + "export-tick",
		}
		go func() {
			for !ready.Load() && ctx.Err() == nil { // tables first
				time.Sleep(200 * time.Millisecond)
			}
			ticker.Run(ctx)
		}()
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

func parseParams(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			out[k] = v
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
