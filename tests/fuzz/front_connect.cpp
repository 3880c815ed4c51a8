// Fuzz target: the connect handshake alone. The input is the text of the connect request's
// params, sent in an otherwise well-formed first frame; the first byte picks the peer and the
// auth mode as in front_handshake. After a hello-ok, one health request checks the connection
// really works with what was negotiated.
// Fails: see front_harness.hpp.
#include "front_harness.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  clawgate::fuzz::init_front_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace clawgate::fuzz;
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  World& w = shared_world(static_cast<clawgate::AuthMode>((flags >> 3) % 3));
  const ConnId id = w.open(peer_from(flags));
  if (id == 0) return 0;
  std::string frame = R"({"type":"req","id":"c1","method":"connect","params":)";
  frame.append(reinterpret_cast<const char*>(data + 1), size - 1);
  frame += '}';
  w.deliver(id, std::move(frame));
  if (!w.closed(id)) {
    w.deliver(id, R"({"type":"req","id":"h1","method":"health","params":{}})");
    w.deliver(id, R"({"type":"req","id":"s1","method":"status","params":{}})");
  }
  w.drop(id);
  return 0;
}
