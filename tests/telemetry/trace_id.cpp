#define CAF_SUITE telemetry.trace_id
#include "caf/test/unit_test.hpp"

#include <set>
#include <thread>

#include "caflens/telemetry/trace_id.hpp"

using namespace caflens::telemetry;

CAF_TEST(trace ids are 32 lowercase hex characters) {
  auto id = generate_trace_id();
  CAF_CHECK_EQUAL(id.size(), 32u);
  CAF_CHECK(is_trace_id(id));
  CAF_CHECK(!is_trace_id("xyz"));
  CAF_CHECK(!is_trace_id(std::string(32, '0')));
  CAF_CHECK(!is_trace_id(std::string(32, 'A')));
}

CAF_TEST(trace ids do not repeat across threads) {
  std::vector<std::string> a, b;
  std::thread t1{[&] {
    for (int i = 0; i < 20000; ++i)
      a.push_back(generate_trace_id());
  }};
  std::thread t2{[&] {
    for (int i = 0; i < 20000; ++i)
      b.push_back(generate_trace_id());
  }};
  t1.join();
  t2.join();
  std::set<std::string> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  CAF_CHECK_EQUAL(all.size(), 40000u);
}
