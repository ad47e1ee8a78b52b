package http

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	mrand "math/rand/v2"
	"strings"

	"github.com/decnet-go/decnet/internal/persona"
)

// loginApp is a fake application whose pages are a login form. A POST never
// succeeds: the form comes back with the application's failure message.
type loginApp struct {
	paths   []string
	tmpl    *template.Template
	data    loginData
	headers func() []header          // fields the application adds to each page
	failure func(user string) string // message after a refused login
}

// loginData fills a login template. The fixed part comes from the persona;
// Action, Error, User and Token change per request.
type loginData struct {
	Title, Footer                   template.HTML // fixed text that may hold entities
	Heading, Subtitle               string
	UserLabel, UserField, PassField string
	Button, TokenName               string
	Font, Background, Accent        template.CSS
	Action, Error, User, Token      string
	Version                         string // the application's release, in asset URLs
}

// render returns the page for a request to path; a non-empty failure shows
// the refused login of user.
func (a *loginApp) render(path, user string, failed bool) []byte {
	d := a.data
	d.Action, d.Token = path, randomHex(16)
	if failed {
		d.Error, d.User = a.failure(user), user
	}
	var buf bytes.Buffer
	if err := a.tmpl.Execute(&buf, d); err != nil {
		panic(err) // templates are fixed and tested: a failure is a bug
	}
	return buf.Bytes()
}

// Choices the generic login draws from, so two installs rarely look alike.
var (
	loginBrands   = []string{"", "Nexus", "Orion", "Atlas", "Vertex", "Helix", "Summit", "Polaris", "Cobalt", "Aurora", "Meridian"}
	loginProducts = []string{"Web Management Console", "Administration Portal", "Remote Access Manager", "Control Panel",
		"Device Manager", "Backup Server", "Monitoring Dashboard", "Intranet Admin", "Storage Manager", "Operations Center"}
	loginFonts   = []string{"Arial, Helvetica, sans-serif", "Tahoma, Verdana, sans-serif", `"Segoe UI", Roboto, sans-serif`, "Verdana, Geneva, sans-serif"}
	loginAccents = []string{"#1f6fb2", "#2e7d32", "#c62828", "#6a1b9a", "#00838f", "#ef6c00", "#37474f", "#283593"}
	loginBacks   = []string{"#eef1f5", "#f4f4f4", "#e8edf2", "#2b3a4a", "#f0f2f0"}
	userFields   = []string{"username", "user", "login", "uname"}
	passFields   = []string{"password", "pass", "passwd", "pwd"}
	userLabels   = []string{"Username", "User name", "Login", "User"}
	buttons      = []string{"Sign in", "Log in", "Login", "Sign In"}
	tokenNames   = []string{"csrf_token", "_token", "token", "authenticity_token"}
)

func pick[T any](r *mrand.Rand, s []T) T { return s[r.IntN(len(s))] }

// genericLogin is an admin login page whose product, look and field names
// are drawn from the persona.
func genericLogin(p *persona.Persona) *loginApp {
	r := p.Rand("http")
	title := strings.TrimSpace(pick(r, loginBrands) + " " + pick(r, loginProducts))
	year := 2016 + r.IntN(8)
	d := loginData{
		Title: template.HTML(template.HTMLEscapeString(title)), Heading: title,
		Footer:    template.HTML(fmt.Sprintf("&copy; %d&ndash;%d &middot; v%d.%d.%d", year, year+1+r.IntN(3), 1+r.IntN(6), r.IntN(12), r.IntN(30))),
		UserLabel: pick(r, userLabels), UserField: pick(r, userFields), PassField: pick(r, passFields),
		Button: pick(r, buttons), TokenName: pick(r, tokenNames),
		Font: template.CSS(pick(r, loginFonts)), Background: template.CSS(pick(r, loginBacks)), Accent: template.CSS(pick(r, loginAccents)),
	}
	if r.IntN(2) == 0 {
		d.Subtitle = p.Hostname
	}
	return &loginApp{
		paths: []string{"/", "/index.php", "/login", "/login.php", "/admin", "/admin/"},
		tmpl:  template.Must(template.New("login").Parse(genericTemplate)),
		data:  d,
		headers: func() []header {
			return append([]header{{"Set-Cookie", "PHPSESSID=" + phpSessionID() + "; path=/"}}, phpNoCache...)
		},
		failure: func(string) string { return "Invalid username or password" },
	}
}

