-- wrk script for bench/load.sh: after wrk's own --latency report, one machine-readable line:
-- MG_RESULT <requests> <duration_us> <p50_us> <p99_us> <socket errors> <non-2xx/3xx responses>
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("MG_RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
