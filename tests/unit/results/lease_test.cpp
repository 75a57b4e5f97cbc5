// Leases: exclusive holders across processes, heartbeats, stale takeover by exactly one process.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "results/lease.h"

namespace moe::results {
namespace {
namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("moe_lease_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Makes the lease look silent for an hour (as if its holder died), without sleeping.
void age(const fs::path& dir, const std::string& name) {
  const fs::path p = dir / (name + ".lease");
  struct timespec ts[2];
  clock_gettime(CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= 3600;
  ts[1] = ts[0];
  ASSERT_EQ(utimensat(AT_FDCWD, p.c_str(), ts, 0), 0);
}

TEST(Leases, SecondHolderIsRefusedWhileTheFirstIsLive) {
  const fs::path d = fresh_dir("live");
  Leases a(d, "host:1:a", 60), b(d, "host:2:b", 60);
  EXPECT_TRUE(a.acquire("g.1"));
  EXPECT_TRUE(a.acquire("g.1"));  // re-entrant for its holder
  EXPECT_FALSE(b.acquire("g.1"));
  EXPECT_TRUE(b.held_by_other("g.1"));
  EXPECT_TRUE(b.acquire("g.2"));
  a.release("g.1");
  EXPECT_TRUE(b.acquire("g.1"));
  const auto l = a.list();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].owner, "host:2:b");
  fs::remove_all(d);
}

TEST(Leases, StaleLeaseIsTakenOverAndTheOldHolderLearnsItOnHeartbeat) {
  const fs::path d = fresh_dir("stale");
  Leases a(d, "host:1:a", 60), b(d, "host:2:b", 60);
  ASSERT_TRUE(a.acquire("g.1"));
  age(d, "g.1");
  EXPECT_FALSE(b.held_by_other("g.1"));
  EXPECT_TRUE(b.acquire("g.1"));
  EXPECT_EQ(a.heartbeat(), std::vector<std::string>{"g.1"});
  EXPECT_FALSE(a.holds("g.1"));
  EXPECT_TRUE(b.holds("g.1"));
  EXPECT_TRUE(b.heartbeat().empty());
  a.release("g.1");  // not held any more: must not remove b's lease
  EXPECT_TRUE(a.held_by_other("g.1"));
  fs::remove_all(d);
}

TEST(Leases, HeartbeatKeepsALeaseLive) {
  const fs::path d = fresh_dir("heartbeat");
  Leases a(d, "host:1:a", 60), b(d, "host:2:b", 60);
  ASSERT_TRUE(a.acquire("g.1"));
  age(d, "g.1");
  EXPECT_TRUE(a.heartbeat().empty());
  EXPECT_FALSE(b.acquire("g.1"));
  fs::remove_all(d);
}

TEST(Leases, ExactlyOneOfManyProcessesTakesOverAStaleLease) {
  const fs::path d = fresh_dir("race");
  for (int round = 0; round < 10; ++round) {
    const std::string name = "g.race" + std::to_string(round);
    {
      Leases dead(d, "host:0:dead", 60);
      ASSERT_TRUE(dead.acquire(name));
    }
    age(d, name);
    const int kProcs = 6;
    std::vector<pid_t> kids;
    for (int i = 0; i < kProcs; ++i) {
      pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        Leases me(d, "host:" + std::to_string(100 + i) + ":x", 60);
        _exit(me.acquire(name) ? 0 : 1);
      }
      kids.push_back(pid);
    }
    int winners = 0;
    for (pid_t k : kids) {
      int st = 0;
      waitpid(k, &st, 0);
      ASSERT_TRUE(WIFEXITED(st));
      winners += WEXITSTATUS(st) == 0;
    }
    EXPECT_EQ(winners, 1) << "round " << round;
  }
  fs::remove_all(d);
}

TEST(Leases, LeaseOfAProcessGoneFromThisHostIsFreeWithoutWaiting) {
  const fs::path d = fresh_dir("dead");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int st = 0;
  waitpid(child, &st, 0);  // the holder's pid now names no process
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  Leases dead(d, std::string(host) + ":" + std::to_string(child) + ":x", 3600);
  Leases b(d, "elsewhere:2:b", 3600);
  ASSERT_TRUE(dead.acquire("g.1"));  // live by its age (TTL one hour)
  EXPECT_FALSE(b.held_by_other("g.1"));
  EXPECT_TRUE(b.acquire("g.1"));
  fs::remove_all(d);
}

TEST(Leases, LeaseOfAKilledButUnreapedProcessIsFreeWithoutWaiting) {
  const fs::path d = fresh_dir("zombie");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  // Not reaped yet: the pid still answers kill(pid, 0) but names a zombie.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, id_t(child), &info, WEXITED | WNOWAIT), 0);
  ASSERT_EQ(kill(child, 0), 0);
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  Leases dead(d, std::string(host) + ":" + std::to_string(child) + ":x", 3600);
  Leases b(d, "elsewhere:2:b", 3600);
  ASSERT_TRUE(dead.acquire("g.1"));  // live by its age (TTL one hour)
  const auto all = b.list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].dead);
  EXPECT_TRUE(b.list(true).empty());
  EXPECT_FALSE(b.held_by_other("g.1"));
  EXPECT_TRUE(b.acquire("g.1"));
  int st = 0;
  waitpid(child, &st, 0);
  fs::remove_all(d);
}

