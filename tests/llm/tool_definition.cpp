#define CAF_SUITE llm.tool_definition
#include "caf/test/unit_test.hpp"

#include "caflens/llm/llm_errc.hpp"
#include "caflens/llm/tool_definition.hpp"

#include "llm_test_support.hpp"

using namespace caflens::llm;
using nlohmann::json;

CAF_TEST(the schema generated from one definition matches the wire kit) {
  auto kit = read_json(wire_kit_dir() + "/tools.json");
  auto tools = kit_tools();
  CAF_REQUIRE_EQUAL(tools.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    auto& expected = kit["anthropic"][i];
    auto* def = tools.find(expected["name"].get<std::string>());
    CAF_REQUIRE(def != nullptr);
    CAF_CHECK_EQUAL(def->description(), expected["description"]);
    CAF_CHECK_EQUAL(def->input_schema().dump(),
                    expected["input_schema"].dump());
  }
}

CAF_TEST(validation reports every problem with the offending input) {
  auto tools = kit_tools();
  auto* weather = tools.find("get_weather");
  CAF_REQUIRE(weather != nullptr);
  CAF_CHECK(!weather->validate(json{{"location", "SF"}, {"units", "f"}}));
  auto text = weather->problems(json{{"city", "SF"}, {"units", "kelvin"}});
  CAF_MESSAGE(text);
  CAF_CHECK(text.find("missing required argument 'location'") !=
            std::string::npos);
  CAF_CHECK(text.find("unexpected argument 'city'") != std::string::npos);
  CAF_CHECK(text.find("must be one of [c, f], got \"kelvin\"") !=
            std::string::npos);
  CAF_CHECK(!weather->problems(json::array()).empty());
  auto err = weather->validate(json{{"units", "f"}});
  CAF_CHECK_EQUAL(llm_code(err), llm_errc::invalid_argument);
}

CAF_TEST(nested objects arrays and ranges validate) {
  tool_definition notify{
    "send_notification",
    "Report a finding.",
    {tool_parameter::string("severity", "How bad.")
       .one_of({"info", "warning", "critical"}),
     tool_parameter::array("snapshot_ids", "Evidence.",
                           tool_parameter::string("id", "A snapshot id."))
       .min_items(1),
     tool_parameter::integer("count", "How many.").range(0, 10).optional(),
     tool_parameter::object("context", "Where.",
                            {tool_parameter::string("node", "Node name.")})
       .optional()}};
  auto schema = notify.input_schema();
  CAF_CHECK_EQUAL(schema["properties"]["snapshot_ids"]["minItems"], 1);
  CAF_CHECK_EQUAL(schema["properties"]["count"]["maximum"], 10);
  CAF_CHECK_EQUAL(schema["required"], json({"severity", "snapshot_ids"}));
  CAF_CHECK(notify
              .problems(json{{"severity", "info"},
                             {"snapshot_ids", {"s-1"}},
                             {"count", 3},
                             {"context", {{"node", "n1"}}}})
              .empty());
  auto text = notify.problems(json{{"severity", "info"},
                                   {"snapshot_ids", json::array()},
                                   {"count", 11},
                                   {"context", {{"host", "x"}}}});
  CAF_MESSAGE(text);
  CAF_CHECK(text.find("at least 1 item") != std::string::npos);
  CAF_CHECK(text.find("out of range") != std::string::npos);
  CAF_CHECK(text.find("missing required argument 'context.node'") !=
            std::string::npos);
}

CAF_TEST(tool sets reject duplicates and bad names) {
  tool_set tools;
  CAF_CHECK(!tools.add(tool_definition{"think", "Think."}));
  CAF_CHECK(tools.add(tool_definition{"think", "Again."}));
  CAF_CHECK(tools.add(tool_definition{"bad name!", "No."}));
  CAF_CHECK_EQUAL(tools.names(), "think");
}
