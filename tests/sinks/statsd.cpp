#define CAF_SUITE sinks.statsd
#include "caf/test/dsl.hpp"

#include <filesystem>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"

#include "caflens/sinks/statsd_sink.hpp"
#include "caflens/telemetry/bus.hpp"

#include "daemon.hpp"

using namespace caf;
using namespace caflens;
using namespace caflens::sinks;
using namespace caflens::test;
namespace tel = caflens::telemetry;
namespace fs = std::filesystem;

namespace {

std::vector<tel::metric_definition> shop_metrics() {
  return {
    tel::metric_definition::counter("shop.orders", {"shop", "order", "done"},
                                    {"region"}),
    tel::metric_definition::sum("shop.revenue", {"shop", "order", "done"},
                                "amount"),
    tel::metric_definition::last_value("shop.stock", {"shop", "stock"},
                                       "units"),
    tel::metric_definition::distribution(
      "shop.checkout", {"shop", "order", "done"}, "ms"),
  };
}

record order(double amount, double ms, std::string region) {
  record r;
  r.event = "shop.order.done";
  r.measurements = {{"amount", amount}, {"ms", ms}};
  r.metadata = {{"region", std::move(region)}};
  return r;
}

/// The largest value collectd's CSV plugin wrote to a file whose name
/// starts with `prefix` (under <dir>/<host>/statsd/), or NaN. Counters only
/// grow; timer aggregates cover one interval each.
double last_csv_value(const fs::path& dir, const std::string& prefix) {
  auto root = dir / "caflens-test" / "statsd";
  std::error_code ec;
  if (!fs::exists(root, ec))
    return std::nan("");
  for (auto& entry : fs::directory_iterator{root, ec}) {
    auto name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0)
      continue;
    std::ifstream in{entry.path()};
    std::string line;
    auto best = std::nan("");
    while (std::getline(in, line)) {
      auto comma = line.find(',');
      if (line.empty() || line[0] == 'e' || comma == std::string::npos)
        continue;
      auto v = std::strtod(line.c_str() + comma + 1, nullptr);
      if (!std::isnan(v) && (std::isnan(best) || v > best))
        best = v;
    }
    return best;
  }
  return std::nan("");
}

} // namespace

CAF_TEST(metrics become StatsD lines) {
  sink_options so;
  so.name = "statsd";
  statsd_options sto;
  sto.port = free_port(SOCK_DGRAM);
  sto.metrics = shop_metrics();
  sto.metrics.push_back(tel::metric_definition::last_value(
    "shop.temp|bad:name", {"shop", "stock"}, "celsius"));
  auto s = statsd_sink::open(so, sto);
  CAF_REQUIRE(s);
  CAF_CHECK_EQUAL((*s)->options().events.size(), 2u);
  auto lines = (*s)->lines(order(12.5, 40, "eu west"));
  CAF_REQUIRE_EQUAL(lines.size(), 3u);
  CAF_CHECK_EQUAL(lines[0], "shop.orders.eu_west:1|c");
  CAF_CHECK_EQUAL(lines[1], "shop.revenue:12.5|c");
  CAF_CHECK_EQUAL(lines[2], "shop.checkout:40|ms");
  record stock;
  stock.event = "shop.stock";
  stock.measurements = {{"units", -4}, {"celsius", 21.5}};
  lines = (*s)->lines(stock);
  CAF_REQUIRE_EQUAL(lines.size(), 3u);
  // A negative gauge is set from zero: "-4|g" alone would subtract.
  CAF_CHECK_EQUAL(lines[0], "shop.stock:0|g");
  CAF_CHECK_EQUAL(lines[1], "shop.stock:-4|g");
  CAF_CHECK_EQUAL(lines[2], "shop.temp_bad_name:21.5|g");
  sto.dogstatsd_tags = true;
  sto.prefix = "app.";
  auto d = statsd_sink::open(so, sto);
  CAF_REQUIRE(d);
  lines = (*d)->lines(order(1, 2, "us,east"));
  CAF_CHECK_EQUAL(lines[0], "app.shop.orders:1|c|#region:us_east");
  // Bad options are errors that say what is wrong.
  statsd_options none;
  auto e1 = statsd_sink::open(so, none);
  CAF_REQUIRE(!e1);
  CAF_CHECK(render_error(e1.error()).find("no metrics") != std::string::npos);
  statsd_options bad_host = sto;
  bad_host.host = "no-such-host.invalid";
  auto e2 = statsd_sink::open(so, bad_host);
  CAF_REQUIRE(!e2);
  CAF_CHECK(render_error(e2.error()).find("cannot resolve no-such-host")
            != std::string::npos);
}

