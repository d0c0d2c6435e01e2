// SPDX-License-Identifier: GPL-2.0-or-later
#include "metrics/kensa_collector.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/log.h"
#include "metrics/process_stats.h"

namespace kensa::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr char kPrefix[] = "kensa_";

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = absl::StrCat(kPrefix, name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric ForReactor(int reactor) {
  ClientMetric m;
  m.label.push_back({"reactor", absl::StrCat(reactor)});
  return m;
}

ClientMetric GaugeValue(double value) {
  ClientMetric m;
  m.gauge.value = value;
  return m;
}

}  // namespace

KensaCollector::KensaCollector(MetricSources sources) : sources_(std::move(sources)) {
  if (!sources_.now) sources_.now = [] { return absl::Now(); };
  if (!sources_.resident_memory)
    sources_.resident_memory = [] { return ReadResidentMemoryBytes(); };
}

std::vector<MetricFamily> KensaCollector::Collect() const {
  const absl::Time now = sources_.now();
  std::vector<MetricFamily> out;
  AddCounters(out);
  AddHistograms(out);
  AddGauges(out, now);
  AddSignatures(out, now);
  AddProcess(out);
  return out;
}

void KensaCollector::AddCounters(std::vector<MetricFamily>& out) const {
  const CounterSet* c = sources_.counters;
  if (c == nullptr) return;
  for (int id = 0; id < static_cast<int>(c->size()); ++id) {
    MetricFamily f = Family(c->name(id), c->help(id), MetricType::Counter);
    for (int r = 0; r < c->reactors(); ++r) {
      ClientMetric m = ForReactor(r);
      m.counter.value = static_cast<double>(c->Get(r, id));
      f.metric.push_back(std::move(m));
    }
    out.push_back(std::move(f));
  }
}

void KensaCollector::AddHistograms(std::vector<MetricFamily>& out) const {
  const HistogramSet* h = sources_.histograms;
  if (h == nullptr) return;
  for (int id = 0; id < static_cast<int>(h->size()); ++id) {
    MetricFamily f = Family(h->name(id), h->help(id), MetricType::Histogram);
    const std::vector<double>& bounds = h->bounds(id);
    for (int r = 0; r < h->reactors(); ++r) {
      const HistogramSet::Reading reading = h->Read(r, id);
      ClientMetric m = ForReactor(r);
      // The count is the +Inf bucket, so count and buckets agree even while a reactor writes.
      m.histogram.sample_count = reading.count();
      m.histogram.sample_sum = reading.sum_seconds;
      for (size_t b = 0; b < reading.cumulative.size(); ++b) {
        ClientMetric::Bucket bucket;
        bucket.cumulative_count = reading.cumulative[b];
        bucket.upper_bound =
            b < bounds.size() ? bounds[b] : std::numeric_limits<double>::infinity();
        m.histogram.bucket.push_back(bucket);
      }
      f.metric.push_back(std::move(m));
    }
    out.push_back(std::move(f));
  }
}

void KensaCollector::AddGauges(std::vector<MetricFamily>& out, absl::Time now) const {
  const GaugeSet* g = sources_.gauges;
  if (g == nullptr) return;
  for (int id = 0; id < static_cast<int>(g->size()); ++id) {
    MetricFamily f = Family(g->name(id), g->help(id), MetricType::Gauge);
    for (int r = 0; r < g->reactors(); ++r) {
      const int64_t v = g->Get(r, id);
      ClientMetric m = ForReactor(r);
      if (g->kind(id) == GaugeSet::Kind::kAgeOfTimestamp) {
        m.gauge.value =
            v == 0 ? 0 : std::max(0.0, absl::ToDoubleSeconds(now - absl::FromUnixMicros(v)));
      } else {
        m.gauge.value = static_cast<double>(v);
      }
      f.metric.push_back(std::move(m));
    }
    out.push_back(std::move(f));
  }
}

void KensaCollector::AddSignatures(std::vector<MetricFamily>& out, absl::Time now) const {
  if (!sources_.signatures) return;
  std::optional<SignatureSnapshot> set = sources_.signatures();
  if (!set) return;
  // The info-metric idiom: the version is a label (a string), the value is always 1.
  MetricFamily info =
      Family("signature_info", "the signature set in use (version label)", MetricType::Gauge);
  ClientMetric m = GaugeValue(1);
  m.label.push_back({"version", set->version});
  info.metric.push_back(std::move(m));
  out.push_back(std::move(info));
  MetricFamily age =
      Family("signature_age_seconds",
             "seconds since the signature set in use was loaded and checked", MetricType::Gauge);
  age.metric.push_back(GaugeValue(std::max(0.0, absl::ToDoubleSeconds(now - set->loaded_at))));
  out.push_back(std::move(age));
}

void KensaCollector::AddProcess(std::vector<MetricFamily>& out) const {
  absl::StatusOr<uint64_t> rss = sources_.resident_memory();
  if (rss.ok()) {
    MetricFamily f =
        Family("process_resident_memory_bytes", "resident memory of kensad", MetricType::Gauge);
    f.metric.push_back(GaugeValue(static_cast<double>(*rss)));
    out.push_back(std::move(f));
  } else if (!memory_error_logged_.exchange(true)) {
    KLOG(kWarning, "metrics_resident_memory_unavailable").Kv("error", rss.status());
  }
  MetricFamily start =
      Family("process_start_time_seconds", "when kensad started, in seconds since the Unix epoch",
             MetricType::Gauge);
  start.metric.push_back(
      GaugeValue(absl::ToDoubleSeconds(sources_.process_start - absl::UnixEpoch())));
  out.push_back(std::move(start));
}

}  // namespace kensa::metrics
