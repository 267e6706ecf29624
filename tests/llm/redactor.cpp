#define CAF_SUITE llm.redactor
#include "caf/test/unit_test.hpp"

#include "caflens/llm/llm_errc.hpp"
#include "caflens/llm/redactor.hpp"

using namespace caflens::llm;
using nlohmann::json;

namespace {

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

CAF_TEST(api keys and bearer tokens are always redacted) {
  redactor red;
  auto out =
    red.redact("key sk-ant-api03-abcdefghijkl, openai "
               "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX and "
               "Authorization: Bearer eyJhbGciOi.payload.sig x-api-key: "
               "hunter22");
  CAF_MESSAGE(out);
  CAF_CHECK(!has(out, "abcdefghijkl"));
  CAF_CHECK(!has(out, "ABCDEFGHIJKLMNOP"));
  CAF_CHECK(!has(out, "eyJhbGciOi"));
  CAF_CHECK(!has(out, "hunter22"));
}

CAF_TEST(names that contain sk- survive) {
  // Actor, host and path names a model must see as they are.
  redactor red;
  for (std::string name :
       {"task-scheduler-worker-01", "disk-writer-7", "risk-gate",
        "ask-bid-spread-monitor-eu-west", "/var/lib/desk-sketches/backup-2",
        "bulk-ingest-desk-srv-12.prod.example.net"}) {
    auto out = red.redact("actor " + name + " is slow");
    CAF_CHECK_EQUAL(out, "actor " + name + " is slow");
  }
  // A key next to punctuation is still a key.
  auto out = red.redact("(sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX) "
                        "key=sk-ant-api03-abcdefghijkl");
  CAF_MESSAGE(out);
  CAF_CHECK(!has(out, "ABCDEFGHIJKLMNOP"));
  CAF_CHECK(!has(out, "abcdefghijkl"));
  CAF_CHECK(has(out, "(["));
}

CAF_TEST(secret keys are redacted in structures and json text) {
  redactor red;
  json doc{{"password", "pw1"},
           {"nested", {{"Token", "tk1"}, {"ok", "visible"}}},
           {"text", R"({"api_key": "ak1", "user": "bob"})"},
           {"escaped", "{\\\"secret\\\":\\\"s3\\\"}"},
           {"plain", "connect with password=pw2 now"}};
  red.redact(doc);
  auto out = doc.dump();
  CAF_MESSAGE(out);
  for (auto s : {"pw1", "tk1", "ak1", "s3", "pw2"})
    CAF_CHECK(!has(out, s));
  CAF_CHECK(has(out, "visible"));
  CAF_CHECK(has(out, "bob"));
  // Counts like max_tokens are not secrets.
  json body{{"max_tokens", 1024}, {"input_tokens", 5}};
  red.redact(body);
  CAF_CHECK_EQUAL(body["max_tokens"], 1024);
}

CAF_TEST(configured keys patterns and literals) {
  redaction_config cfg;
  cfg.keys = {"db_password"};
  cfg.patterns = {"CUST-[0-9]{4}"};
  cfg.literals = {"my-very-own-secret"};
  auto red = redactor::make(cfg);
  CAF_REQUIRE(red);
  auto out =
    red->redact(R"({"db_password": "x1y2"} CUST-1234 my-very-own-secret)");
  CAF_MESSAGE(out);
  CAF_CHECK(!has(out, "x1y2"));
  CAF_CHECK(!has(out, "CUST-1234"));
  CAF_CHECK(!has(out, "my-very-own-secret"));
  CAF_CHECK(!has(red->redact("key ABCD1234XYZ", "ABCD1234XYZ"), "ABCD1234XYZ"));
  cfg.patterns = {"(unclosed"};
  auto bad = redactor::make(cfg);
  CAF_REQUIRE(!bad);
  CAF_CHECK_EQUAL(llm_code(bad.error()), llm_errc::invalid_config);
}
