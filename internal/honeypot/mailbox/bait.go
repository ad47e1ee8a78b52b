package mailbox

import (
	"fmt"
	"strings"
	"time"
)

// The bait templates. Each draws its details from g, so no two deckies
// share a text; the secrets in them are never valid anywhere.

func itNotice(g *gen, date time.Time) draft {
	it := Address{Name: "IT Service Desk", Mailbox: "servicedesk", Host: g.org.domain}
	day := date.Add(time.Duration(2+g.r.IntN(5)) * 24 * time.Hour)
	what := []string{"the mail server migration", "firewall firmware upgrades", "the storage array upgrade", "patching of the Linux servers"}[g.r.IntN(4)]
	ticket := fmt.Sprintf("CHG%07d", 100000+g.r.IntN(900000))
	return draft{
		date: date, from: it,
		subject: fmt.Sprintf("[%s] Scheduled maintenance on %s", ticket, day.Format("Mon 02 Jan")),
		extra:   [][2]string{{"X-Priority", "3"}},
		body: fmt.Sprintf(`Hello,

Please be aware that %s is scheduled for %s between 22:00 and 02:00.
Services hosted on %s may be unavailable for up to 30 minutes during
this window. No action is needed on your side.

If you notice any problems after the window, open a ticket at
https://helpdesk.%s/ and quote %s.

Regards,
IT Service Desk
%s
`, what, day.Format("Monday, 2 January"), g.p.Hostname, g.org.domain, ticket, g.org.name),
	}
}

func invoice(g *gen, date time.Time) draft {
	v := vendors[g.r.IntN(len(vendors))]
	from := Address{Name: v.name + " Billing", Mailbox: "billing", Host: v.domain}
	no := fmt.Sprintf("INV-%d-%05d", date.Year(), g.r.IntN(100000))
	amount := fmt.Sprintf("%d.%02d", 180+g.r.IntN(9000), g.r.IntN(100))
	due := date.Add(30 * 24 * time.Hour)
	return draft{
		date: date, from: from,
		subject: fmt.Sprintf("Invoice %s from %s", no, v.name),
		body: fmt.Sprintf(`Dear customer,

Your invoice %s for %s is now available.

  Account:      %s
  Amount due:   USD %s
  Due date:     %s

You can view and pay the invoice in the billing portal:
https://billing.%s/invoices/%s

Thank you for your business.
%s Accounts Receivable
`, no, g.org.name, strings.ToUpper(g.token(3, upperLower))+fmt.Sprint(10000+g.r.IntN(90000)), amount,
			due.Format("January 2, 2006"), v.domain, strings.ToLower(no), v.name),
	}
}

func passwordReset(g *gen, date time.Time) draft {
	apps := []struct{ name, host string }{
		{"GitLab", "gitlab." + g.org.domain}, {"Jira", "jira." + g.org.domain},
		{"Grafana", "grafana." + g.org.domain}, {"Nextcloud", "cloud." + g.org.domain},
	}
	a := apps[g.r.IntN(len(apps))]
	from := Address{Name: a.name, Mailbox: "noreply", Host: a.host[strings.IndexByte(a.host, '.')+1:]}
	return draft{
		date: date, from: from,
		subject: "Reset password instructions",
		extra:   [][2]string{{"Auto-Submitted", "auto-generated"}},
		body: fmt.Sprintf(`Hello %s!

Someone, hopefully you, has requested to reset the password for your
%s account on https://%s.

If you did not perform this request, you can safely ignore this email.
Otherwise, click the link below to complete the process.

https://%s/users/password/edit?reset_password_token=%s

Your temporary password is: %s
`, g.firstName(), a.name, a.host, a.host, g.token(20, upperLower+digits), g.password()),
	}
}

func cronMail(g *gen, date time.Time) draft {
	from := Address{Name: "Cron Daemon", Mailbox: "root", Host: g.host()}
	job := []string{"/usr/local/bin/backup.sh", "/opt/scripts/db_dump.sh", "/usr/local/sbin/rotate-certs"}[g.r.IntN(3)]
	db := []string{"app_prod", "crm", "billing", "inventory"}[g.r.IntN(4)]
	return draft{
		date: date, from: from,
		subject: fmt.Sprintf("Cron <root@%s> %s", g.p.ShortHostname(), job),
		extra: [][2]string{
			{"X-Cron-Env", "<SHELL=/bin/sh>"},
			{"X-Cron-Env", "<HOME=/root>"},
			{"X-Cron-Env", "<LOGNAME=root>"},
		},
		body: fmt.Sprintf(`mysqldump: [Warning] Using a password on the command line interface can be insecure.
+ mysqldump -h db01.%s -u backup -p%s --single-transaction %s
+ gzip -9 /var/backups/%s-%s.sql
+ rsync -a /var/backups/ backup@nas.%s:/volume1/backups/%s/
sent %d bytes  received %d bytes  total size %d
`, g.org.domain, g.password(), db, db, date.Format("20060102"), g.org.domain, g.p.ShortHostname(),
			1<<20+g.r.IntN(1<<24), 100+g.r.IntN(900), 1<<28+g.r.IntN(1<<30)),
	}
}

