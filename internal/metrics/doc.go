// Package metrics keeps berth's Prometheus metrics (client_golang) in a
// registry of its own and serves them in the Prometheus text format. It
// knows nothing of the packages it measures: they report through its
// methods, and figures read at scrape time come from sources its callers
// pass in.
package metrics
