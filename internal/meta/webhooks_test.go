package meta

import "testing"

func TestWebhookWants(t *testing.T) {
	global := func(events ...string) Webhook { return Webhook{Events: events} }
	team := func(events ...string) Webhook { return Webhook{Project: "team", Events: events} }
	push := Event{Kind: "manifest.push", Repo: "team/app"}
	tagged := Event{Kind: "manifest.push", Repo: "team/app", Tag: "v1"}
	for _, c := range []struct {
		name string
		w    Webhook
		e    Event
		want bool
	}{
		{"push", global(WebhookPush), push, true},
		{"a tagged push is a push", global(WebhookPush), tagged, true},
		{"a tagged push is a tag_create", global(WebhookTagCreate), tagged, true},
		{"an untagged push is no tag_create", global(WebhookTagCreate), push, false},
		{"quota warnings", global(WebhookQuota), Event{Kind: EventQuotaWarning, Repo: "team/app"}, true},
		{"pulls are not pushes", global(WebhookPush), Event{Kind: EventPull, Repo: "team/app"}, false},
		{"all", global(WebhookAll), Event{Kind: "blob.delete", Repo: "x"}, true},
		{"another project's", team(WebhookAll), Event{Kind: "manifest.push", Repo: "teamx/app"}, false},
		{"its project's", team(WebhookTagDelete), Event{Kind: "tag.delete", Repo: "team/a/b"}, true},
		{"a one-component repository is its own project", team(WebhookPush), Event{Kind: "manifest.push", Repo: "team"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.w.Wants(c.e); got != c.want {
				t.Errorf("Wants(%+v) = %v, want %v", c.e, got, c.want)
			}
		})
	}
}
