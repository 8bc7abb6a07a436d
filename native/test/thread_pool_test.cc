// Stress test of the kernels' thread pool (native/src/common/thread_pool.cc): every task index runs exactly
// once per parallelFor, whether the workers are spinning or asleep when the call comes (gaps shorter and
// longer than the spin window), none after its call returned (a late worker must not join a closed call), with
// several callers at once (Node worker threads share the pool) and across
// resizes. Exit code 0 when every check passed. Also worth building with -fsanitize=thread (it found workers started
// by a resize taking an old generation for new work).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "common/thread_pool.h"

using p3d::ThreadPool;

namespace {
int failures = 0;

void check(bool ok, const char* what, int a, int b) {
  if (!ok && failures++ < 20) std::fprintf(stderr, "FAIL %s (%d, %d)\n", what, a, b);
}

// One parallelFor of `count` tasks; every index must have run exactly once when it returns.
void runOnce(ThreadPool& pool, int count, std::vector<std::atomic<int>>& hits) {
  for (int i = 0; i < count; ++i) hits[i].store(0, std::memory_order_relaxed);
  pool.parallelFor(count, [&](int i) { hits[i].fetch_add(1, std::memory_order_relaxed); });
  for (int i = 0; i < count; ++i) check(hits[i].load(std::memory_order_relaxed) == 1, "task ran exactly once", count, i);
}
}  // namespace

int main() {
  ThreadPool& pool = ThreadPool::instance();
  std::vector<std::atomic<int>> hits(512);
  unsigned state = 12345;
  auto next = [&] { return (state = state * 1664525u + 1013904223u) >> 8; };
  for (int threads : {1, 2, 3, 8}) {
    pool.setThreadCount(threads);
    check(pool.threadCount() == threads, "thread count", pool.threadCount(), threads);
    const auto start = std::chrono::steady_clock::now();
    for (int call = 0; call < 5000; ++call) runOnce(pool, 1 + static_cast<int>(next() % 300), hits);
    std::printf("  %d threads: %.1f us per call\n", threads,
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / 5000);
    // Gaps longer than the spin window: the workers sleep and must be woken.
    for (int call = 0; call < 40; ++call) {
      std::this_thread::sleep_for(std::chrono::microseconds(call % 2 ? 50 : 1500));
      runOnce(pool, 2 + call, hits);
    }
  }
  // Workers waking around the end of the spin window race the caller, which may have run every task and closed
  // the call already: a task must never run after its parallelFor returned (the stack it writes to is gone).
  pool.setThreadCount(2);
  std::atomic<int> openCall{-1};
  std::atomic<int> lateTasks{0};
  for (int call = 0; call < 400; ++call) {
    std::this_thread::sleep_for(std::chrono::microseconds(150 + static_cast<int>(next() % 400)));
    openCall.store(call);
    pool.parallelFor(1 + static_cast<int>(next() % 3), [&, call](int) {
      if (openCall.load() != call) lateTasks.fetch_add(1);
    });
    openCall.store(-1);
  }
  check(lateTasks.load() == 0, "no task runs after its call returned", lateTasks.load(), 0);
  // Several callers at once: their calls are serialised and each sees its own tasks run once.
  pool.setThreadCount(3);
  std::vector<std::thread> callers;
  std::atomic<int> callerFailures{0};
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      std::vector<std::atomic<int>> own(64);
      for (int call = 0; call < 3000; ++call) {
        const int count = 1 + (call * 7 + c) % 64;
        for (int i = 0; i < count; ++i) own[i].store(0);
        pool.parallelFor(count, [&](int i) { own[i].fetch_add(1); });
        for (int i = 0; i < count; ++i)
          if (own[i].load() != 1) callerFailures.fetch_add(1);
      }
    });
  }
  for (auto& t : callers) t.join();
  check(callerFailures.load() == 0, "concurrent callers", callerFailures.load(), 0);
  pool.setThreadCount(0);
  std::printf("thread pool: %s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
