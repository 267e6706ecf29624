// The dashboard's pages and Chart.js, embedded at build time (private).
#pragma once

#include <string>
#include <string_view>

namespace caflens::dashboard {

/// index.html, app.js, app.css or chart.js; empty for any other name.
std::string_view asset(const std::string& name);

} // namespace caflens::dashboard
