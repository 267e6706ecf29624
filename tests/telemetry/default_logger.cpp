#define CAF_SUITE telemetry.default_logger
#include "caf/test/unit_test.hpp"

#include <sstream>

#include "caflens/telemetry/bus.hpp"
#include "caflens/telemetry/default_logger.hpp"
#include "caflens/telemetry/telemetry_errc.hpp"

using namespace caflens::telemetry;

CAF_TEST(the default logger writes events at or above its level) {
  bus b;
  std::ostringstream out;
  CAF_REQUIRE(!attach_default_logger(b, log_level::warning, &out));
  CAF_CHECK_EQUAL(attach_default_logger(b, log_level::info, &out),
                  telemetry_errc::already_exists);
  b.execute(event_name{"caflens", "operator", "think"}, {{"system_time", 1}},
            {{"thought", "hmm"}});
  b.execute(event_name{"caflens", "operator", "notification_sent"},
            {{"system_time", 2}}, {{"trace_id", "abc"}});
  b.execute(event_name{"caflens", "llm", "exception"}, {{"duration", 5}},
            {{"reason", "timeout"}});
  auto text = out.str();
  CAF_CHECK(text.find("think") == std::string::npos);
  CAF_CHECK(text.find("[caflens] warning caflens.operator.notification_sent")
            != std::string::npos);
  CAF_CHECK(text.find("\"trace_id\":\"abc\"") != std::string::npos);
  CAF_CHECK(text.find("[caflens] error caflens.llm.exception")
            != std::string::npos);
  CAF_REQUIRE(!detach_default_logger(b));
  CAF_CHECK_EQUAL(detach_default_logger(b), telemetry_errc::not_found);
  out.str("");
  b.execute(event_name{"caflens", "llm", "exception"}, {{"duration", 5}});
  CAF_CHECK(out.str().empty());
}

CAF_TEST(levels follow the event kind) {
  CAF_CHECK(level_of({"caflens", "llm", "stop"}) == log_level::info);
  CAF_CHECK(level_of({"caflens", "operator", "llm_error"}) == log_level::error);
  CAF_CHECK(level_of({"caflens", "supervisor", "child_restarted"})
            == log_level::warning);
  CAF_CHECK(level_of({"caflens", "operator", "wait"}) == log_level::debug);
}
