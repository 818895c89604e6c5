// Package metrics holds recvault's Prometheus metrics: one registry with
// the server's request counters and latencies, the media engine's
// conversions and transcode cache, the audit writer, the sign-in throttle,
// and the Go runtime. The packages that do the work record into it through
// the small functions here, so that none of them imports Prometheus.
//
// No label ever holds a recording id, a user name or a path with an id in
// it: labels are the API, the route pattern, the status, the format, so
// that their number stays small whatever the traffic.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	registry = prometheus.NewRegistry()

	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "recvault_http_requests_total",
		Help: "HTTP requests answered, by API (v1, ameyo, ccgw, web, ops), route pattern and status.",
	}, []string{"api", "route", "status"})
	cut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "recvault_http_responses_cut_total",
		Help: "Responses whose client hung up (or whose connection failed) before the whole body was sent.",
	}, []string{"api", "route"})
	latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "recvault_http_request_duration_seconds",
		Help:    "Time from a request's arrival to its last byte, by API and route pattern (downloads include the transfer).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	}, []string{"api", "route"})
	served = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "recvault_http_response_bytes_total",
		Help: "Response body bytes sent, by API.",
	}, []string{"api"})
	inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "recvault_downloads_in_flight",
		Help: "Recording bodies being sent right now.",
	})
	transcodes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "recvault_transcodes_total",
		Help: "Conversions started, by output format and how: whole (streamed or into the cache) or by-offset (computed from the requested position).",
	}, []string{"format", "mode"})
	transcodeTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "recvault_transcode_duration_seconds",
		Help:    "Time to convert a whole recording, by output format.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 12),
	}, []string{"format"})
	auditCommit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "recvault_audit_commit_seconds",
		Help:    "Time of one durable group commit of audit records.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
	})
	auditRecords = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "recvault_audit_records_total",
		Help: "Audit records committed.",
	})
	auditErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "recvault_audit_commit_failures_total",
		Help: "Audit group commits that failed (their requests failed too).",
	})
	fromFile = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "recvault_download_file_bytes_total",
		Help: "Recording bytes verified and then handed to the connection as ranges of their stored file (sent by sendfile on plain TCP), not copied through the process.",
	})
	signins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "recvault_signin_refusals_total",
		Help: "Refused sign-ins: reason failed (unknown account, wrong password, disabled user) or throttled.",
	}, []string{"reason"})
)

func init() {
	registry.MustRegister(requests, cut, latency, served, inFlight, transcodes, transcodeTime,
		auditCommit, auditRecords, auditErrors, signins, fromFile,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Handler serves the metrics in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry})
}

// Request records one answered request. cutShort says the body was not
// sent whole (the client left, or the connection failed).
func Request(api, route string, status int, bytes int64, d time.Duration, cutShort bool) {
	rs := seriesOf(routeKey{api, route, status})
	rs.requests.Inc()
	rs.latency.Observe(d.Seconds())
	if bytes > 0 {
		rs.served.Add(float64(bytes))
	}
	if cutShort {
		cut.WithLabelValues(api, route).Inc() // rare: no series until one is cut
	}
}

// routeKey names one route's series: its labels.
type routeKey struct {
	api, route string
	status     int
}

// routeSeries are the series Request adds to for one routeKey.
type routeSeries struct {
	requests, served prometheus.Counter
	latency          prometheus.Observer
}

// routes keeps each routeKey's series (routeKey → *routeSeries), found
// once: WithLabelValues formats the status, hashes the labels and takes
// the vector's lock on every call, three times a request. The keys are as
// few as the series (labels are patterns and statuses, never ids), and a
// series, once made, stays in its vector for the process's life (none is
// ever deleted), so a kept one is always the vector's own.
var routes sync.Map