// wordpressLogin is wp-login.php of the given WordPress release.
func wordpressLogin(p *persona.Persona, version string) *loginApp {
	r := p.Rand("http")
	name := pick(r, []string{"My Blog", "News", "Company Blog", strings.SplitN(p.Hostname, "-", 2)[0]})
	return &loginApp{
		paths: []string{"/wp-login.php"},
		tmpl:  template.Must(template.New("wp").Parse(wordpressTemplate)),
		data: loginData{Title: template.HTML("Log In &lsaquo; " + template.HTMLEscapeString(name) + " &#8212; WordPress"), Heading: name,
			Version: version},
		headers: func() []header {
			return []header{
				{"Expires", "Wed, 11 Jan 1984 05:00:00 GMT"},
				{"Cache-Control", "no-cache, must-revalidate, max-age=0, no-store, private"},
				{"Set-Cookie", "wordpress_test_cookie=WP%20Cookie%20check; path=/"},
				{"X-Frame-Options", "SAMEORIGIN"},
			}
		},
		failure: func(user string) string {
			return "The password you entered for the username " + user + " is incorrect."
		},
	}
}

// phpMyAdminLogin is the cookie-auth login of the given phpMyAdmin release.
func phpMyAdminLogin(_ *persona.Persona, version string) *loginApp {
	return &loginApp{
		paths: []string{"/", "/index.php", "/phpmyadmin/", "/phpmyadmin/index.php"},
		tmpl:  template.Must(template.New("pma").Parse(phpMyAdminTemplate)),
		data:  loginData{Title: "phpMyAdmin", Version: version},
		headers: func() []header {
			return append([]header{{"Set-Cookie", "phpMyAdmin=" + randomHex(16) + "; path=/phpmyadmin/; HttpOnly"}}, phpNoCache...)
		},
		failure: func(user string) string {
			return "mysqli::real_connect(): (HY000/1045): Access denied for user '" + user + "'@'localhost' (using password: YES)"
		},
	}
}

// phpNoCache are the fields PHP's session cache limiter adds.
var phpNoCache = []header{
	{"Expires", "Thu, 19 Nov 1981 08:52:00 GMT"},
	{"Cache-Control", "no-store, no-cache, must-revalidate"},
	{"Pragma", "no-cache"},
}

