#!/usr/bin/env bash
# Re-records scenarios/<name>.trace from Erlang/OTP (needs escript). The
# recorded traces let supervision.differential.recorded run without Erlang;
# supervision.differential.otp always compares against a live OTP run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec escript "$here/otp_driver.escript" "$here/../scenarios" \
  "$here"/../scenarios/*.scn
