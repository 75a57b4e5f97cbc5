#include "sweeps/exec/stop.h"

#include <csignal>

namespace moe::sweeps {

StopFlag& process_stop_flag() {
  static StopFlag f;
  return f;
}

namespace {
extern "C" void on_stop_signal(int sig) {
  process_stop_flag().note_signal(sig);
  process_stop_flag().escalate();
}
}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int s : {SIGUSR1, SIGTERM, SIGINT}) sigaction(s, &sa, nullptr);
}

}  // namespace moe::sweeps
