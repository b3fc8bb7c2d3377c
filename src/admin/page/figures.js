// Counts into the figures the page shows: rates over the last poll, shares, and p99 from histogram buckets.

// Per second between two polls; null on the first poll or for a series the previous poll did not have.
export function perSecond(now, before, topology, previous) {
  if (!previous || before === undefined || before === null) return null;
  const dt = topology.time_s - previous.time_s;
  return dt > 0 ? Math.max(0, now - before) / dt : null;
}

export function fmtRate(r) {
  if (r === null) return "–/s";
  return r >= 100 ? `${r.toFixed(0)}/s` : r >= 10 ? `${r.toFixed(1)}/s` : `${r.toFixed(2)}/s`;
}

export function fmtPercent(part, all) {
  return all > 0 ? `${(100 * part / all).toFixed(part === all || part === 0 ? 0 : 1)}%` : "–";
}

// histogram_quantile over the buckets recorded since the last poll (since start on the first one).
export function quantile(q, now, before, bounds) {
  if (!now || !now.buckets.length) return null;
  const diff = now.buckets.map((n, i) => n - (before && before.buckets.length ? before.buckets[i] : 0));
  const total = diff.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < diff.length; i++) {
    if (seen + diff[i] >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1];  // +Inf: the largest bound we know
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * ((rank - seen) / diff[i]);
    }
    seen += diff[i];
  }
  return null;
}

export function fmtSeconds(s) {
  if (s === null) return "p99 –";
  return s < 1 ? `p99 ${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms` : `p99 ${s.toFixed(2)} s`;
}
