#define CAF_SUITE telemetry.errors
#include "caf/test/unit_test.hpp"

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "caflens/telemetry/telemetry_errc.hpp"

using namespace caflens;
using namespace caflens::telemetry;

CAF_TEST(errors render with category code and context) {
  auto err = make_error(telemetry_errc::not_found, "no handler with id 'x'");
  CAF_CHECK_EQUAL(err.category(), caf::atom("telemetry"));
  CAF_CHECK_EQUAL(err, telemetry_errc::not_found);
  CAF_CHECK_EQUAL(render_error(err),
                  "telemetry: not_found: no handler with id 'x'");
  CAF_CHECK_EQUAL(error_context(err), "no handler with id 'x'");
  CAF_CHECK_EQUAL(render_error(make_error(telemetry_errc::invalid_metric)),
                  "telemetry: invalid_metric");
  CAF_CHECK_EQUAL(render_error(caf::error{}), "none");
}

CAF_TEST(an actor system renders caflens errors after registration) {
  caf::actor_system_config cfg;
  add_error_categories(cfg);
  caf::actor_system sys{cfg};
  auto err = make_error(telemetry_errc::already_exists, "id 'h'");
  CAF_CHECK_EQUAL(sys.render(err), "telemetry: already_exists: id 'h'");
}
