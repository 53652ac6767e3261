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
//   - serves Secrets Manager's API on -aws at /secretsmanager (delivery
//     targets' credentials; devstack/secretsmanager.go);
//   - serves the local OpenID Connect provider on -aws at /oidc
//     (discovery, JWKS, sign-in with PKCE, token), whose keys sign
//     `bulkops token`'s tokens;
//   - plays API Gateway on -api: the template's HTTP API with its stage
//     (/dev), routes, JWT authorizer (the issuer's JWKS over HTTP) and
//     CORS configuration, invoking ApiFunction through the Lambda Invoke
//     API with payload format 2.0 events;
//   - runs each function under its template Timeout and EventInvokeConfig
//     (async retries, maximum event age, OnFailure destination);
//   - plays the export schedule rule: every -export-tick it invokes the
//     dispatcher function through its own Lambda Invoke API (AWS ticks it
//     every ExportTickRate, one minute by default; locally faster, so a
//     "once now" schedule runs within seconds).
//
// With -deployed-stack (the LocalStack backend, started by
// `BULKOPS_BACKEND=localstack infra/local/stack.sh up`) it provisions and
// runs nothing: the stack is the one CloudFormation deployed from the
// template into LocalStack, whose community edition has no API Gateway v2.
// The dev server then provides only that part: on -api the template's
// HTTP API (stage, routes, JWT authorizer, CORS, payload 2.0 events)
// invoking the deployed functions through Lambda (AWS_ENDPOINT_URL_LAMBDA,
// LocalStack), with the stage and authorizer from the deployed
// parameters; on -aws the OIDC provider the deployed JwtIssuer names, the
// webhook sink, and /_local/health.
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
	"github.com/ccbulk/bulkops/shared/apigwlambda"
	"github.com/ccbulk/bulkops/shared/applog"
	"github.com/ccbulk/bulkops/shared/authn"
	"github.com/ccbulk/bulkops/shared/awsenv"
	"github.com/ccbulk/bulkops/shared/cleanupapp"
	"github.com/ccbulk/bulkops/shared/config"
	"github.com/ccbulk/bulkops/shared/dev/devstack"
	"github.com/ccbulk/bulkops/shared/dev/samtemplate"
	"github.com/ccbulk/bulkops/shared/exportapp"
	"github.com/ccbulk/bulkops/shared/importapp"
	"github.com/ccbulk/bulkops/shared/notifyapp"
	"github.com/ccbulk/bulkops/shared/retryapp"
)

// handlers builds the handler of each template function the way its
// functions/<fn>/main.go does, from the function's template environment.
// A template function without an entry here stops the dev server.
var handlers = map[string]func(ctx context.Context, getenv func(string) string) (lambda.Handler, error){
	"ImportControlFunction":  importHandler,
	"ImportPrepareFunction":  importHandler,
	"ImportChunkFunction":    importHandler,
	"ImportFinalizeFunction": importHandler,
	"ApiFunction":            apiHandler,
	"ExportFunction":         exportHandler,
	"ExportDispatchFunction": dispatchHandler,
	"JobCleanupFunction":     cleanupHandler,
	"NotifyFunction":         notifyHandler,
	"ImportRetryFunction":    retryHandler,
}

func importHandler(ctx context.Context, getenv func(string) string) (lambda.Handler, error) {
	flow, err := importapp.New(ctx, getenv, os.Stderr)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(importapp.Handler(flow)), nil
}

// apiHandler is functions/api: the API behind API Gateway's JWT
// authorizer, identifying callers by the claims the authorizer passed on.
func apiHandler(ctx context.Context, getenv func(string) string) (lambda.Handler, error) {
	api, err := apiapp.New(ctx, getenv, os.Stderr)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(apigwlambda.Handler(api.Handler())), nil
}

func exportHandler(ctx context.Context, getenv func(string) string) (lambda.Handler, error) {
	flow, err := exportapp.New(ctx, getenv, os.Stderr)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(exportapp.Handler(flow)), nil
}

func dispatchHandler(ctx context.Context, getenv func(string) string) (lambda.Handler, error) {
	d, err := exportapp.NewDispatcher(ctx, getenv, os.Stderr)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(exportapp.DispatchHandler(d)), nil
}

