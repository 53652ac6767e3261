package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// configFile is the profile file:
//
//	profile = "prod"                 # the profile used without --profile (optional)
//
//	[profiles.prod]
//	api = "https://abc123.execute-api.eu-central-1.amazonaws.com/prod"
//	token_env = "BULKOPS_PROD_TOKEN"  # read the token from this variable
//	token_command = "idp-cli token --audience bulkops"  # or print it with this command
//
// Tokens are never kept in it: a token comes from a variable or a command.
type configFile struct {
	Profile  string             `toml:"profile"`
	Profiles map[string]profile `toml:"profiles"`
}

type profile struct {
	API          string `toml:"api"`
	TokenEnv     string `toml:"token_env"`
	TokenCommand string `toml:"token_command"`
}

const configHelp = `Configuration (first found wins):
  API address  --api URL; the profile chosen with --profile or BULKOPS_PROFILE;
               BULKOPS_API_URL (BULKOPS_API is an alias); the file's default profile;
               http://127.0.0.1:$BULKOPS_API_PORT/dev (port 3000 when unset)
  token        --token TOKEN; the chosen profile's token_env or token_command;
               BULKOPS_TOKEN; the file's default profile
  profile file $XDG_CONFIG_HOME/bulkops/config.toml (~/.config/bulkops/config.toml):
                 profile = "prod"            # default profile (optional)
                 [profiles.prod]
                 api = "https://{apiId}.execute-api.{region}.amazonaws.com/prod"
                 token_env = "BULKOPS_PROD_TOKEN"        # and/or
                 token_command = "my-idp token --audience bulkops"
               The CLI never writes tokens to disk; a token in the file is refused.
`

// configPath is where the profile file is.
func configPath(getenv func(string) string) string {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "bulkops", "config.toml")
}

// loadConfig reads the profile file; a missing file is an empty one.
func loadConfig(path string) (configFile, error) {
	var cf configFile
	if path == "" {
		return cf, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return cf, err
	}
	md, err := toml.Decode(string(raw), &cf)
	if err != nil {
		return cf, usageErr("%s: %v", path, err)
	}
	for _, k := range md.Undecoded() {
		if k[len(k)-1] == "token" {
			return cf, usageErr("%s: %s: tokens are not kept in files; use token_env (a variable) or token_command", path, k)
		}
		return cf, usageErr("%s: unknown setting %s (a profile has api, token_env, token_command)", path, k)
	}
	return cf, nil
}

// settings are the API address and where the token comes from.
type settings struct {
	api, token string
	// tokenCommand prints the token, when no token was given otherwise.
	tokenCommand, source string
}

// resolve works out the API address and the token (see configHelp).
func (a *app) resolve() (settings, error) {
	var st settings
	path := configPath(a.getenv)
	cf, err := loadConfig(path)
	if err != nil {
		return st, err
	}
	name := a.profile
	if name == "" {
		name = a.getenv("BULKOPS_PROFILE")
	}
	var chosen, fallback *profile
	if name != "" {
		p, ok := cf.Profiles[name]
		if !ok {
			var names []string
			for n := range cf.Profiles {
				names = append(names, n)
			}
			sort.Strings(names)
			return st, usageErr("profile %q is not in %s (profiles: %s)", name, path, orNone(strings.Join(names, ", ")))
		}
		chosen = &p
	} else if cf.Profile != "" {
		p, ok := cf.Profiles[cf.Profile]
		if !ok {
			return st, usageErr("%s: the default profile %q has no [profiles.%s] section", path, cf.Profile, cf.Profile)
		}
		fallback, name = &p, cf.Profile
	}
	port := a.getenv("BULKOPS_API_PORT")
	if port == "" {
		port = "3000"
	}
	st.api = first(a.api, pick(chosen, func(p *profile) string { return p.API }), a.getenv("BULKOPS_API_URL"), a.getenv("BULKOPS_API"),
		pick(fallback, func(p *profile) string { return p.API }), "http://127.0.0.1:"+port+"/dev")
	st.api = strings.TrimSuffix(st.api, "/")
	tokenOf := func(p *profile) (string, string) {
		if p == nil {
			return "", ""
		}
		if p.TokenEnv != "" {
			if v := a.getenv(p.TokenEnv); v != "" {
				return v, ""
			}
		}
		return "", p.TokenCommand
	}
	switch {
	case a.token != "":
		st.token, st.source = a.token, "--token"
	default:
		tok, cmd := tokenOf(chosen)
		if tok == "" && cmd == "" {
			if tok = a.getenv("BULKOPS_TOKEN"); tok == "" {
				tok, cmd = tokenOf(fallback)
			}
		}
		st.token, st.tokenCommand, st.source = tok, cmd, "profile "+name
	}
	return st, nil
}

// runTokenCommand runs a profile's token_command and returns what it
// prints (the token); it is given 30 seconds.
func runTokenCommand(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	c := exec.CommandContext(ctx, "sh", "-c", command)
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if i := strings.IndexByte(msg, '\n'); i > 0 {
			msg = msg[:i]
		}
		return "", authErr("token_command %q failed (%v)%s", command, err, map[bool]string{true: ": " + msg}[msg != ""])
	}
	tok := strings.TrimSpace(out.String())
	if tok == "" || strings.ContainsAny(tok, " \n\t") {
		return "", authErr("token_command %q printed no single token", command)
	}
	return tok, nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func pick(p *profile, f func(*profile) string) string {
	if p == nil {
		return ""
	}
	return f(p)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
