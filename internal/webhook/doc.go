// Package webhook delivers the change events of the outbox (meta.Event,
// written in the same transaction as each change) to the notification
// endpoints kept in the metadata store (meta.Webhook).
//
// Each enabled endpoint has a dispatcher that runs on one node of a
// cluster at a time, under a lease named after the endpoint. It reads the
// outbox after the endpoint's cursor, keeps the events the endpoint wants
// (its event types; its project's repositories, or all for a global
// endpoint), and posts them in order: the cursor moves past an event only
// once the receiver answered 2xx, so delivery is at least once and never
// reordered. A failure is retried, with the same events first, after an
// exponential backoff (Options.MinBackoff doubling to Options.MaxBackoff)
// for as long as the endpoint stays enabled. Every attempt is written to
// the endpoint's delivery log.
//
// Two payload formats: the notification envelope registry:2 sends (several
// events per request) and CloudEvents 1.0 in structured JSON mode (one
// event per request). Each request carries X-Berth-Signature:
// sha256=<hex HMAC-SHA256 of the body with the endpoint's secret>, and
// X-Berth-Event and X-Berth-Delivery.
package webhook