func seriesOf(k routeKey) *routeSeries {
	if rs, ok := routes.Load(k); ok {
		return rs.(*routeSeries)
	}
	rs := &routeSeries{
		requests: requests.WithLabelValues(k.api, k.route, strconv.Itoa(k.status)),
		served:   served.WithLabelValues(k.api),
		latency:  latency.WithLabelValues(k.api, k.route),
	}
	got, _ := routes.LoadOrStore(k, rs)
	return got.(*routeSeries)
}

// DownloadStarted counts a recording body being sent; call DownloadEnded
// once when it ends. (A pair of calls rather than a returned function: the
// function and its guard were two allocations a download.)
func DownloadStarted() { inFlight.Inc() }

// DownloadEnded counts the end of a body DownloadStarted counted.
func DownloadEnded() { inFlight.Dec() }

// SentFromFile counts n recording bytes handed to the connection as a
// range of their file.
func SentFromFile(n int64) { fromFile.Add(float64(n)) }

// Transcode counts a conversion to format; mode is "whole" or "by-offset".
func Transcode(format, mode string) { transcodes.WithLabelValues(format, mode).Inc() }

// TranscodeDone records how long a whole conversion to format took.
func TranscodeDone(format string, d time.Duration) {
	transcodeTime.WithLabelValues(format).Observe(d.Seconds())
}

// AuditCommit records one group commit of n records.
func AuditCommit(n int, d time.Duration, err error) {
	auditCommit.Observe(d.Seconds())
	if err != nil {
		auditErrors.Inc()
		return
	}
	auditRecords.Add(float64(n))
}

// SignInRefused counts a refused sign-in; reason is "failed" or "throttled".
func SignInRefused(reason string) { signins.WithLabelValues(reason).Inc() }

// cacheStats reads the transcode cache of this process (SetCacheStats).
var cacheStats atomic.Pointer[func() (bytes int64, outputs int)]

// SetCacheStats names the transcode cache whose size the metrics report
// (the last one opened: a process serves one).
func SetCacheStats(f func() (bytes int64, outputs int)) { cacheStats.Store(&f) }

func readCache() (int64, int) {
	if f := cacheStats.Load(); f != nil {
		return (*f)()
	}
	return 0, 0
}

// mapStats reads the blob store's memory maps (SetMapStats).
var mapStats atomic.Pointer[func() (maps int, bytes int64)]

// SetMapStats names the blob store whose memory maps of recordings (kept
// across downloads, see blob/sealed) the metrics report. Their pages are
// the page cache's, but they count in the process's resident memory.
func SetMapStats(f func() (maps int, bytes int64)) { mapStats.Store(&f) }

func readMaps() (int, int64) {
	if f := mapStats.Load(); f != nil {
		return (*f)()
	}
	return 0, 0
}

func init() {
	registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "recvault_blob_maps",
			Help: "Recording files the blob store holds memory-mapped (kept across downloads, read and checked through them)."},
			func() float64 { n, _ := readMaps(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "recvault_blob_mapped_bytes",
			Help: "Bytes of those mappings (page cache pages, counted in resident memory once read)."},
			func() float64 { _, b := readMaps(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "recvault_transcode_cache_bytes",
			Help: "Bytes of converted outputs the transcode cache holds."},
			func() float64 { b, _ := readCache(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "recvault_transcode_cache_outputs",
			Help: "Converted outputs the transcode cache holds."},
			func() float64 { _, n := readCache(); return float64(n) }))
}

var cacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "recvault_transcode_cache_lookups_total",
	Help: "Transcode cache lookups for an output of unknown size, by result (hit or miss).",
}, []string{"result"})

var auditQueue = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "recvault_audit_queue_depth",
	Help: "Audit records waiting for the next group commit.",
})

func init() { registry.MustRegister(cacheLookups, auditQueue) }

// CacheLookup counts one transcode cache lookup.
func CacheLookup(hit bool) {
	if hit {
		cacheLookups.WithLabelValues("hit").Inc()
	} else {
		cacheLookups.WithLabelValues("miss").Inc()
	}
}

// AuditQueue sets the number of audit records waiting to be committed.
func AuditQueue(n int) { auditQueue.Set(float64(n)) }