TEST(Leases, LeaseOfALiveProcessOfThisHostWaitsForItsTtl) {
  const fs::path d = fresh_dir("live");
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  Leases self(d, std::string(host) + ":" + std::to_string(getpid()) + ":x", 3600);
  Leases b(d, "elsewhere:2:b", 3600);
  ASSERT_TRUE(self.acquire("g.1"));
  EXPECT_TRUE(b.held_by_other("g.1"));
  EXPECT_FALSE(b.acquire("g.1"));
  fs::remove_all(d);
}

// The state a worker killed in the middle of a takeover leaves: the stale lease still names its
// dead holder, and the break file of that generation names the dead breaker.
void leave_breaker_mid_takeover(const fs::path& d, const std::string& breaker_token) {
  const std::string host = [] {
    char h[256] = {};
    gethostname(h, sizeof(h) - 1);
    return std::string(h);
  }();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int st = 0;
  waitpid(child, &st, 0);  // a pid that names no process
  Leases holder(d, host + ":" + std::to_string(child) + ":x", 3600);
  ASSERT_TRUE(holder.acquire("g.1"));
  std::string stale;
  {
    std::ifstream in(d / "g.1.lease");
    std::getline(in, stale);
  }
  // A full takeover makes the generation's break file; then put the state back to just after
  // the breaker created it: the lease is the stale one again, the break file the breaker's.
  Leases taker(d, "elsewhere:3:t", 3600);
  ASSERT_TRUE(taker.acquire("g.1"));
  int breaks = 0;
  for (const auto& e : fs::directory_iterator(d)) {
    const std::string f = e.path().filename().string();
    if (f.rfind("g.1.break.", 0) != 0) continue;
    std::ofstream(e.path()) << breaker_token << "\n";
    ++breaks;
  }
  ASSERT_EQ(breaks, 1);
  std::ofstream(d / "g.1.lease") << stale << "\n";
}

TEST(Leases, ABreakerThatDiedMidTakeoverDoesNotBlockTheLease) {
  const fs::path d = fresh_dir("dead_breaker");
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int st = 0;
  waitpid(child, &st, 0);
  leave_breaker_mid_takeover(d, std::string(host) + ":" + std::to_string(child) + ":y:1");
  Leases c(d, "elsewhere:4:c", 3600);
  EXPECT_TRUE(c.acquire("g.1"));
  fs::remove_all(d);
}

TEST(Leases, ALiveBreakerKeepsItsTakeover) {
  const fs::path d = fresh_dir("live_breaker");
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  leave_breaker_mid_takeover(d, std::string(host) + ":" + std::to_string(getpid()) + ":y:1");
  Leases c(d, "elsewhere:4:c", 3600);
  EXPECT_FALSE(c.acquire("g.1"));
  fs::remove_all(d);
}

TEST(Leases, RemoveAllClearsLeaseAndBreakFiles) {
  const fs::path d = fresh_dir("remove");
  Leases a(d, "host:1:a", 60), b(d, "host:2:b", 60);
  ASSERT_TRUE(a.acquire("g.1"));
  age(d, "g.1");
  ASSERT_TRUE(b.acquire("g.1"));
  b.remove_all("g.1");
  int files = 0;
  for (const auto& e : fs::directory_iterator(d))
    files += e.path().filename().string().rfind("g.1", 0) == 0;
  EXPECT_EQ(files, 0);
  EXPECT_TRUE(a.acquire("g.1"));
  fs::remove_all(d);
}

}  // namespace
}  // namespace moe::results