CAF_TEST(a real StatsD daemon receives counters gauges and timers) {
  CAF_REQUIRE(fs::exists("/usr/sbin/collectd")); // scripts/setup.sh
  temp_dir dir;
  auto port = free_port(SOCK_DGRAM);
  auto csv = dir.path / "csv";
  {
    std::ofstream out{dir.path / "collectd.conf"};
    out << "Hostname \"caflens-test\"\nFQDNLookup false\nInterval 1\n"
        << "BaseDir \"" << dir.path.string() << "\"\n"
        << "PIDFile \"" << (dir.path / "collectd.pid").string() << "\"\n"
        << "PluginDir \"/usr/lib/collectd\"\n"
        << "TypesDB \"/usr/share/collectd/types.db\"\n"
        << "LoadPlugin statsd\nLoadPlugin csv\n"
        << "<Plugin statsd>\n  Host \"127.0.0.1\"\n  Port \"" << port
        << "\"\n  TimerCount true\n  TimerSum true\n</Plugin>\n"
        << "<Plugin csv>\n  DataDir \"" << csv.string()
        << "\"\n  StoreRates false\n</Plugin>\n";
  }
  daemon_process collectd{{"/usr/sbin/collectd", "-f", "-C",
                           (dir.path / "collectd.conf").string()},
                          dir.path / "collectd.log"};
  auto ready = eventually([&] {
    return collectd.log().find("Initialization complete")
           != std::string::npos;
  });
  if (!ready)
    CAF_MESSAGE("collectd log:\n" << collectd.log());
  CAF_REQUIRE(ready);
  tel::bus bus; // outlives the sink's actor
  actor_system_config cfg;
  actor_system sys{cfg};
  sink_options so;
  so.name = "statsd";
  so.flush_interval = std::chrono::milliseconds{100};
  statsd_options sto;
  sto.port = port;
  sto.metrics = shop_metrics();
  auto s = statsd_sink::open(so, sto);
  CAF_REQUIRE(s);
  auto a = spawn_sink(sys, *s, bus);
  CAF_REQUIRE(a);
  // 300 orders: more lines than one datagram holds.
  for (int i = 0; i < 300; ++i)
    bus.execute(tel::event_name{"shop", "order", "done"},
                {{"amount", 2.0}, {"ms", static_cast<double>(i % 10 + 1)}},
                {{"region", "eu"}});
  bus.execute(tel::event_name{"shop", "stock"}, {{"units", 42}});
  {
    scoped_actor self{sys};
    self->request(*a, infinite, flush_atom::value)
      .receive([](ok_atom) {}, [&](error& e) { CAF_FAIL(sys.render(e)); });
  }
  auto seen = eventually([&] {
    return last_csv_value(csv, "derive-shop.orders.eu-") == 300
           && last_csv_value(csv, "derive-shop.revenue-") == 600
           && last_csv_value(csv, "gauge-shop.stock-") == 42
           && last_csv_value(csv, "gauge-shop.checkout-count-") == 300;
  });
  if (!seen)
    CAF_MESSAGE("orders " << last_csv_value(csv, "derive-shop.orders.eu-")
                          << " revenue "
                          << last_csv_value(csv, "derive-shop.revenue-")
                          << " stock " << last_csv_value(csv, "gauge-shop.stock-")
                          << " checkouts "
                          << last_csv_value(csv, "gauge-shop.checkout-count-"));
  CAF_CHECK(seen);
  // collectd's timer sum is in seconds: 30 x (1+...+10) ms = 1.65 s.
  auto sum = last_csv_value(csv, "latency-shop.checkout-sum-");
  CAF_CHECK_GREATER(sum, 1.64);
  CAF_CHECK_LESS(sum, 1.66);
  CAF_CHECK_EQUAL((*s)->stats().dropped_export_failed, 0u);
  anon_send_exit(*a, exit_reason::user_shutdown);
}