// phpSessionID is a PHP 7+/8 session id: 26 characters of 0-9a-v.
func phpSessionID() string {
	const alphabet = "0123456789abcdefghijklmnopqrstuv"
	b := make([]byte, 26)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

const genericTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{margin:0;font-family:{{.Font}};background:{{.Background}};color:#333}
.box{width:340px;margin:90px auto;background:#fff;padding:28px 32px;border-radius:4px;box-shadow:0 2px 10px rgba(0,0,0,.15)}
h1{font-size:20px;margin:0 0 4px;color:{{.Accent}}}
.sub{font-size:12px;color:#888;margin-bottom:14px}
label{display:block;font-size:13px;margin:12px 0 4px}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:8px;border:1px solid #bbb;border-radius:3px}
button{margin-top:18px;width:100%;padding:9px;background:{{.Accent}};color:#fff;border:0;border-radius:3px;font-size:14px;cursor:pointer}
.err{background:#fdecea;color:#a94442;border:1px solid #f5c6cb;padding:8px;font-size:13px;margin:10px 0}
.foot{text-align:center;font-size:11px;color:#888;margin-top:16px}
</style>
</head>
<body>
<div class="box">
<h1>{{.Heading}}</h1>
{{if .Subtitle}}<div class="sub">{{.Subtitle}}</div>
{{end}}{{if .Error}}<div class="err">{{.Error}}</div>
{{end}}<form method="post" action="{{.Action}}">
<input type="hidden" name="{{.TokenName}}" value="{{.Token}}">
<label for="u">{{.UserLabel}}</label>
<input type="text" id="u" name="{{.UserField}}" value="{{.User}}" autofocus>
<label for="p">Password</label>
<input type="password" id="p" name="{{.PassField}}">
<button type="submit">{{.Button}}</button>
</form>
<div class="foot">{{.Footer}}</div>
</div>
</body>
</html>
`

const wordpressTemplate = `<!DOCTYPE html>
<html lang="en-US">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>{{.Title}}</title>
<meta name='robots' content='max-image-preview:large, noindex, noarchive' />
<link rel='stylesheet' id='dashicons-css' href='/wp-includes/css/dashicons.min.css?ver={{.Version}}' type='text/css' media='all' />
<link rel='stylesheet' id='buttons-css' href='/wp-includes/css/buttons.min.css?ver={{.Version}}' type='text/css' media='all' />
<link rel='stylesheet' id='forms-css' href='/wp-admin/css/forms.min.css?ver={{.Version}}' type='text/css' media='all' />
<link rel='stylesheet' id='login-css' href='/wp-admin/css/login.min.css?ver={{.Version}}' type='text/css' media='all' />
<meta name='referrer' content='strict-origin-when-cross-origin' />
<meta name="viewport" content="width=device-width, initial-scale=1.0" />
</head>
<body class="login no-js login-action-login wp-core-ui  locale-en-us">
<div id="login">
<h1><a href="https://wordpress.org/">Powered by WordPress</a></h1>
{{if .Error}}<div id="login_error" class="notice notice-error"><strong>Error:</strong> {{.Error}} <a href="/wp-login.php?action=lostpassword">Lost your password?</a><br />
</div>
{{end}}<form name="loginform" id="loginform" action="/wp-login.php" method="post">
<p>
<label for="user_login">Username or Email Address</label>
<input type="text" name="log" id="user_login" class="input" value="{{.User}}" size="20" autocapitalize="off" autocomplete="username" required="required" />
</p>
<div class="user-pass-wrap">
<label for="user_pass">Password</label>
<div class="wp-pwd">
<input type="password" name="pwd" id="user_pass" class="input password-input" value="" size="20" autocomplete="current-password" spellcheck="false" required="required" />
</div>
</div>
<p class="forgetmenot"><input name="rememberme" type="checkbox" id="rememberme" value="forever"  /> <label for="rememberme">Remember Me</label></p>
<p class="submit">
<input type="submit" name="wp-submit" id="wp-submit" class="button button-primary button-large" value="Log In" />
<input type="hidden" name="redirect_to" value="/wp-admin/" />
<input type="hidden" name="testcookie" value="1" />
</p>
</form>
<p id="nav"><a href="/wp-login.php?action=lostpassword">Lost your password?</a></p>
<p id="backtoblog"><a href="/">&larr; Go to {{.Heading}}</a></p>
</div>
</body>
</html>
`

const phpMyAdminTemplate = `<!DOCTYPE HTML>
<html lang="en" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex,nofollow,notranslate">
<meta name="google" content="notranslate">
<link rel="icon" href="favicon.ico" type="image/x-icon">
<title>phpMyAdmin</title>
<link rel="stylesheet" type="text/css" href="./themes/pmahomme/jquery/jquery-ui.css">
<link rel="stylesheet" type="text/css" href="./themes/pmahomme/css/theme.css?v={{.Version}}">
<script data-cfasync="false" type="text/javascript" src="js/vendor/jquery/jquery.min.js?v={{.Version}}"></script>
</head>
<body id="loginform">
<div class="container">
<a href="./url.php?url=https%3A%2F%2Fwww.phpmyadmin.net%2F" target="_blank" rel="noopener noreferrer" class="logo"><img src="./themes/pmahomme/img/logo_right.png" id="imLogo" name="imLogo" alt="phpMyAdmin" border="0"></a>
<h1>Welcome to <bdo dir="ltr" lang="en">phpMyAdmin</bdo></h1>
{{if .Error}}<div class="alert alert-danger" role="alert"><img src="themes/dot.gif" title="" alt="" class="icon ic_s_error"> Cannot log in to the MySQL server</div>
<div class="alert alert-danger" role="alert"><img src="themes/dot.gif" title="" alt="" class="icon ic_s_error"> {{.Error}}</div>
{{end}}<form method="post" id="login_form" action="index.php?route=/" name="login_form" class="disableAjax hide js-show">
<fieldset class="pma-fieldset">
<legend><input type="hidden" name="set_session" value="{{.Token}}">Log in</legend>
<div class="item">
<label for="input_username">Username:</label>
<input type="text" name="pma_username" id="input_username" value="{{.User}}" size="24" class="textfield" autocomplete="username">
</div>
<div class="item">
<label for="input_password">Password:</label>
<input type="password" name="pma_password" id="input_password" value="" size="24" class="textfield" autocomplete="current-password">
</div>
<input type="hidden" name="server" value="1">
</fieldset>
<fieldset class="pma-fieldset tblFooters">
<input class="btn btn-primary" value="Go" type="submit" id="input_go">
<input type="hidden" name="route" value="/">
<input type="hidden" name="token" value="{{.Token}}">
</fieldset>
</form>
</div>
</body>
</html>
`