func dbCredentials(g *gen, date time.Time) draft {
	from := g.person()
	env := []string{"staging", "production", "reporting"}[g.r.IntN(3)]
	return draft{
		date: date, from: from,
		subject: fmt.Sprintf("Re: %s DB access", env),
		extra:   [][2]string{{"In-Reply-To", fmt.Sprintf("<%s@%s>", strings.ToLower(g.token(12, upperDigit)), g.org.domain)}},
		body: fmt.Sprintf(`Hi %s,

here is the %s database login you asked for. Please don't share it
outside the team, we'll move it to Vault next quarter.

  host:     pg-%s.%s
  port:     5432
  database: %s
  user:     svc_%s
  password: %s

Cheers,
%s
`, g.firstName(), env, env, g.org.domain, []string{"app", "erp", "analytics"}[g.r.IntN(3)], env, g.password(), from.Name),
	}
}

func allHands(g *gen, date time.Time) draft {
	from := g.person()
	q := (int(date.Month())-1)/3 + 1
	return draft{
		date: date, from: from,
		subject: fmt.Sprintf("Q%d all-hands: agenda and dial-in", q),
		body: fmt.Sprintf(`Hi all,

The Q%d all-hands is on %s at 15:00 in the large meeting room.
Remote folks can join here: https://meet.%s/allhands-q%d

Agenda:
 1. Results and targets
 2. Infrastructure roadmap (new data centre, VPN changes)
 3. Q&A

Thanks,
%s
`, q, date.Add(7*24*time.Hour).Format("Thursday 2 January"), g.org.domain, q, from.Name),
	}
}

func awsKeys(g *gen, date time.Time) draft {
	from := g.person()
	region := []string{"us-east-1", "eu-west-1", "eu-central-1", "us-west-2"}[g.r.IntN(4)]
	return draft{
		date: date, from: from,
		subject: "deploy keys for the S3 bucket",
		body: fmt.Sprintf(`%s,

Created the IAM user for the backup job, keys below. Put them in
~/.aws/credentials on %s and remove this mail afterwards.

[default]
aws_access_key_id = AKIA%s
aws_secret_access_key = %s
region = %s

bucket: s3://%s-backups

%s
`, g.firstName(), g.p.ShortHostname(), g.token(16, upperDigit), g.token(40, upperLower+digits+"/+"), region,
			strings.SplitN(g.org.domain, ".", 2)[0], from.Name),
	}
}

func vpnCredentials(g *gen, date time.Time) draft {
	from := g.person()
	user := g.owner.Mailbox
	return draft{
		date: date, from: from,
		subject: "VPN access",
		extra:   [][2]string{{"Importance", "high"}},
		body: fmt.Sprintf(`Hi %s,

your VPN account is ready. Use the OpenVPN profile from the portal or
connect with these settings:

  gateway:  vpn.%s (UDP 1194)
  username: %s
  password: %s

The password is temporary; please change it at https://vpn.%s/ after
the first login. MFA will be enforced from next month.

Thanks,
%s
IT Operations
`, g.firstName(), g.org.domain, user, g.password(), g.org.domain, from.Name),
	}
}

var (
	orgWords   = []string{"Northwind", "Bluepeak", "Harbor", "Keystone", "Ridgeline", "Summit", "Clearwater", "Ironbridge", "Silverline", "Oakfield", "Redstone", "Granite", "Lakeside", "Brightwave", "Cedar", "Falcon"}
	orgKinds   = []string{"Logistics", "Systems", "Health", "Capital", "Energy", "Labs", "Group", "Solutions", "Foods", "Legal"}
	tlds       = []string{".com", ".com", ".net", ".io", ".co.uk", ".de", ".eu"}
	seasons    = []string{"Spring", "Summer", "Autumn", "Winter", "Welcome", "Company"}
	zones      = []*time.Location{time.FixedZone("", 0), time.FixedZone("", 3600), time.FixedZone("", 7200), time.FixedZone("", -5*3600), time.FixedZone("", -8*3600)}
	vendors    = []struct{ name, domain string }{{"Hetzner", "hetzner.com"}, {"OVHcloud", "ovhcloud.com"}, {"DigiCert", "digicert.com"}, {"Cloudflare", "cloudflare.com"}, {"Atlassian", "atlassian.com"}, {"Zoom", "zoom.us"}}
	firstNames = []string{"Anna", "Ben", "Carla", "David", "Elena", "Frank", "Grace", "Hugo", "Irene", "Jonas", "Karen", "Lukas", "Maria", "Nina", "Oliver", "Paula", "Ravi", "Sara", "Tom", "Vera"}
	lastNames  = []string{"Fischer", "Novak", "Schmidt", "Jensen", "Moreau", "Rossi", "Kowalski", "Brown", "Lindqvist", "Meyer", "Costa", "Walsh", "Becker", "Horvat", "Patel", "Keller"}
)