// cleanupHandler is functions/job-cleanup: ends jobs whose workflow died.
func cleanupHandler(ctx context.Context, getenv func(string) string) (lambda.Handler, error) {
	c, err := cleanupapp.New(ctx, getenv, os.Stderr)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(cleanupapp.Handler(c)), nil
}

// retryHandler is functions/import-retry: builds a retry's file.
func retryHandler(ctx context.Context, getenv func(string) string) (lambda.Handler, error) {
	b, err := retryapp.New(ctx, getenv, os.Stderr)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(retryapp.Handler(b)), nil
}

// notifyHandler is functions/notify: tells tenants' contacts of failures.
func notifyHandler(ctx context.Context, getenv func(string) string) (lambda.Handler, error) {
	a, err := notifyapp.New(ctx, getenv, os.Stderr, nil)
	if err != nil {
		return nil, err
	}
	return lambda.NewHandler(notifyapp.Handler(a)), nil
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
	timeoutScale := flag.Float64("lambda-timeout-scale", 1, "multiplies every function's template Timeout (1 plays the template's values)")
	fnTimeouts := flag.String("function-timeout", "", "replaces the template Timeout of some functions, LogicalId=Duration,... (tests of timeouts; -lambda-timeout-scale still applies)")
	asyncScale := flag.Float64("async-scale", 1, "multiplies the async-invocation retry delays (1 and 2 minutes on AWS) and MaximumEventAgeInSeconds; the local stack runs them faster")
	consoleAddr := flag.String("console", "", "web console listen address (empty: not served); serves -console-dir and its config.json (shared/dev/devstack/console.go)")
	consoleDir := flag.String("console-dir", "web/dist", "the built web console (make web)")
	exportTick := flag.Duration("export-tick", 5*time.Second, "how often the export schedule rule ticks the dispatcher (0: never)")
	sweepTick := flag.Duration("sweep-tick", 10*time.Second, "how often the job sweeper's schedule ticks the cleanup function (0: never)")
	deployed := flag.String("deployed-stack", "", "front a stack CloudFormation deployed (the LocalStack backend): serve its HTTP API and the OIDC issuer only; the stack's description file, read again when it changes (infra/local/localstack/deploy.sh writes it)")
	flag.Parse()

	log := applog.New(os.Stderr, applog.Level(os.Getenv(config.LogLevelVar)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	tpl, err := samtemplate.Load(*tplPath)
	if err != nil {
		return err
	}
	keys, err := authn.LoadOrCreateKeySet(*jwtKey)
	if err != nil {
		return fmt.Errorf("local signing keys: %w", err)
	}
	if *issuerURL == "" {
		*issuerURL = "http://" + *awsAddr + "/oidc"
	}
	issuer := &authn.Issuer{URL: strings.TrimSuffix(*issuerURL, "/"), Keys: keys}
	names := devstack.Names{Template: tpl, Prefix: *prefix, Params: parseParams(*params)}
	// The template's JWT authorizer trusts the local issuer unless
	// -params names another.
	if _, ok := names.Params["JwtIssuer"]; !ok {
		names.Params["JwtIssuer"] = issuer.URL
	}
	if _, ok := names.Params["JwtAudience"]; !ok {
		names.Params["JwtAudience"] = authn.LocalAudience
	}
	if _, ok := names.Params["NotifySesIdentity"]; !ok { // the local SES below accepts any sender
		names.Params["NotifySesIdentity"] = "bulkops.local"
	}
	awsCfg, err := awsenv.Load(ctx)
	if err != nil {
		return err
	}
	if *deployed != "" {
		return runDeployed(ctx, frontConfig{
			tpl: tpl, stackFile: *deployed, apiAddr: *apiAddr, awsAddr: *awsAddr, issuer: issuer, keys: keys,
			lambda: awsenv.Lambda(awsCfg), consoleAddr: *consoleAddr, consoleDir: *consoleDir, log: log,
		})
	}
	clients := devstack.Clients{DynamoDB: awsenv.DynamoDB(awsCfg), S3: awsenv.S3(awsCfg), SFN: awsenv.SFN(awsCfg)}

	lambdas := devstack.NewLambdaServer(log)
	lambdas.TimeoutScale, lambdas.AsyncScale = *timeoutScale, *asyncScale
	lambdas.Destinations = awsenv.Lambda(awsCfg) // this server, through AWS_ENDPOINT_URL_LAMBDA
	timeouts, err := parseTimeouts(*fnTimeouts)
	if err != nil {
		return err
	}
	// The functions' AWS clients refuse requests of invocations stopped at
	// their timeout, as Lambda's sandbox would (devstack/sandbox.go).
	buildCtx := awsenv.WithHTTPWrapper(ctx, devstack.SandboxHTTP)
	for _, id := range tpl.OfType("AWS::Serverless::Function") {
		build, ok := handlers[id]
		if !ok {
			return fmt.Errorf("template function %s has no local handler; add it to cmd/devserver", id)
		}
		getenv, err := names.Env(id, os.Getenv)
		if err != nil {
			return fmt.Errorf("function %s: %w", id, err)
		}
		cfg, err := names.FunctionConfig(id)
		if err != nil {
			return err
		}
		if d, ok := timeouts[id]; ok {
			cfg.Timeout = d
			delete(timeouts, id)
		}
		h, err := build(buildCtx, getenv)
		if err != nil {
			return fmt.Errorf("function %s: %w", id, err)
		}
		fnName, _ := names.Ref(id)
		lambdas.Register(fnName, h, cfg)
	}
	for id := range timeouts {
		return fmt.Errorf("-function-timeout names %s, which is not a function of the template", id)
	}
	// The HTTP API, played as API Gateway: its JWT authorizer fetches the
	// issuer's JWKS over HTTP, and ApiFunction is invoked through the
	// Lambda Invoke API above.
	apigw, err := devstack.NewAPIGateway(names, "HttpApi", awsenv.Lambda(awsCfg),
		func(iss string) authn.KeyResolver { return &authn.RemoteJWKS{Issuer: iss} }, log)
	if err != nil {
		return err
	}
	router, err := devstack.NewRouter(names, clients.SFN, log)
	if err != nil {
		return err
	}

	router.Lambda = awsenv.Lambda(awsCfg) // rules that target functions
	var ready atomic.Bool
	bus := devstack.NewEventBus(1000)
	bus.Rules, bus.Log = router, log // PutEvents entries reach the rules' targets
	awsMux := http.NewServeMux()
	awsMux.Handle("/2015-03-31/functions/", lambdas)
	awsMux.HandleFunc("POST /_local/lambda/latency", lambdas.ServeLatency(func(id string) string {
		if n, ok := names.Ref(id); ok && tpl.Resources[id].Type == "AWS::Serverless::Function" {
			return n // a template logical ID
		}
		return id
	}))
	awsMux.Handle("POST /{$}", bus) // EventBridge PutEvents (AWS_ENDPOINT_URL_EVENTBRIDGE)
	awsMux.HandleFunc("GET /_local/events", bus.ServeEvents)
	awsMux.Handle("POST /secretsmanager", devstack.NewSecretsManager(log)) // Secrets Manager (AWS_ENDPOINT_URL_SECRETS_MANAGER)
	devstack.NewSES(1000).Register(awsMux)                                 // SES v2 SendEmail (AWS_ENDPOINT_URL_SESV2), sent mail at /_local/ses/messages
	devstack.NewWebhookSink(1000).Register(awsMux)                         // tenants' notification webhooks at /_local/webhooks/{name}
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
	}{{*awsAddr, awsMux}, {*apiAddr, apigw}} {
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

	if *sweepTick > 0 { // the JobCleanupFunction's Sweep schedule
		fnName, _ := names.Ref("JobCleanupFunction")
		sweeper := &devstack.ScheduleTicker{
			Lambda: awsenv.Lambda(awsCfg), Function: fnName, Every: *sweepTick, Log: log,
			RuleARN: "arn:aws:events:us-east-1:000000000000:rule/" + *prefix + "job-sweep",
		}
		go func() {
			for !ready.Load() && ctx.Err() == nil {
				time.Sleep(200 * time.Millisecond)
			}
			sweeper.Run(ctx)
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

// parseTimeouts reads -function-timeout: LogicalId=Duration,...
func parseTimeouts(s string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("-function-timeout %q: want LogicalId=Duration with a positive duration such as 200ms", kv)
		}
		out[k] = d
	}
	return out, nil
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
