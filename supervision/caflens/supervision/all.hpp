// caflens::supervision — OTP-style supervisors for CAF 0.17.
//
// A supervisor starts children from child specs, watches them through links,
// and restarts them per strategy (one_for_one, one_for_all, rest_for_one,
// simple_one_for_one) and restart type (permanent, transient, temporary),
// within OTP's restart intensity (default: at most 1 restart in 5 s; one more
// stops all children right to left and exits with `user_shutdown`). Every
// start, exit, restart, start error and shutdown is a typed report sent to
// subscribers and emitted as `caflens.supervisor.*` telemetry. The behaviour
// is checked against Erlang/OTP's own supervisor by the differential tests in
// tests/supervision.
//
// Example:
//
//   using namespace caflens::supervision;
//   supervisor_flags flags;
//   flags.name = "uploads";
//   flags.strategy = strategy::one_for_all;
//   flags.intensity = 3;
//   auto sup = spawn_supervisor(sys, flags, {
//     worker("db", [](caf::actor_system& sys, const caf::message&) {
//       return sys.spawn(db_impl);
//     }),
//     supervisor_child("pool", pool_flags, pool_children),
//   });
//   self->request(*sup, caf::infinite, which_children{}).then(...);
#pragma once

#include "caflens/supervision/child_spec.hpp"
#include "caflens/supervision/fwd.hpp"
#include "caflens/supervision/messages.hpp"
#include "caflens/supervision/observer.hpp"
#include "caflens/supervision/reason.hpp"
#include "caflens/supervision/reports.hpp"
#include "caflens/supervision/supervision_errc.hpp"
#include "caflens/supervision/supervisor.hpp"
#include "caflens/supervision/tree.hpp"
