// Runs a libFuzzer target over files and directories without libFuzzer, so
// that any compiler can replay the seed corpus (CTest sandbox.fuzz_*_corpus).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    fs::path p{argv[i]};
    if (fs::is_directory(p)) {
      for (auto& entry : fs::recursive_directory_iterator(p))
        if (entry.is_regular_file())
          files.push_back(entry.path());
    } else {
      files.push_back(p);
    }
  }
  size_t n = 0;
  for (auto& file : files) {
    std::ifstream in{file, std::ios::binary};
    std::string data{std::istreambuf_iterator<char>{in},
                     std::istreambuf_iterator<char>{}};
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()),
                           data.size());
    ++n;
  }
  std::printf("replayed %zu inputs\n", n);
  return 0;
}
